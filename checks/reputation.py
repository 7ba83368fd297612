"""Sending IP reputation: the tenant's relays and smart hosts on DNS blocklists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from auditor.judge import CheckContext, Result, Status, check

SPAMHAUS_ZEN = "zen.spamhaus.org"
_PBL = "ask the owner of the address (the ISP) to delist it, or send through a static address"
_FIX_THEN_DELIST = (
    "find and stop what sends the spam, then request removal on Spamhaus' lookup page"
)
# Spamhaus ZEN return codes: what the listing is, and what to do about it.
ZEN_CODES = {
    "127.0.0.2": ("SBL (spam source)", _FIX_THEN_DELIST),
    "127.0.0.3": ("CSS (snowshoe spam)", _FIX_THEN_DELIST),
    "127.0.0.4": ("XBL (exploited or infected host)", "clean the host, then " + _FIX_THEN_DELIST),
    "127.0.0.5": ("XBL (exploited or infected host)", "clean the host, then " + _FIX_THEN_DELIST),
    "127.0.0.6": ("XBL (exploited or infected host)", "clean the host, then " + _FIX_THEN_DELIST),
    "127.0.0.7": ("XBL (exploited or infected host)", "clean the host, then " + _FIX_THEN_DELIST),
    "127.0.0.9": ("DROP (hijacked network)", "stop using this network for mail"),
    "127.0.0.10": ("PBL (ISP: not meant to send mail directly)", _PBL),
    "127.0.0.11": ("PBL (Spamhaus: not meant to send mail directly)", _PBL),
}
# Answers that mean the query was refused, not that the address is listed.
REFUSALS = {
    "127.255.255.252": "typing error in the blocklist zone name",
    "127.255.255.254": "query through a public or open resolver, which Spamhaus refuses",
    "127.255.255.255": "too many queries (over the free quota): use a Spamhaus DQS key zone",
}


def judge_answer(zone: str, answers: Sequence[str]) -> tuple[list[str], list[str]]:
    """(listings, refusals) in one blocklist answer."""
    listings, refusals = [], []
    for code in answers:
        if code in REFUSALS:
            refusals.append(f"{zone} refused the query ({code}: {REFUSALS[code]})")
        elif zone.endswith(SPAMHAUS_ZEN) or "spamhaus" in zone:
            name, action = ZEN_CODES.get(code, (f"listed ({code})", _FIX_THEN_DELIST))
            listings.append(f"{zone}: {name}: {action}")
        else:
            listings.append(f"{zone}: listed ({code})")
    return listings, refusals


@check(
    id="IP-001",
    slug="sending-ip-blocklisted",
    title="The tenant's relays and smart hosts are not on blocklists",
    severity="high",
    requires=("dns.blocklists",),
    ndr=("5.7.606",),
    remediation="""For each listed address, act on the listing: an SBL, CSS or XBL listing
    means the host sent spam or is compromised, so fix that first and then request removal
    from the blocklist; a PBL listing means the address is not meant to send mail directly,
    so the ISP must delist it or the mail must go out another way. If Microsoft itself
    rejects the tenant's mail with 550 5.7.606-649 (banned sending IP), request delisting at
    Microsoft's delist portal once the cause is fixed. A query refused by the blocklist is
    not a clean result: use a resolver of your own or a Spamhaus DQS zone (--dns-server,
    --dnsbl-zone).""",
)
def sending_ip_blocklisted(ctx: CheckContext) -> Iterator[Result]:
    data = ctx.source("dns.blocklists")
    for entry in data["addresses"]:
        listings, refusals, failures = [], [], []
        for zone, answer in sorted(entry["results"].items()):
            status = answer.get("status")
            if status == "ok":
                found, refused = judge_answer(zone, answer.get("answers") or ())
                listings += found
                refusals += refused
            elif status == "error":
                failures.append(f"{zone} did not answer ({answer.get('error', 'DNS error')})")
        evidence = {"sources": list(entry["sources"]), "results": dict(entry["results"])}
        resource = f"ip:{entry['address']}"
        used_by = "; ".join(entry["sources"])
        if listings:
            yield Result(
                resource,
                Status.FAIL,
                f"listed: {'; '.join(listings)} (used by {used_by})",
                evidence,
            )
        elif refusals or failures:
            yield Result(resource, Status.ERROR, "; ".join(refusals + failures), evidence)
        else:
            zones = ", ".join(sorted(entry["results"]))
            yield Result(
                resource, Status.PASS, f"not listed on {zones} (used by {used_by})", evidence
            )
    for skipped in data.get("skipped") or ():
        resource = f"range:{skipped['entry']}"
        if skipped.get("addresses"):
            yield Result(
                resource,
                Status.PASS,
                f"{skipped['addresses']} addresses on connector {skipped['connector']}, too many "
                "to query one by one: the addresses seen sending from it in message trace "
                "were checked instead",
                dict(skipped),
            )
        else:
            yield Result(
                resource,
                Status.ERROR,
                f"not checked: {skipped.get('reason', 'this kind of entry')} on connector "
                f"{skipped['connector']} (blocklist lookups here cover IPv4 only)",
                dict(skipped),
            )
