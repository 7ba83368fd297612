"""Helpers shared by the mail checks: addresses, accepted-domain matching, connector fields."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from auditor.mail.domains import covering_domain


def sender_domain_entry(value: str) -> str:
    """`smtp:*;1` -> `*`, `smtp:contoso.com;1` -> `contoso.com`: address space and priority
    are Exchange's encoding, the domain is what matters."""
    entry = value.strip()
    if entry.lower().startswith("smtp:"):
        entry = entry[5:]
    entry = entry.split(";", 1)[0]
    return entry.strip().lower()


def sender_domains(connector: Mapping[str, Any]) -> list[str]:
    return sorted({sender_domain_entry(v) for v in connector.get("SenderDomains") or ()})


def is_wildcard(domain: str) -> bool:
    return domain in ("*", "*.*")


@dataclass(frozen=True)
class IpEntry:
    text: str
    first: ipaddress.IPv4Address | ipaddress.IPv6Address
    last: ipaddress.IPv4Address | ipaddress.IPv6Address

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1

    def contains(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return ip.version == self.first.version and self.first <= ip <= self.last


def parse_ip_entry(text: str) -> IpEntry:
    """Exchange accepts a single address, CIDR, or a `first-last` range. Raises ValueError."""
    value = text.strip()
    if "-" in value:
        low, high = (ipaddress.ip_address(p.strip()) for p in value.split("-", 1))
        if low.version != high.version or low > high:
            raise ValueError(f"{text!r} is not a valid address range")
        return IpEntry(text, low, high)
    network = ipaddress.ip_network(value, strict=False)
    return IpEntry(text, network.network_address, network.broadcast_address)


def normalise_ip_entry(text: str) -> str:
    """Canonical text for comparing a baseline's ranges with the tenant's."""
    try:
        if "-" in text:
            entry = parse_ip_entry(text)
            return f"{entry.first}-{entry.last}"
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        return text.strip().lower()


def connector_entries(connector: Mapping[str, Any]) -> tuple[list[IpEntry], list[str]]:
    """Parsed SenderIPAddresses, and the entries that could not be parsed."""
    parsed, bad = [], []
    for text in connector.get("SenderIPAddresses") or ():
        try:
            parsed.append(parse_ip_entry(text))
        except ValueError:
            bad.append(text)
    return parsed, bad


@dataclass(frozen=True)
class DomainStanding:
    """Whether mail may leave Exchange Online from a domain, and why not."""

    domain: str
    accepted_as: str | None  # the accepted domain that covers it
    registered: bool
    reason: str


class DomainIndex:
    """Accepted domains (Exchange) joined with verification and services (Entra ID)."""

    def __init__(self, accepted: Iterable[Mapping[str, Any]], graph: Iterable[Mapping[str, Any]]):
        self.accepted = {str(d["DomainName"]).lower(): d for d in accepted}
        self.graph = {str(d["id"]).lower(): d for d in graph}

    def covering(self, domain: str) -> str | None:
        return covering_domain(domain, self.accepted)

    def verification_problem(self, name: str) -> str | None:
        """Why Entra ID does not back this accepted domain for email, or None."""
        entry = self.graph.get(name)
        if entry is None:
            return "not found in Entra ID (Graph /domains)"
        if not entry.get("isVerified"):
            return "not verified in Entra ID"
        if "Email" not in (entry.get("supportedServices") or ()):
            return "verified, but Email is not among its supported services in Entra ID"
        return None

    def standing(self, domain: str) -> DomainStanding:
        covering = self.covering(domain)
        if covering is None:
            return DomainStanding(domain, None, False, "not an accepted domain")
        problem = self.verification_problem(covering)
        via = "" if covering == domain else f" (through {covering} with MatchSubDomains)"
        if problem:
            return DomainStanding(domain, covering, False, f"accepted{via} but {problem}")
        if self.accepted[covering].get("SendingFromDomainDisabled"):
            return DomainStanding(
                domain, covering, False, f"accepted{via} but SendingFromDomainDisabled is set"
            )
        return DomainStanding(domain, covering, True, f"accepted{via} and verified")


def plural(count: int, word: str) -> str:
    if count == 1:
        return f"{count:,} {word}"
    if word.endswith(("s", "x", "ch", "sh")):
        return f"{count:,} {word}es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return f"{count:,} {word[:-1]}ies"
    return f"{count:,} {word}s"
