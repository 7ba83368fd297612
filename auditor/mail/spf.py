"""SPF records (RFC 7208): which TXT records are SPF, their terms, the names they send an
evaluator to."""

from __future__ import annotations

from collections.abc import Iterable

# Mechanisms and modifiers that cost a DNS lookup (RFC 7208 4.6.4).
LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")


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
