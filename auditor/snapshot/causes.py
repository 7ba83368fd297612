"""Why a source is missing from a snapshot, said once however many sources it stopped.

Collection records each failed source with its error and, since 1.x, a `cause`: what kind of
failure it was and what to change so that it does not happen again. A source that was not
collected because another failed names that one, so a chain of failures leads back to its
root. Snapshots written before causes were recorded still work: their error text is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from auditor.snapshot.read import SourceRecord

_DEPENDENCY = re.compile(r"^not collected: (\S+) failed$")


@dataclass(frozen=True)
class Cause:
    kind: str  # permission, licence, dependency, deadline, service, data, ... (see the schema)
    summary: str  # what went wrong, without the source's name
    fix: str = ""  # the permission, role, licence or option that makes it work; "" when unknown
    source: str = ""  # for `dependency`: the source this one needed

    @property
    def key(self) -> tuple[str, str]:
        """Failures with the same fix, or with the same text when none is known, are one."""
        return (self.kind, self.fix) if self.fix else (self.kind, self.summary)


def cause_of(record: SourceRecord) -> Cause:
    raw = record.cause
    if raw:
        return Cause(
            kind=str(raw.get("kind", "unknown")),
            summary=str(raw.get("summary", "")) or _text(record),
            fix=str(raw.get("fix", "")),
            source=str(raw.get("source", "")),
        )
    text = _text(record)
    match = _DEPENDENCY.match(text)
    if match:
        return Cause("dependency", text, source=match.group(1))
    return Cause("unknown", text)


def root_of(sources: Mapping[str, SourceRecord], name: str) -> tuple[str, Cause]:
    """The failed source at the end of `name`'s chain of dependencies, and its cause."""
    seen = {name}
    cause = cause_of(sources[name])
    while cause.kind == "dependency":
        upstream = sources.get(cause.source)
        if upstream is None or upstream.ok or cause.source in seen:
            break
        name = cause.source
        seen.add(name)
        cause = cause_of(upstream)
    return name, cause


def _text(record: SourceRecord) -> str:
    prefix = f"{record.name}: "
    error = record.error
    return error[len(prefix) :] if error.startswith(prefix) else error


MISSING = Cause(
    "missing",
    "not in the snapshot",
    fix="collect it: `m365-audit collect` without --check reads every source",
)


@dataclass(frozen=True)
class Group:
    """Failed sources that share one root cause."""

    cause: Cause
    sources: tuple[str, ...]  # those that failed for it and those that waited on them


def grouped(sources: Mapping[str, SourceRecord], names: Iterable[str]) -> list[Group]:
    """The failed (or absent) sources among `names`, one group per root cause, the group that
    stops the most sources first."""
    found: dict[tuple[str, str], tuple[Cause, list[str]]] = {}
    for name in sorted(set(names)):
        record = sources.get(name)
        if record is not None and record.ok:
            continue
        root, cause = (name, MISSING) if record is None else root_of(sources, name)
        _, members = found.setdefault(cause.key, (cause, []))
        for member in (root, name):
            if member not in members:
                members.append(member)
    groups = [Group(cause, tuple(sorted(members))) for cause, members in found.values()]
    return sorted(groups, key=lambda g: (-len(g.sources), g.cause.summary))
