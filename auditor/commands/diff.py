"""`diff`, and `run --previous`: what changed between two runs, in findings (two reports) or
in configuration (two snapshots), so a nightly run can alert on change rather than on the same
old findings."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditor.common import jsonio
from auditor.common.errors import AuditInputError
from auditor.reports.changes import render_text
from auditor.reports.json_report import SCHEMA_ID as REPORT_SCHEMA
from auditor.snapshot import SCHEMA_ID as SNAPSHOT_SCHEMA

_FAILING = {"fail", "error"}
_RECORD_KEYS = ("Name", "DomainName", "PrimarySmtpAddress", "SenderAddress", "Domain", "id")
# Counts that move every day; their changes are noise, not configuration drift.
_VOLATILE = {"exchange.messageTrace"}


def load_document(path: Path) -> dict[str, Any]:
    document = jsonio.parse_json(jsonio.read_bytes(path), str(path))
    kind = document.get("schema") if isinstance(document, dict) else None
    if kind not in (REPORT_SCHEMA, SNAPSHOT_SCHEMA):
        raise AuditInputError.one(
            str(path), "$.schema", "neither an m365-mail-auditor report nor a snapshot"
        )
    return document


def _findings(report: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for check in report.get("checks", []):
        for result in check.get("results", []):
            out[(check["id"], result["resource"])] = {**result, "title": check.get("title", "")}
        if not check.get("results") and check.get("status") == "error":
            out[(check["id"], "")] = {
                "status": "error",
                "message": check.get("reason", ""),
                "severity": check.get("severity"),
                "resource": "",
            }
    return out


def report_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    before, after = _findings(old), _findings(new)
    new_items, resolved, changed = [], [], []
    for key in sorted(set(before) | set(after)):
        was, now = before.get(key), after.get(key)
        was_failing = bool(was) and was["status"] in _FAILING
        now_failing = bool(now) and now["status"] in _FAILING
        entry = {"check": key[0], "resource": key[1]}
        if now_failing and not was_failing:
            new_items.append(
                {
                    **entry,
                    "status": now["status"],
                    "severity": now.get("severity"),
                    "message": now["message"],
                }
            )
        elif was_failing and not now_failing:
            resolved.append(
                {**entry, "status": now["status"] if now else "gone", "message": was["message"]}
            )
        elif was_failing and now_failing and was["message"] != now["message"]:
            changed.append({**entry, "before": was["message"], "after": now["message"]})
    return {
        "kind": "findings",
        "previous": {"startedAt": old.get("startedAt"), "collectedAt": old.get("collectedAt")},
        "new": new_items,
        "resolved": resolved,
        "changed": changed,
    }


def _key(record: Any, index: int) -> str:
    if isinstance(record, Mapping):
        for field in _RECORD_KEYS:
            if record.get(field) is not None:
                return str(record[field]).lower()
    return f"#{index}"


def _records(data: Any) -> dict[str, Any]:
    if isinstance(data, list):
        return {_key(r, i): r for i, r in enumerate(data)}
    if isinstance(data, Mapping):
        return {str(k): v for k, v in data.items()}
    return {"value": data}


def snapshot_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    added, removed, changed = [], [], []
    names = sorted(set(old.get("sources", {})) | set(new.get("sources", {})))
    for name in names:
        if name in _VOLATILE:
            continue
        was = (old.get("sources", {}).get(name) or {}).get("data")
        now = (new.get("sources", {}).get(name) or {}).get("data")
        if was is None or now is None:
            continue  # not collected on one side: nothing to compare
        before, after = _records(was), _records(now)
        for key in sorted(set(before) | set(after)):
            if key not in before:
                added.append({"source": name, "record": key})
            elif key not in after:
                removed.append({"source": name, "record": key})
            elif before[key] != after[key]:
                fields = _field_changes(before[key], after[key])
                changed.append({"source": name, "record": key, "fields": fields})
    return {
        "kind": "configuration",
        "previous": {"collectedAt": old.get("collectedAt")},
        "added": added,
        "removed": removed,
        "changed": changed,
    }


def _field_changes(before: Any, after: Any) -> dict[str, Any]:
    if not (isinstance(before, Mapping) and isinstance(after, Mapping)):
        return {"value": {"before": before, "after": after}}
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def changes(old: Mapping[str, Any], new: Mapping[str, Any], old_label: str) -> dict[str, Any]:
    if old.get("schema") != new.get("schema"):
        raise AuditInputError.one(old_label, "$.schema", "compare two reports or two snapshots")
    if old["schema"] == REPORT_SCHEMA:
        return report_changes(old, new)
    return snapshot_changes(old, new)


def count(diff: Mapping[str, Any]) -> int:
    keys = (
        ("new", "resolved", "changed")
        if diff["kind"] == "findings"
        else ("added", "removed", "changed")
    )
    return sum(len(diff[k]) for k in keys)


def diff(old_path: Path, new_path: Path, fmt: str) -> int:
    """Exit 1 when anything changed, as `diff(1)` does."""
    old, new = load_document(old_path), load_document(new_path)
    found = changes(old, new, str(old_path))
    sys.stdout.write(jsonio.dumps(found) if fmt == "json" else render_text(found))
    return 1 if count(found) else 0
