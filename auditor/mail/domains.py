"""Mail addresses and accepted-domain coverage, shared by the collectors and the checks."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def smtp_address(address: str | None) -> tuple[str, str] | None:
    """(the address, its domain), both lower-case, of an SMTP address, with Exchange's
    `SMTP:`/`smtp:` prefix removed. Other proxy types (X500:, SIP:, SPO:) are not mail
    addresses, nor is text without a local part or a domain: None."""
    if not address:
        return None
    value = address.lower().strip()
    if value.startswith("smtp:"):
        value = value[5:]
    elif ":" in value:
        return None
    local, _, domain = value.rpartition("@")
    domain = domain.strip().rstrip(".")
    if not local or not domain:
        return None
    return value, domain


class _Tidy(dict[str, str]):
    """A raw domain's tidy form ('' when nothing is left), worked out once per distinct raw
    domain, not once per address."""

    def __missing__(self, raw: str) -> str:
        tidy = self[raw] = raw.strip().rstrip(".")
        return tidy


@dataclass
class DomainUse:
    users: int = 0  # users with an address in the domain
    examples: list[str] = field(default_factory=list)  # the smallest of those addresses


def users_by_domain(
    users: Iterable[Iterable[str | None]],
    examples_for: Callable[[str], bool] = lambda domain: False,
    keep: int = 3,
) -> dict[str, DomainUse]:
    """For each domain: how many users have an address in it and, where `examples_for` the
    domain, its `keep` smallest distinct addresses (examples that stay the same from one
    collection to the next). Each user's addresses come as one iterable, each read exactly
    as smtp_address reads it (a test holds the two to that), in one pass without a call per
    address. Memory is per domain, whatever the number of users: a set of every address of
    a million users cost a quarter of a gigabyte."""
    use: dict[str, DomainUse] = {}
    last_user: dict[str, int] = {}
    wanted: dict[str, bool] = {}
    tidy = _Tidy()
    for number, addresses in enumerate(users):
        for address in addresses:
            if not address:
                continue
            value = address.lower().strip()
            if value.startswith("smtp:"):
                value = value[5:]
            elif ":" in value:
                continue
            local, _, raw = value.rpartition("@")
            if not local or not raw:
                continue
            domain = tidy[raw]
            if not domain:
                continue
            if last_user.get(domain) != number:
                last_user[domain] = number
                found = use.get(domain)
                if found is None:
                    found = use[domain] = DomainUse()
                    wanted[domain] = examples_for(domain)
                found.users += 1
            if wanted[domain]:
                examples = use[domain].examples
                if value in examples or (len(examples) == keep and value >= examples[-1]):
                    continue
                bisect.insort(examples, value)
                del examples[keep:]
    return use


def address_domain(address: str | None) -> str | None:
    """The domain of an SMTP address (see smtp_address)."""
    found = smtp_address(address)
    return found[1] if found else None


def covering_domain(domain: str, accepted: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The accepted domain (keys lower-case) that covers `domain`: itself, or a parent
    accepted with MatchSubDomains."""
    domain = domain.lower()
    if domain in accepted:
        return domain
    parts = domain.split(".")
    for i in range(1, len(parts) - 1):
        parent = ".".join(parts[i:])
        entry = accepted.get(parent)
        if entry is not None and entry.get("MatchSubDomains"):
            return parent
    return None


def sending_domains(accepted: Iterable[Mapping[str, Any]]) -> list[str]:
    """Accepted domains whose mail authentication the tenant owns (Microsoft runs the
    .onmicrosoft.com ones)."""
    return sorted(
        str(d["DomainName"]).lower()
        for d in accepted
        if not str(d["DomainName"]).lower().endswith(".onmicrosoft.com")
    )
