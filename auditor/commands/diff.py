"""`diff`, and `run --previous`: what changed between two runs, in findings (two reports) or
in configuration (two snapshots), so a nightly run can alert on change rather than on the same
old findings."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from auditor.common import jsonio
from auditor.common.errors import AuditInputError
from auditor.reports.changes import render_text
from auditor.reports.json_report import SCHEMA_ID as REPORT_SCHEMA
from auditor.reports.json_report import SCHEMA_PATH as REPORT_SCHEMA_PATH
from auditor.reports.json_report import SCHEMA_VERSION as REPORT_VERSION
from auditor.snapshot import SCHEMA_ID as SNAPSHOT_SCHEMA
from auditor.snapshot.format import document_validator

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
    # A document of this version must have the shape its schema gives: a damaged one is named
    # by its JSON path here, not met as a KeyError halfway through the comparison.
    if kind == SNAPSHOT_SCHEMA:
        jsonio.validate(document_validator(), document, str(path))
    elif document.get("schemaVersion") == REPORT_VERSION:
        jsonio.validate(_report_validator(), document, str(path))
    return document


@cache
def _report_validator() -> jsonio.Validator:
    return jsonio.load_schema(REPORT_SCHEMA_PATH)


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


def _why_unjudged(report: Mapping[str, Any], check_id: str, now: Mapping[str, Any] | None) -> str:
    """Why `report` says nothing new of a finding of `check_id`, or "" when it judged it."""
    check = next((c for c in report.get("checks", []) if c.get("id") == check_id), None)
    if check is None:
        if check_id in report.get("disabledChecks", []):
            return f"{check_id} is disabled by the baseline"
        return f"{check_id} did not run"
    if check.get("status") == "error" and not check.get("results"):
        return f"{check_id} could not judge: {check.get('reason', '')}".rstrip(": ")
    if now is not None and now.get("status") == "error":
        return f"could not be judged: {now.get('message', '')}"
    return ""


def report_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], rejudged: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Findings new, resolved, changed; `unknown` where the new run did not judge a finding
    (still open, not re-confirmed, never resolved); `approved` where a finding went away
    because the baseline changed. `rejudged` is the new snapshot judged against the old
    baseline, when that is known: what still fails there was approved, not fixed."""
    before, after = _findings(old), _findings(new)
    again = _findings(rejudged) if rejudged is not None else None
    old_baseline = (old.get("baseline") or {}).get("sha256")
    new_baseline = (new.get("baseline") or {}).get("sha256")
    baseline_changed = bool(old_baseline and new_baseline and old_baseline != new_baseline)
    same_snapshot = (old.get("snapshot") or {}).get("sha256") == (new.get("snapshot") or {}).get(
        "sha256"
    )
    new_items, resolved, changed, unknown, approved = [], [], [], [], []
    for key in sorted(set(before) | set(after)):
        was, now = before.get(key), after.get(key)
        was_status = was["status"] if was else None
        now_status = now["status"] if now else None
        entry = {"check": key[0], "resource": key[1]}
        if was_status == "fail":
            why = _why_unjudged(new, key[0], now)
            if why:
                unknown.append({**entry, "message": was["message"], "why": why})
            elif now_status == "fail":
                if was["message"] != now["message"]:
                    changed.append({**entry, "before": was["message"], "after": now["message"]})
            elif now_status == "waived" or (
                baseline_changed
                and (
                    again.get(key, {}).get("status") == "fail"
                    if again is not None
                    else same_snapshot
                )
            ):
                how = "waived" if now_status == "waived" else "approved"
                approved.append(
                    {**entry, "status": now_status or "gone", "message": was["message"], "how": how}
                )
            else:
                item = {**entry, "status": now_status or "gone", "message": was["message"]}
                if baseline_changed and again is None:
                    item["note"] = "the baseline changed too: this may be its approval"
                resolved.append(item)
        elif was_status == "error":
            why = _why_unjudged(new, key[0], None) if now is None else ""
            if why:
                unknown.append({**entry, "message": was["message"], "why": why})
            elif now_status in _FAILING:
                if now and was["message"] != now["message"]:
                    changed.append({**entry, "before": was["message"], "after": now["message"]})
            else:
                resolved.append(
                    {**entry, "status": now_status or "gone", "message": was["message"]}
                )
        elif now_status in _FAILING and now is not None:
            new_items.append(
                {
                    **entry,
                    "status": now_status,
                    "severity": now.get("severity"),
                    "message": now["message"],
                }
            )
    return {
        "kind": "findings",
        "previous": {"startedAt": old.get("startedAt"), "collectedAt": old.get("collectedAt")},
        "baseline": {
            "changed": baseline_changed,
            **({"before": old_baseline, "after": new_baseline} if baseline_changed else {}),
        },
        "new": new_items,
        "resolved": resolved,
        "changed": changed,
        "unknown": unknown,
        "approved": approved,
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


def changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_label: str,
    rejudged: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    if old.get("schema") != new.get("schema"):
        raise AuditInputError.one(old_label, "$.schema", "compare two reports or two snapshots")
    old_tenant = str((old.get("tenant") or {}).get("id", ""))
    new_tenant = str((new.get("tenant") or {}).get("id", ""))
    if old_tenant.lower() != new_tenant.lower():
        raise AuditInputError.one(
            old_label,
            "$.tenant.id",
            f"is of tenant {old_tenant or '(none)'}, not {new_tenant or '(none)'}: "
            "compare two runs of one tenant",
        )
    try:
        if old["schema"] == REPORT_SCHEMA:
            return report_changes(old, new, rejudged)
        return snapshot_changes(old, new)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # A report of another version that lacks what this one compares.
        raise AuditInputError.one(
            old_label,
            "$",
            f"cannot be compared with this version's documents ({type(exc).__name__}: "
            f"{str(exc)[:80]})",
        ) from None


FINDING_KINDS = ("new", "resolved", "approved", "unknown", "changed")


def count(diff: Mapping[str, Any]) -> int:
    keys = FINDING_KINDS if diff["kind"] == "findings" else ("added", "removed", "changed")
    return sum(len(diff.get(k, ())) for k in keys)


def diff(old_path: Path, new_path: Path, fmt: str) -> int:
    """Exit 1 when anything changed, as `diff(1)` does."""
    old, new = load_document(old_path), load_document(new_path)
    found = changes(old, new, str(old_path))
    sys.stdout.write(jsonio.dumps(found) if fmt == "json" else render_text(found))
    return 1 if count(found) else 0
