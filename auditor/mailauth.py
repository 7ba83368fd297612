"""SPF and DMARC record parsing, shared by the DNS collector and the AUTH checks (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Mechanisms and modifiers that cost a DNS lookup (RFC 7208 4.6.4).
LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")
# Public suffixes with two labels that the organisational domain must look past. A small,
# common subset: a domain under a suffix not listed here is treated as under a one-label one.
_TWO_LABEL_SUFFIXES = frozenset(
    {
        "co.uk",
        "org.uk",
        "ac.uk",
        "gov.uk",
        "me.uk",
        "ltd.uk",
        "plc.uk",
        "com.au",
        "net.au",
        "org.au",
        "edu.au",
        "gov.au",
        "co.nz",
        "org.nz",
        "co.jp",
        "ne.jp",
        "or.jp",
        "co.za",
        "org.za",
        "co.in",
        "com.br",
        "com.mx",
        "com.cn",
        "com.tr",
        "com.sg",
        "com.hk",
        "co.kr",
        "co.il",
    }
)


def spf_records(txts: Iterable[str]) -> list[str]:
    return [t for t in txts if t.strip().lower().split(" ", 1)[0] == "v=spf1"]


def spf_terms(record: str) -> list[tuple[str, str, str]]:
    """(qualifier, name, value) for each term after v=spf1; modifiers have qualifier '='."""
    terms = []
    for raw in record.split()[1:]:
        if "=" in raw and ":" not in raw.split("=", 1)[0]:
            name, value = raw.split("=", 1)
            terms.append(("=", name.lower(), value))
            continue
        qualifier = raw[0] if raw[0] in "+-~?" else "+"
        body = raw[1:] if raw[0] in "+-~?" else raw
        name, _, value = body.partition(":")
        if "/" in name and not value:
            name = name.split("/", 1)[0]
        terms.append((qualifier, name.lower(), value))
    return terms


def spf_targets(record: str) -> list[str]:
    """Names an SPF record sends the evaluator to: include targets and a redirect."""
    return [
        value.lower().rstrip(".")
        for qualifier, name, value in spf_terms(record)
        if (name == "include" and qualifier != "=") or (name == "redirect" and qualifier == "=")
        if value and "%" not in value  # macros cannot be followed without a sender
    ]


def organisational_domain(domain: str) -> str:
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in _TWO_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def dmarc_tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        if "=" in part:
            key, value = part.split("=", 1)
            tags[key.strip().lower()] = value.strip()
    return tags


def dmarc_records(txts: Iterable[str]) -> list[str]:
    return [t for t in txts if t.replace(" ", "").lower().startswith("v=dmarc1")]


def sending_domains(accepted: Iterable[Mapping[str, Any]]) -> list[str]:
    """Accepted domains whose mail authentication the tenant owns (Microsoft runs the
    .onmicrosoft.com ones)."""
    return sorted(
        str(d["DomainName"]).lower()
        for d in accepted
        if not str(d["DomainName"]).lower().endswith(".onmicrosoft.com")
    )
