"""Sending IP reputation: the tenant's relays and smart hosts on DNS blocklists."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

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


def zone_distrust(zone: str, tests: Mapping[str, Any] | None) -> str | None:
    """Why a zone's answers cannot be trusted, or None. RFC 5782 section 5: a DNSxL MUST list
    127.0.0.2 and MUST NOT list 127.0.0.1; a resolver that answers NXDOMAIN for every name
    (or a listing for every name) fails one of the two."""
    if tests is None:
        return f"{zone}: its RFC 5782 test entries were not looked up, so its answers prove nothing"
    listed, unlisted = tests.get("listed") or {}, tests.get("unlisted") or {}
    for label, answer in (("127.0.0.2", listed), ("127.0.0.1", unlisted)):
        if answer.get("status") == "error":
            return f"{zone}: the test entry {label} could not be looked up ({answer.get('error')})"
    found, refused = judge_answer(zone, listed.get("answers") or ())
    if listed.get("status") != "ok" or not found:
        detail = "; ".join(refused) or f"answered {listed.get('status')}"
        return (
            f"{zone}: the resolver does not answer blocklist queries truthfully (the test "
            f"entry 127.0.0.2, always listed, {detail}): use --dns-server with a resolver the "
            "blocklist accepts"
        )
    if unlisted.get("status") == "ok" and unlisted.get("answers"):
        return (
            f"{zone}: the resolver answers a listing for 127.0.0.1, which no blocklist lists: "
            "its answers cannot be trusted; use --dns-server"
        )
    return None


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
    tests = data.get("zoneTests")
    distrust = {
        zone: zone_distrust(zone, (tests or {}).get(zone)) for zone in data.get("zones") or ()
    }
    unjudged_via: dict[str, list[str]] = {}  # connector -> its trace senders not judged
    for entry in data["addresses"]:
        listings, refusals, failures = [], [], []
        for zone, answer in sorted(entry["results"].items()):
            reason = distrust.get(zone) or zone_distrust(zone, (tests or {}).get(zone))
            if reason:
                failures.append(reason)
                continue
            status = answer.get("status")
            if status == "ok":
                found, refused = judge_answer(zone, answer.get("answers") or ())
                listings += found
                refusals += refused
            elif status == "error":
                failures.append(f"{zone} did not answer ({answer.get('error', 'DNS error')})")
        evidence = {"sources": list(entry["sources"]), "results": dict(entry["results"])}
        resource = f"ip:{entry['address']}"
        related = tuple(sorted({c for s in entry["sources"] if (c := _connector_of(s))}))
        used_by = "; ".join(entry["sources"])
        if listings:
            yield Result(
                resource,
                Status.FAIL,
                f"listed: {'; '.join(listings)} (used by {used_by})",
                evidence,
                related=related,
            )
        elif refusals or failures:
            for source in entry["sources"]:
                if source.startswith("message trace via "):
                    connector = source.removeprefix("message trace via ")
                    unjudged_via.setdefault(connector, []).append(entry["address"])
            yield Result(
                resource, Status.ERROR, "; ".join(refusals + failures), evidence, related=related
            )
        else:
            zones = ", ".join(sorted(entry["results"]))
            yield Result(
                resource, Status.PASS, f"not listed on {zones} (used by {used_by})", evidence
            )
    for host in data.get("unresolved") or ():
        status = str(host.get("status") or "no answer").upper()
        detail = f": {host['error']}" if host.get("error") else ""
        yield Result(
            f"host:{host['host']}",
            Status.ERROR,
            f"smart host {host['host']} of connector {host['connector']} did not resolve "
            f"({status}{detail}): its addresses were not checked on any blocklist",
            dict(host),
        )
    for skipped in data.get("skipped") or ():
        resource = f"range:{skipped['entry']}"
        unjudged = unjudged_via.get(str(skipped.get("connector")), [])
        untrusted = [reason for reason in distrust.values() if reason]
        if skipped.get("addresses") and untrusted:
            yield Result(
                resource,
                Status.ERROR,
                f"{skipped['addresses']} addresses on connector {skipped['connector']}, to be "
                f"judged through the addresses seen sending from it: {untrusted[0]}",
                dict(skipped),
            )
        elif skipped.get("addresses") and unjudged:
            yield Result(
                resource,
                Status.ERROR,
                f"{skipped['addresses']} addresses on connector {skipped['connector']}, checked "
                "through the addresses seen sending from it, and those could not be judged: "
                f"{', '.join(unjudged)}",
                dict(skipped),
            )
        elif skipped.get("addresses"):
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


def _connector_of(source: str) -> str | None:
    """connector:<name> for what uses an address: "inbound connector X", "message trace via
    X" or "smart host H of X" (the collector's own wording)."""
    for prefix in ("inbound connector ", "message trace via "):
        if source.startswith(prefix):
            return f"connector:{source.removeprefix(prefix)}"
    if source.startswith("smart host ") and " of " in source:
        return f"connector:{source.split(' of ', 1)[1]}"
    return None
