"""The versioned JSON report: the contract SIEMs and scripts build on.

Change it only compatibly: add fields and bump the minor version; never rename or remove.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.common.jsonio import dumps
from auditor.common.kinds import REPORT_SCHEMA
from auditor.judge.model import AuditResult, CheckOutcome, Result, Status

SCHEMA_ID = REPORT_SCHEMA
SCHEMA_VERSION = "1.2"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "report.schema.json"


def _counts(statuses: list[Status]) -> dict[str, int]:
    return {"total": len(statuses), **{s.value: statuses.count(s) for s in Status}}


def result_dict(outcome: CheckOutcome, result: Result) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": result.resource,
        "status": result.status.value,
        "severity": outcome.result_severity(result).value,
        "message": result.message,
        "evidence": result.evidence,
    }
    if result.waiver is not None:
        entry["waiver"] = {"reason": result.waiver.reason, "expires": result.waiver.expires}
    if result.related:
        entry["related"] = list(result.related)
    return entry


def check_dict(outcome: CheckOutcome) -> dict[str, Any]:
    spec = outcome.spec
    entry: dict[str, Any] = {
        "id": spec.id,
        "slug": spec.slug,
        "title": spec.title,
        "severity": outcome.severity.value,
        "status": outcome.status.value,
        "ndr": list(spec.ndr),
        "sources": list(spec.requires),
        "remediation": spec.remediation,
        "counts": _counts([r.status for r in outcome.results]),
        "results": [result_dict(outcome, r) for r in outcome.results],
    }
    if outcome.reason:
        entry["reason"] = outcome.reason
    if outcome.fix:
        entry["fix"] = outcome.fix
    if outcome.blocked_by:
        entry["blockedBy"] = list(outcome.blocked_by)
    return entry


def document(audit: AuditResult) -> dict[str, Any]:
    results = [r.status for o in audit.outcomes for r in o.results]
    return {
        "schema": SCHEMA_ID,
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "m365-mail-auditor", "version": audit.tool_version},
        "tenant": {
            "id": audit.tenant.id,
            "displayName": audit.tenant.display_name,
            "defaultDomain": audit.tenant.default_domain,
        },
        "startedAt": audit.started_at,
        "collectedAt": audit.collected_at,
        "snapshot": {"source": audit.snapshot_source, "sha256": audit.snapshot_sha256},
        "baseline": {
            "path": audit.baseline_path,
            "sha256": audit.baseline_sha256,
            **(
                {"document": dict(audit.baseline_document)}
                if audit.baseline_document is not None
                else {}
            ),
        },
        "status": audit.status.value,
        "summary": {
            "checks": _counts([o.status for o in audit.outcomes]),
            "results": _counts(results),
            "unjudged": audit.unjudged,
        },
        "rootCauses": [
            {
                "kind": c.kind,
                "cause": c.summary,
                **({"fix": c.fix} if c.fix else {}),
                "sources": list(c.sources),
                "checks": list(c.checks),
            }
            for c in audit.causes
        ],
        "warnings": list(audit.warnings),
        "checks": [check_dict(o) for o in audit.outcomes],
        "waivers": [
            {
                "check": w.waiver.check,
                "resource": w.waiver.resource,
                "reason": w.waiver.reason,
                "expires": w.waiver.expires,
                "state": w.state.value,
            }
            for w in audit.waivers
        ],
        "disabledChecks": list(audit.disabled_checks),
        **({"changes": dict(audit.changes)} if audit.changes is not None else {}),
    }


def render(audit: AuditResult) -> str:
    return dumps(document(audit))
