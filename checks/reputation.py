"""Sending IP reputation: the tenant's relays and smart hosts on DNS blocklists."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.judge import CheckContext, Result, Status, check
from auditor.mail.dnsbl import judge_answer, zone_distrust


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
