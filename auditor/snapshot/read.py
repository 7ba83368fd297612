"""Reading a snapshot: validated against its schema, frozen so no check can change what the
next one sees."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    data: Any = None  # frozen: Mappings and tuples
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
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def parse(raw: bytes, label: str) -> Snapshot:
    document = jsonio.parse_json(raw, label)
    kinds.require(document, label, "snapshot")
    jsonio.validate(document_validator(), document, label)
    tenant = document["tenant"]
    sources = {
        name: SourceRecord(
            name=name,
            status=entry["status"],
            collected_at=entry["collectedAt"],
            data=freeze(entry.get("data")),
            error=entry.get("error", ""),
            cause=freeze(entry.get("cause")),
        )
        for name, entry in sorted(document["sources"].items())
    }
    return Snapshot(
        label=label,
        sha256=jsonio.sha256(raw),
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
    return parse(jsonio.read_bytes(path), str(path))
