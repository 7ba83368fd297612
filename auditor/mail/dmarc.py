"""DMARC records (RFC 7489): which TXT records are DMARC, their tags, the organisational
domain whose record applies when a domain has none."""

from __future__ import annotations

from collections.abc import Iterable

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
