"""Which of the tool's documents a JSON file holds, so that a file given to the wrong option is
named for what it is ("this is a baseline, not a snapshot") instead of failing on a list of
schema errors."""

from __future__ import annotations

from typing import Any

from auditor.common.errors import AuditInputError

SNAPSHOT_SCHEMA = "m365-mail-auditor/snapshot"
REPORT_SCHEMA = "m365-mail-auditor/report"

_WHERE = {
    "snapshot": "give it with --snapshot",
    "baseline": "give it with --baseline",
    "report": "give it with --previous, or to `diff`",
}


def kind_of(document: Any) -> str:
    """snapshot, report, baseline, or "" for anything else."""
    if not isinstance(document, dict):
        return ""
    schema = document.get("schema")
    if schema == SNAPSHOT_SCHEMA:
        return "snapshot"
    if schema == REPORT_SCHEMA:
        return "report"
    if "baselineVersion" in document:
        return "baseline"
    return ""


def require(document: Any, label: str, wanted: str) -> None:
    """Refuse, in one line, one of the tool's other documents where `wanted` was expected."""
    found = kind_of(document)
    if found and found != wanted:
        raise AuditInputError.one(label, "$", f"this is a {found}, not a {wanted}: {_WHERE[found]}")
