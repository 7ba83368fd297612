"""DNS sources: what SPF, DKIM and DMARC publish, and blocklist answers for sending IPs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from auditor.collect.collectors import CollectContext
from auditor.collect.dnsquery import Lookup
from auditor.collect.http import ApiError
from auditor.mail.dmarc import organisational_domain
from auditor.mail.domains import sending_domains
from auditor.mail.spf import parse, spf_records

MAX_SPF_NAMES = 40  # far past the 10-lookup limit: enough to prove a record breaks it


def mail_records(lookup: Lookup, domains: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Every answer the AUTH checks need, keyed `TYPE name`: the domain's own TXT and MX
    (which also show whether the resolver sees the domain at all), the DKIM selector CNAMEs,
    DMARC at the domain and at its organisational domain, and for SPF every record an
    evaluation can reach with the lookups its terms make (A/AAAA for `a`, MX for `mx`, A for
    `exists`), so void lookups and MX counts can be judged (RFC 7208 4.6.4)."""
    queries: dict[str, dict[str, Any]] = {}

    def ask(rdtype: str, name: str) -> dict[str, Any]:
        key = f"{rdtype} {name}"
        if key not in queries:
            queries[key] = lookup(name, rdtype)
        return queries[key]

    for domain in domains:
        ask("MX", domain)
        for selector in ("selector1", "selector2"):
            ask("CNAME", f"{selector}._domainkey.{domain}")
        ask("TXT", f"_dmarc.{domain}")
        org = organisational_domain(domain)
        if org != domain:
            ask("TXT", f"_dmarc.{org}")
        pending, seen = [domain], set()
        while pending and len(seen) < MAX_SPF_NAMES:
            name = pending.pop(0)
            if name in seen:
                continue
            seen.add(name)
            answer = ask("TXT", name)
            records = spf_records(answer.get("answers") or ())
            if len(records) != 1:
                continue  # none or several: the check judges that, nothing to follow
            parsed = parse(records[0])
            for term in parsed.evaluated:
                target = (term.target or name).lower().rstrip(".")
                if term.has_macro:
                    continue  # depends on the sender: nothing to look up in advance
                if term.name == "include":
                    pending.append(target)
                elif term.name == "a":
                    ask("A", target)
                    ask("AAAA", target)
                elif term.name == "mx":
                    ask("MX", target)
                elif term.name == "exists":
                    ask("A", target)
            if parsed.redirect is not None and not parsed.redirect.has_macro:
                pending.append(str(parsed.redirect.target).lower().rstrip("."))
    return dict(sorted(queries.items()))


def records(ctx: CollectContext) -> dict[str, Any]:
    dns = ctx.need_dns()
    domains = sending_domains(ctx.dependencies["exchange.acceptedDomains"])
    return {"resolver": dns.label, "queries": mail_records(dns.query, domains)}


def _reverse(address: str) -> str:
    return ".".join(reversed(address.split(".")))


def _bounds(entry: str) -> tuple[int, int, int] | None:
    """(first, last, IP version) of a single address, CIDR or first-last range."""
    try:
        if "-" in entry:
            low, high = (ipaddress.ip_address(p.strip()) for p in entry.split("-", 1))
            if low.version != high.version or low > high:
                return None
            return int(low), int(high), low.version
        network = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None
    return int(network.network_address), int(network.broadcast_address), network.version


def sending_addresses(
    inbound: Iterable[Mapping[str, Any]],
    outbound: Iterable[Mapping[str, Any]],
    trace: Mapping[str, Any],
    lookup: Lookup,
    max_per_range: int,
) -> tuple[dict[str, set[str]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Addresses that send the tenant's mail, with where each came from; the ranges too large
    to expand (their senders seen in message trace are checked instead); and the smart hosts
    whose names did not resolve (their addresses could not be checked)."""
    found: dict[str, set[str]] = {}
    skipped = []
    unresolved = []
    ranges: list[tuple[int, int, str]] = []
    for connector in inbound:
        if connector.get("ConnectorType") != "OnPremises":
            continue
        name = str(connector["Name"])
        for entry in connector.get("SenderIPAddresses") or ():
            bounds = _bounds(str(entry))
            if bounds is None:
                continue  # CONN-002 reports entries that are not addresses
            first, last, version = bounds
            if version != 4:
                skipped.append({"entry": entry, "connector": name, "reason": "IPv6"})
                continue
            ranges.append((first, last, name))
            size = last - first + 1
            if size <= max_per_range:
                # a network's own and broadcast addresses send nothing, except in a /31 or /32
                inner = (first + 1, last - 1) if size > 2 and "/" in str(entry) else (first, last)
                for number in range(inner[0], inner[1] + 1):
                    found.setdefault(str(ipaddress.IPv4Address(number)), set()).add(
                        f"inbound connector {name}"
                    )
            else:
                skipped.append({"entry": entry, "connector": name, "addresses": size})
    for row in trace.get("Aggregates") or ():
        ip = row.get("FromIP")
        if not ip or not row.get("Outbound"):
            continue
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            continue
        for first, last, name in ranges:
            if address.version == 4 and first <= int(address) <= last:
                found.setdefault(str(address), set()).add(f"message trace via {name}")
    for connector in outbound:
        if not connector.get("Enabled"):
            continue
        for host in connector.get("SmartHosts") or ():
            label = f"smart host {host} of {connector['Name']}"
            try:
                found.setdefault(str(ipaddress.IPv4Address(host)), set()).add(label)
                continue
            except ValueError:
                pass
            answer = lookup(str(host), "A")
            if answer.get("status") != "ok" or not answer.get("answers"):
                unresolved.append(
                    {
                        "host": str(host),
                        "connector": str(connector["Name"]),
                        "status": answer.get("status"),
                        "error": answer.get("error", ""),
                    }
                )
            for address in answer.get("answers") or ():
                found.setdefault(address, set()).add(label)
    return found, skipped, unresolved


# RFC 5782 section 5: an IPv4 DNSxL MUST list 127.0.0.2 and MUST NOT list 127.0.0.1. A
# resolver that answers NXDOMAIN to everything fails the first; one that answers every name
# fails the second. Either way, its answers about real addresses mean nothing.
TEST_LISTED = "127.0.0.2"
TEST_UNLISTED = "127.0.0.1"


def zone_tests(lookup: Lookup, zones: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {
        zone: {
            "listed": lookup(f"{_reverse(TEST_LISTED)}.{zone}", "A"),
            "unlisted": lookup(f"{_reverse(TEST_UNLISTED)}.{zone}", "A"),
        }
        for zone in zones
    }


def blocklists(ctx: CollectContext) -> dict[str, Any]:
    dns = ctx.need_dns()
    found, skipped, unresolved = sending_addresses(
        ctx.dependencies["exchange.inboundConnectors"],
        ctx.dependencies["exchange.outboundConnectors"],
        ctx.dependencies["exchange.messageTrace"],
        dns.query,
        ctx.dnsbl_max_addresses,
    )
    if not ctx.dnsbl_zones:
        raise ApiError(None, "no blocklist zone configured")
    addresses = [
        {
            "address": address,
            "sources": sorted(found[address]),
            "results": {
                zone: dns.query(f"{_reverse(address)}.{zone}", "A") for zone in ctx.dnsbl_zones
            },
        }
        for address in sorted(found, key=lambda a: ipaddress.ip_address(a))
    ]
    return {
        "resolver": dns.label,
        "zones": list(ctx.dnsbl_zones),
        "zoneTests": zone_tests(dns.query, ctx.dnsbl_zones),
        "maxAddressesPerRange": ctx.dnsbl_max_addresses,
        "addresses": addresses,
        "skipped": skipped,
        "unresolved": unresolved,
    }
