"""Renderers: one module per output format, each a function AuditResult -> text."""

from __future__ import annotations

from collections.abc import Callable

from auditor.judge.model import AuditResult
from auditor.reports import (
    csv_report,
    html,
    json_report,
    junit,
    markdown,
    ndjson,
    ocsf,
    sarif,
    table,
)

Renderer = Callable[[AuditResult], str]

RENDERERS: dict[str, Renderer] = {
    "table": table.render,
    "json": json_report.render,
    "ndjson": ndjson.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "markdown": markdown.render,
    "ocsf": ocsf.render,
    "html": html.render,
    "csv": csv_report.render,
    "action-plan": csv_report.render_plan,
}
