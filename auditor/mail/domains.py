"""Mail addresses and accepted-domain coverage, shared by the collectors and the checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def address_domain(address: str | None) -> str | None:
    """The domain of an SMTP address, with Exchange's `SMTP:`/`smtp:` prefix removed. Other
    proxy types (X500:, SIP:, SPO:) are not mail addresses: None."""
    if not address:
        return None
    value = address.strip()
    prefix, sep, rest = value.partition(":")
    if sep:
        if prefix.lower() != "smtp":
            return None
        value = rest
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return None
    return domain.strip().rstrip(".").lower()


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
