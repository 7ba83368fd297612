"""CSV for spreadsheets: every result (`csv`), and an action plan of what fails (`action-plan`)
with empty owner and due-date columns for the admins to fill in and track.

Cells that a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage
return) get a leading apostrophe: a message quoting tenant data must not become a formula
(OWASP, CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from auditor.judge.model import AuditResult, Status

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def render(audit: AuditResult) -> str:
    header = ["tenant", "collected", "check", "title", "resource", "status", "severity"]
    header += ["message", "waiver"]
    rows = []
    for outcome in audit.outcomes:
        if not outcome.results:
            rows.append(
                [
                    audit.tenant.id,
                    audit.collected_at,
                    outcome.spec.id,
                    outcome.spec.title,
                    "",
                    outcome.status.value,
                    outcome.severity.value,
                    outcome.reason or "no resources to examine",
                    "",
                ]
            )
        for result in outcome.results:
            waiver = (
                f"{result.waiver.reason} (until {result.waiver.expires})" if result.waiver else ""
            )
            rows.append(
                [
                    audit.tenant.id,
                    audit.collected_at,
                    outcome.spec.id,
                    outcome.spec.title,
                    result.resource,
                    result.status.value,
                    outcome.result_severity(result).value,
                    result.message,
                    waiver,
                ]
            )
    return _table(header, rows)


def render_plan(audit: AuditResult) -> str:
    """Failing and unjudged results, worst first, each with its next action."""
    items = []
    for outcome in audit.outcomes:
        if outcome.status is Status.ERROR and not outcome.results:
            action = outcome.fix or outcome.reason
            items.append((outcome.severity, outcome.spec.id, "", "error", outcome.reason, action))
        for result in outcome.results:
            if result.status not in (Status.FAIL, Status.ERROR):
                continue
            action = outcome.spec.remediation if result.status is Status.FAIL else outcome.fix
            items.append(
                (
                    outcome.result_severity(result),
                    outcome.spec.id,
                    result.resource,
                    result.status.value,
                    result.message,
                    action or "see the error",
                )
            )
    items.sort(key=lambda i: (-i[0].rank, i[1], i[2]))
    header = ["priority", "severity", "check", "resource", "status", "finding", "next action"]
    header += ["owner", "due date", "done"]
    rows = [
        [n, severity.value, check, resource, status, finding, " ".join(action.split()), "", "", ""]
        for n, (severity, check, resource, status, finding, action) in enumerate(items, 1)
    ]
    return _table(header, rows)
