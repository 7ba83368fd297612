"""DMARC records (RFC 7489), read as receivers read them, and the organisational domain from
the Public Suffix List.

Sections cited are those of RFC 7489: the record's tags and grammar (6.3, 6.4), policy
discovery (6.6.3), the organisational domain (3.2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from publicsuffixlist import PublicSuffixList

POLICIES = ("none", "quarantine", "reject")
_WSP = "[ \t]*"
_VERSION = re.compile(rf"^v{_WSP}={_WSP}DMARC1{_WSP}(;|$)", re.I)
_MAILTO = re.compile(r"^mailto:([^@\s!,;]+@[^@\s!,;]+\.[^@\s!,;]+)(![0-9]+[kmgt]?)?$", re.I)


@cache
def _suffixes() -> PublicSuffixList:
    # The list ships inside the package (publicsuffixlist): no download, no network.
    return PublicSuffixList()


def organisational_domain(domain: str) -> str:
    """The registered domain: one label more than the longest public suffix (3.2), from the
    Public Suffix List (so `mail.contoso.co.at` belongs to `contoso.co.at`)."""
    name = domain.lower().rstrip(".")
    return _suffixes().privatesuffix(name) or name


def is_dmarc(text: str) -> bool:
    """The record starts with the version tag, whose value `DMARC1` is case-sensitive (6.3,
    6.6.3: a record that does not is discarded)."""
    match = _VERSION.match(text.strip())
    return match is not None and "DMARC1" in text.strip()[: match.end()]


def dmarc_records(txts: Iterable[str]) -> list[str]:
    return [t for t in txts if is_dmarc(t)]


def looks_like_dmarc(text: str) -> bool:
    """A record that was meant to be DMARC but is not one (`v=dmarc1`, `V = DMARC1;` ...)."""
    return text.replace(" ", "").lower().startswith("v=dmarc")


@dataclass(frozen=True)
class DmarcRecord:
    text: str
    tags: dict[str, str]  # lower-case names, values as written
    order: tuple[str, ...]  # tag names in the order they appear
    problems: tuple[str, ...]  # each makes the record or one of its tags unusable
    policy: str | None  # a valid p
    subdomain_policy: str | None  # a valid sp
    pct: int  # 100 unless a valid pct says otherwise
    reports: tuple[str, ...]  # valid mailto: URIs in rua
    invalid_reports: tuple[str, ...]  # rua entries that are not mailto: addresses

    def effective_policy(self, for_subdomain: bool) -> str:
        """What a receiver applies (6.6.3): `sp` for a subdomain when valid, else `p`; a
        record whose p or sp is invalid is treated as p=none when it has a valid rua, and
        not applied at all otherwise (both: no enforcement)."""
        if self.policy is None or ("sp" in self.tags and self.subdomain_policy is None):
            return "none"
        if for_subdomain and self.subdomain_policy:
            return self.subdomain_policy
        return self.policy


def parse(record: str) -> DmarcRecord:
    text = record.strip()
    tags: dict[str, str] = {}
    order: list[str] = []
    problems: list[str] = []
    for part in text.split(";"):
        part = part.strip(" \t")
        if not part:
            continue
        name, equals, value = part.partition("=")
        name, value = name.strip(" \t").lower(), value.strip(" \t")
        if not equals or not re.fullmatch(r"[a-z][a-z0-9]*", name):
            problems.append(f"`{part}` is not a tag=value pair (6.4)")
            continue
        if name in tags:
            problems.append(f"tag {name} appears twice (6.4)")
            continue
        tags[name] = value
        order.append(name)
    if not order or order[0] != "v" or tags.get("v") != "DMARC1":
        problems.append("v=DMARC1 must be the first tag, exactly so (6.3)")

    policy = _choice(tags, "p", POLICIES, problems)
    if "p" not in tags:
        problems.append("no p tag: the record requests no policy (6.3)")
    elif len(order) > 1 and order[1] != "p":
        problems.append(f"p must directly follow v (6.4); here {order[1]} does")
    subdomain_policy = _choice(tags, "sp", POLICIES, problems)
    _choice(tags, "adkim", ("r", "s"), problems)
    _choice(tags, "aspf", ("r", "s"), problems)
    pct = 100
    if "pct" in tags:
        if re.fullmatch(r"[0-9]{1,3}", tags["pct"]) and int(tags["pct"]) <= 100:
            pct = int(tags["pct"])
        else:
            problems.append(f"pct={tags['pct']} is not a number from 0 to 100 (6.3)")
    if "ri" in tags and not re.fullmatch(r"[0-9]+", tags["ri"]):
        problems.append(f"ri={tags['ri']} is not a number of seconds (6.3)")
    reports, invalid = _uris(tags.get("rua"))
    for entry in invalid:
        problems.append(f"rua entry `{entry}` is not a mailto: address (6.2, 6.3)")
    _, invalid_ruf = _uris(tags.get("ruf"))
    for entry in invalid_ruf:
        problems.append(f"ruf entry `{entry}` is not a mailto: address (6.2, 6.3)")
    return DmarcRecord(
        text=text,
        tags=tags,
        order=tuple(order),
        problems=tuple(problems),
        policy=policy,
        subdomain_policy=subdomain_policy,
        pct=pct,
        reports=tuple(reports),
        invalid_reports=tuple(invalid),
    )


def _choice(
    tags: dict[str, str], name: str, allowed: tuple[str, ...], problems: list[str]
) -> str | None:
    if name not in tags:
        return None
    value = tags[name].lower()
    if value in allowed:
        return value
    problems.append(f"{name}={tags[name]} is not one of {', '.join(allowed)} (6.3)")
    return None


def _uris(value: str | None) -> tuple[list[str], list[str]]:
    """The reporting URIs of rua/ruf: mailto: addresses, each with an optional size limit."""
    if value is None:
        return [], []
    good, bad = [], []
    for entry in (e.strip(" \t") for e in value.split(",")):
        if not entry:
            bad.append(entry)
        elif _MAILTO.match(entry):
            good.append(entry)
        else:
            bad.append(entry)
    return good, bad


def dmarc_tags(record: str) -> dict[str, str]:
    return parse(record).tags
