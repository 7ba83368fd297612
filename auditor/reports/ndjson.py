"""One flat, self-describing JSON line per result, for SIEM forwarders."""

from __future__ import annotations

import json
from typing import Any

from auditor.judge.model import AuditResult
from auditor.reports.changes import change_index
from auditor.reports.json_report import SCHEMA_VERSION


def events(audit: AuditResult) -> list[dict[str, Any]]:
    changes = change_index(audit.changes)
    out = []
    for outcome in audit.outcomes:
        spec = outcome.spec
        common = {
            "schemaVersion": SCHEMA_VERSION,
            "time": audit.started_at,
            "collectedAt": audit.collected_at,
            "tenantId": audit.tenant.id,
            "tenantName": audit.tenant.display_name,
            "checkId": spec.id,
            "checkSlug": spec.slug,
            "checkTitle": spec.title,
            "ndr": list(spec.ndr),
            "auditStatus": audit.status.value,
        }
        if not outcome.results:
            # A check that could not run still leaves a trace, or a SIEM would see silence.
            out.append(
                {
                    **common,
                    "severity": outcome.severity.value,
                    "status": outcome.status.value,
                    "resource": None,
                    "message": outcome.reason or "no resources to examine",
                }
            )
        for result in outcome.results:
            out.append(
                {
                    **common,
                    "severity": outcome.result_severity(result).value,
                    "status": result.status.value,
                    "resource": result.resource,
                    "message": result.message,
                    **(
                        {"change": changes.get((spec.id, result.resource))}
                        if audit.changes is not None
                        else {}
                    ),
                }
            )
    return out


def render(audit: AuditResult) -> str:
    return "".join(
        json.dumps(e, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
        for e in events(audit)
    )
