"""Reading a snapshot: validated against its schema. The data is handed to the checks as read
(plain dicts and lists): checks are pure by contract, and a test runs every check on the demo
snapshot and fails if one changes it (tests/unit/test_engine.py). Freezing it deeply cost
more than the judging itself on a large tenant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from auditor.common import jsonio, kinds
from auditor.common.timeutil import parse_time
from auditor.snapshot.format import document_validator


@dataclass(frozen=True)
class Tenant:
    id: str
    display_name: str = ""
    default_domain: str = ""


@dataclass(frozen=True)
class SourceRecord:
    name: str
    status: str  # ok | error
    collected_at: str
    data: Any = None  # as read: checks must not change it
    error: str = ""
    cause: Mapping[str, Any] | None = None  # for an error: its kind and fix (snapshot.causes)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Snapshot:
    label: str  # the file it came from, for messages
    sha256: str
    tenant: Tenant
    collected_at: datetime
    tool_version: str
    sources: Mapping[str, SourceRecord]
    # Read-only views of sources, made once, for checks from outside the project (plugins).
    _frozen: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def frozen(self, name: str) -> Any:
        if name not in self._frozen:
            self._frozen[name] = freeze(self.sources[name].data)
        return self._frozen[name]


def freeze(value: Any) -> Any:
    """Deep read-only view, so a check cannot change what the next check sees."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [thaw(v) for v in value]
    return value


def parse(raw: bytes, label: str) -> Snapshot:
    return from_document(jsonio.parse_json(raw, label), label, jsonio.sha256(raw))


def parse_parts(parts: Sequence[str], label: str) -> Snapshot:
    """A snapshot's text in the pieces a collection holds (`Collection.parts`), parsed a
    slice at a time: never joined, so a live run does not hold its text twice."""
    return from_document(jsonio.parse_pieces(parts, label), label, jsonio.text_sha256(parts))


def from_document(document: Any, label: str, sha256: str) -> Snapshot:
    """A snapshot document already in memory (`sha256` is its file's), validated."""
    kinds.require(document, label, "snapshot")
    jsonio.validate(document_validator(), document, label)
    tenant = document["tenant"]
    sources = {
        name: SourceRecord(
            name=name,
            status=entry["status"],
            collected_at=entry["collectedAt"],
            data=entry.get("data"),
            error=entry.get("error", ""),
            cause=freeze(entry.get("cause")),
        )
        for name, entry in sorted(document["sources"].items())
    }
    return Snapshot(
        label=label,
        sha256=sha256,
        tenant=Tenant(
            id=tenant["id"],
            display_name=tenant.get("displayName", ""),
            default_domain=tenant.get("defaultDomain", ""),
        ),
        collected_at=parse_time(document["collectedAt"]),
        tool_version=document["tool"]["version"],
        sources=MappingProxyType(sources),
    )


def load(path: Path) -> Snapshot:
    """A large file is hashed and parsed a slice at a time (`jsonio.read_large`): its text
    is never in memory beside its objects (a 1M-user snapshot: 813 MB at most, not 1.14 GB)."""
    document, digest = jsonio.read_large(path)
    return from_document(document, str(path), digest)
