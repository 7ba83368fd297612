"""OCSF Compliance Finding events (class 2003), one JSON line per result, so Sentinel,
Splunk, Elastic and Security Lake ingest them without a custom parser. Mapping: docs/ocsf.md."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from auditor.common.timeutil import parse_time
from auditor.judge.model import AuditResult, CheckOutcome, Result, Severity, Status
from auditor.reports.changes import change_index
from auditor.reports.sarif import fingerprint

OCSF_VERSION = "1.3.0"
CLASS_UID = 2003  # Compliance Finding
CATEGORY_UID = 2  # Findings
ACTIVITY_CREATE = 1
SEVERITY_ID = {
    Severity.INFO: 1,
    Severity.LOW: 2,
    Severity.MEDIUM: 3,
    Severity.HIGH: 4,
    Severity.CRITICAL: 5,
}
# compliance.status_id: 0 unknown, 1 pass, 2 warning, 3 fail, 99 other
COMPLIANCE_STATUS = {
    Status.PASS: (1, "Pass"),
    Status.FAIL: (3, "Fail"),
    Status.ERROR: (99, "Error"),
    Status.WAIVED: (99, "Waived"),
}
# status_id of the finding: 1 new, 3 suppressed, 4 resolved
FINDING_STATUS = {
    Status.PASS: (4, "Resolved"),
    Status.FAIL: (1, "New"),
    Status.ERROR: (1, "New"),
    Status.WAIVED: (3, "Suppressed"),
}


def run_id(audit: AuditResult) -> str:
    """One audit run: the tenant, the second it started and the snapshot it judged."""
    text = f"{audit.tenant.id}\x00{audit.started_at}\x00{audit.snapshot_sha256}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _event(
    audit: AuditResult,
    outcome: CheckOutcome,
    status: Status,
    severity: Severity,
    resource: str | None,
    message: str,
) -> dict[str, Any]:
    spec = outcome.spec
    uid = fingerprint(audit.tenant.id, spec.id, resource or "")
    run = run_id(audit)
    compliance_id, compliance = COMPLIANCE_STATUS[status]
    finding_id, finding = FINDING_STATUS[status]
    event: dict[str, Any] = {
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "time": int(parse_time(audit.started_at).timestamp() * 1000),
        "severity_id": SEVERITY_ID[severity],
        "severity": severity.value.capitalize(),
        "status_id": finding_id,
        "status": finding,
        "message": message,
        "metadata": {
            "version": OCSF_VERSION,
            # The event's own id: this finding in this run. A collector that receives the
            # same event twice (a resend after a reset) drops the copy by it.
            "uid": hashlib.sha256(f"{run}\x00{uid}".encode()).hexdigest(),
            "correlation_uid": run,
            "product": {
                "name": "m365-mail-auditor",
                "vendor_name": "m365-mail-auditor",
                "version": audit.tool_version,
            },
        },
        "finding_info": {
            "uid": uid,
            "title": spec.title,
            "desc": message,
            "types": [spec.slug],
            "created_time": int(parse_time(audit.collected_at).timestamp() * 1000),
        },
        "compliance": {
            "control": spec.id,
            "standards": ["m365-mail-auditor"],
            "status_id": compliance_id,
            "status": compliance,
        },
        # A check that could not judge needs its error fixed, not the finding's remediation.
        "remediation": {
            "desc": outcome.fix if status is Status.ERROR and outcome.fix else spec.remediation
        },
        "cloud": {
            "provider": "Microsoft 365",
            "account": {"uid": audit.tenant.id, "name": audit.tenant.display_name},
        },
        "unmapped": {"ndr": list(spec.ndr), "auditStatus": audit.status.value},
    }
    if resource:
        kind, _, name = resource.partition(":")
        event["resources"] = [{"uid": resource, "name": name or resource, "type": kind}]
    return event


def _result_event(audit: AuditResult, outcome: CheckOutcome, result: Result) -> dict[str, Any]:
    return _event(
        audit,
        outcome,
        result.status,
        outcome.result_severity(result),
        result.resource,
        result.message,
    )


def events(audit: AuditResult) -> list[dict[str, Any]]:
    changes = change_index(audit.changes)
    out = []
    for outcome in audit.outcomes:
        if not outcome.results:
            out.append(
                _event(
                    audit,
                    outcome,
                    outcome.status,
                    outcome.severity,
                    None,
                    outcome.reason or "no resources to examine",
                )
            )
        for result in outcome.results:
            event = _result_event(audit, outcome, result)
            if audit.changes is not None:
                event["unmapped"]["change"] = changes.get((outcome.spec.id, result.resource))
            out.append(event)
    return out


def render(audit: AuditResult) -> str:
    return "".join(
        json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n" for e in events(audit)
    )
