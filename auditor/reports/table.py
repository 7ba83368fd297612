"""The report for people at a terminal: a summary, a table of checks, then what to fix."""

from __future__ import annotations

import textwrap

from tabulate import tabulate

from auditor.judge.model import AuditResult, CheckOutcome, Status
from auditor.reports import causes, fix_first, ordering, waivers
from auditor.reports.changes import render_text as render_changes

_WIDTH = 100
_SHOWN_STATUSES = (Status.FAIL, Status.ERROR)


def _summary(audit: AuditResult) -> str:
    results = [r for o in audit.outcomes for r in o.results]

    def n(items, status):
        return sum(1 for i in items if i.status is status)

    unjudged = f" ({audit.unjudged} not judged)" if audit.unjudged else ""
    return (
        f"Summary: {audit.status.value.upper()}{unjudged}: {len(audit.outcomes)} checks: "
        f"{n(audit.outcomes, Status.PASS)} passed, {n(audit.outcomes, Status.FAIL)} failed, "
        f"{n(audit.outcomes, Status.ERROR)} errored, {n(audit.outcomes, Status.WAIVED)} waived; "
        f"{len(results)} resources examined ({n(results, Status.PASS)} pass, "
        f"{n(results, Status.FAIL)} fail, {n(results, Status.ERROR)} error, "
        f"{n(results, Status.WAIVED)} waived)"
    )


def _overview(audit: AuditResult) -> str:
    rows = [
        [
            o.spec.id,
            o.status.value.upper(),
            ordering.worst(o).value,  # the worst finding's, which may exceed the check's
            o.count(Status.PASS),
            o.count(Status.FAIL),
            o.count(Status.ERROR),
            o.count(Status.WAIVED),
            o.spec.title,
        ]
        for o in ordering.ordered(audit.outcomes)
    ]
    headers = ["check", "status", "severity", "pass", "fail", "error", "waived", "title"]
    return tabulate(rows, headers=headers, tablefmt="simple")


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(
        text,
        width=_WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_on_hyphens=False,
    )


def _fix_first(audit: AuditResult) -> list[str]:
    items, more = fix_first.shown(audit)
    if not items:
        return []
    lines = ["Fix first (each failing resource once, with every finding about it):"]
    for n, item in enumerate(items, 1):
        lines.append(_wrap(f"{n}. {item.resource} [{item.severity.value}]", "  "))
        for finding in item.findings:
            lines.append(
                _wrap(f"- {finding.check} ({finding.severity.value}): {finding.message}", "     ")
            )
        lines.append(_wrap(f"Next: {item.action}", "     "))
    if more:
        lines.append(f"  ... and {more} more failing resources below")
    return lines


def _causes(audit: AuditResult) -> list[str]:
    if not audit.causes:
        return []
    lines = ["Why checks could not judge (each cause once):"]
    for number, cause in causes.numbered(audit):
        lines.append(_wrap(f"[{number}] {causes.describe(cause)}", "  "))
        if cause.fix:
            lines.append(_wrap(f"Fix: {cause.fix}", "      "))
    return lines


def _details(audit: AuditResult, outcome: CheckOutcome) -> list[str]:
    spec = outcome.spec
    ndr = f", prevents NDR {', '.join(spec.ndr)}" if spec.ndr else ""
    lines = [
        f"{outcome.status.value.upper()} {spec.id} {spec.slug} "
        f"[{ordering.worst(outcome).value}{ndr}]: {spec.title}"
    ]
    if outcome.reason:
        lines.append(_wrap(f"could not run: {causes.stopped_by(audit, outcome)}", "  "))
    for result in outcome.results:
        if result.status in _SHOWN_STATUSES:
            severity = outcome.result_severity(result)
            marker = f"{result.status.value.upper()} {severity.value}"
            lines.append(_wrap(f"- {result.resource} ({marker}): {result.message}", "  "))
    if causes.shows_remediation(outcome):
        lines.append(_wrap(f"Remediation: {spec.remediation}", "  "))
    elif outcome.fix:
        lines.append(_wrap(f"To fix the error: {outcome.fix}", "  "))
    return lines


def _waiver_notes(audit: AuditResult) -> list[str]:
    lines = [
        _wrap(f"- {w.check} {w.resource}: {note} ({w.reason})", "  ")
        for w, note in waivers.to_review(audit)
    ]
    return ["Waivers to review:", *lines] if lines else []


def render(audit: AuditResult) -> str:
    tenant = audit.tenant
    name = f"{tenant.display_name} ({tenant.id})" if tenant.display_name else tenant.id
    out = [
        f"m365-mail-auditor {audit.tool_version}: tenant {name}",
        f"Snapshot collected {audit.collected_at}; audited {audit.started_at}; "
        f"baseline {audit.baseline_path}",
        *(_wrap(f"Warning: {w}", "") for w in audit.warnings),
        _summary(audit),
    ]
    fix = _fix_first(audit)
    if fix:
        out += ["", *fix]
    out += ["", _overview(audit)]
    if audit.causes:
        out += ["", *_causes(audit)]
    for outcome in ordering.ordered(audit.outcomes):
        if outcome.status in _SHOWN_STATUSES or outcome.count(Status.ERROR):
            out += ["", *_details(audit, outcome)]
    notes = _waiver_notes(audit)
    if notes:
        out += ["", *notes]
    if audit.changes is not None:
        out += ["", render_changes(audit.changes).rstrip()]
    if audit.disabled_checks:
        out += ["", f"Disabled by the baseline: {', '.join(audit.disabled_checks)}"]
    return "\n".join(out) + "\n"
