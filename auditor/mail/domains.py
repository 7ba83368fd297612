"""Mail addresses and accepted-domain coverage, shared by the collectors and the checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def addresses_by_domain(addresses: Iterable[str | None]) -> dict[str, set[str]]:
    """The distinct SMTP addresses among `addresses` by domain, each read exactly as
    smtp_address reads it (a test holds the two to that), in one pass without a call per
    address: it runs over every address of every user, millions in a large tenant. The
    domain is tidied once per distinct raw domain, not once per address."""
    raw: dict[str, set[str]] = {}
    for address in addresses:
        if not address:
            continue
        value = address.lower().strip()
        if value.startswith("smtp:"):
            value = value[5:]
        elif ":" in value:
            continue
        local, _, domain = value.rpartition("@")
        if local and domain:
            found = raw.get(domain)
            if found is None:
                found = raw[domain] = set()
            found.add(value)
    by_domain: dict[str, set[str]] = {}
    for domain, found in raw.items():
        tidy = domain.strip().rstrip(".")
        if tidy in by_domain:
            by_domain[tidy] |= found
        elif tidy:
            by_domain[tidy] = found
    return by_domain


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
