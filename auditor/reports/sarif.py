"""SARIF 2.1.0 for GitHub code scanning: a rule per check, a result per failing resource."""

from __future__ import annotations

import hashlib
from typing import Any

from auditor.common.jsonio import dumps
from auditor.judge.model import (
    AuditResult,
    AuditStatus,
    CheckOutcome,
    Result,
    Severity,
    Status,
)

INFORMATION_URI = "https://github.com/m365-mail-auditor/m365-mail-auditor"
SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub ranks alerts by security-severity: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def fingerprint(tenant: str, check_id: str, resource: str) -> str:
    """Stable across runs, so code scanning matches tonight's finding to last night's."""
    return hashlib.sha256(f"{tenant}\x00{check_id}\x00{resource}".encode()).hexdigest()


def _rule(outcome: CheckOutcome) -> dict[str, Any]:
    spec = outcome.spec
    ndr = f" Prevents NDR {', '.join(spec.ndr)}." if spec.ndr else ""
    return {
        "id": spec.id,
        "name": spec.slug,
        "shortDescription": {"text": spec.title},
        "fullDescription": {"text": f"{spec.title}.{ndr}"},
        "help": {"text": spec.remediation, "markdown": f"**Remediation.** {spec.remediation}"},
        "defaultConfiguration": {"level": LEVEL[outcome.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[outcome.severity],
            "tags": ["security", "microsoft-365", "exchange-online", spec.id.split("-")[0]],
        },
    }


def _location(audit: AuditResult) -> dict[str, Any]:
    uri = audit.baseline_path
    if uri.startswith("demo:"):
        uri = "auditor/demo/" + uri.split(":", 1)[1]
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": uri.lstrip("./")},
            "region": {"startLine": 1},
        }
    }


def _result(audit: AuditResult, index: int, outcome: CheckOutcome, result: Result) -> dict:
    severity = outcome.result_severity(result)
    entry: dict[str, Any] = {
        "ruleId": outcome.spec.id,
        "ruleIndex": index,
        "level": LEVEL[severity],
        "message": {"text": f"{result.resource}: {result.message}"},
        "locations": [_location(audit)],
        "partialFingerprints": {
            "m365AuditFinding/v1": fingerprint(audit.tenant.id, outcome.spec.id, result.resource)
        },
        "properties": {
            "resource": result.resource,
            "severity": severity.value,
            "security-severity": SECURITY_SEVERITY[severity],
            "tenant": audit.tenant.id,
        },
    }
    if result.status is Status.WAIVED and result.waiver is not None:
        entry["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{result.waiver.reason} (until {result.waiver.expires})",
            }
        ]
    return entry


def document(audit: AuditResult) -> dict[str, Any]:
    rules = [_rule(o) for o in audit.outcomes]
    results = [
        _result(audit, index, outcome, result)
        for index, outcome in enumerate(audit.outcomes)
        for result in outcome.results
        if result.status in (Status.FAIL, Status.WAIVED)
    ]
    errors = [
        {
            "level": "error",
            "message": {
                "text": f"{o.spec.id} could not judge: {o.reason}"
                + (f" To fix: {o.fix}" if o.fix else "")
            },
            "descriptor": {"id": o.spec.id, "index": i},
        }
        for i, o in enumerate(audit.outcomes)
        if o.reason
    ]
    warnings = [{"level": "warning", "message": {"text": w}} for w in audit.warnings]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "m365-mail-auditor",
                        "version": audit.tool_version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"m365-mail-auditor/{audit.tenant.id}/"},
                "invocations": [
                    {
                        # Nothing judged is a failed run; an incomplete one still ran.
                        "executionSuccessful": audit.status is not AuditStatus.ERROR,
                        "startTimeUtc": audit.started_at,
                        "toolExecutionNotifications": warnings + errors,
                    }
                ],
                "results": results,
                "properties": {
                    "tenant": audit.tenant.id,
                    "tenantName": audit.tenant.display_name,
                    "collectedAt": audit.collected_at,
                    "status": audit.status.value,
                    "unjudged": audit.unjudged,
                    **({"changes": dict(audit.changes)} if audit.changes is not None else {}),
                },
            }
        ],
    }


def render(audit: AuditResult) -> str:
    return dumps(document(audit))
