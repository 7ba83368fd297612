"""Mail addresses and accepted-domain coverage, shared by the collectors and the checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def smtp_address(address: str | None) -> tuple[str, str] | None:
    """(the address, its domain), both lower-case, of an SMTP address, with Exchange's
    `SMTP:`/`smtp:` prefix removed. Other proxy types (X500:, SIP:, SPO:) are not mail
    addresses: None. One pass: it runs for every address of every user."""
    if not address:
        return None
    value = address.strip()
    colon = value.find(":")
    if colon != -1:
        if value[:colon].lower() != "smtp":
            return None
        value = value[colon + 1 :]
    at = value.rfind("@")
    if at <= 0 or at == len(value) - 1:
        return None
    return value.lower(), value[at + 1 :].strip().rstrip(".").lower()


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
