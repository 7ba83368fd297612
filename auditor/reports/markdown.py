"""Markdown for the GitHub step summary and for tickets: what failed first, the rest counted.

GitHub cuts a step summary at 1 MiB; the report stays far below by listing at most a fixed
number of results per check and stopping details once a size budget is spent.
"""

from __future__ import annotations

import re

from auditor.judge.model import AuditResult, CheckOutcome, Status
from auditor.reports import causes, fix_first, ordering, untrusted, waivers
from auditor.reports.changes import render_text as render_changes

MAX_RESULTS_PER_CHECK = 25
BUDGET = 200_000  # characters of detail; the JSON report holds everything


def _cell(text: str) -> str:
    """Text from the tenant, as inert Markdown in a table cell or a list."""
    return untrusted.for_markdown(text)


def _code(text: str) -> str:
    return untrusted.markdown_code(text)


def _fenced(text: str) -> list[str]:
    """A code block no line of `text` can close early."""
    lines = [untrusted.for_terminal(line) for line in text.splitlines()]
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *lines, fence]


def _fix_first(audit: AuditResult) -> list[str]:
    items, more = fix_first.shown(audit)
    if not items:
        return []
    lines = [
        "### Fix first",
        "",
        "| # | resource | severity | findings | next |",
        "|---|---|---|---|---|",
    ]
    for n, item in enumerate(items, 1):
        found = "<br>".join(
            f"**{_cell(f.check)}** ({f.severity.value}): {_cell(f.message)}" for f in item.findings
        )
        lines.append(
            f"| {n} | {_code(item.resource)} | {item.severity.value} | {found} | "
            f"{_cell(item.action)} |"
        )
    if more:
        lines.append(f"| | | | {more} more failing resources below | |")
    return [*lines, ""]


def _causes(audit: AuditResult) -> list[str]:
    if not audit.causes:
        return []
    lines = ["### Why checks could not judge", ""]
    for number, cause in causes.numbered(audit):
        fix = f" **Fix:** {_cell(cause.fix)}" if cause.fix else ""
        lines.append(f"{number}. {_cell(causes.describe(cause))}.{fix}")
    return [*lines, ""]


def _details(audit: AuditResult, outcome: CheckOutcome) -> list[str]:
    spec = outcome.spec
    lines = [f"### {outcome.status.value.upper()} `{spec.id}` {spec.title}", ""]
    if outcome.reason:
        lines += [f"Could not run: {_cell(causes.stopped_by(audit, outcome))}", ""]
    shown = [r for r in outcome.results if r.status in (Status.FAIL, Status.ERROR)]
    if shown:
        lines += ["| resource | status | severity | finding |", "|---|---|---|---|"]
        for result in shown[:MAX_RESULTS_PER_CHECK]:
            lines.append(
                f"| {_code(result.resource)} | {result.status.value} | "
                f"{outcome.result_severity(result).value} | {_cell(result.message)} |"
            )
        if len(shown) > MAX_RESULTS_PER_CHECK:
            lines.append(
                f"| … | | | {len(shown) - MAX_RESULTS_PER_CHECK} more in the JSON report |"
            )
        lines.append("")
    if causes.shows_remediation(outcome):
        lines += [f"**Remediation.** {spec.remediation}", ""]
    elif outcome.fix:
        lines += [f"**To fix the error.** {_cell(outcome.fix)}", ""]
    return lines


def render(audit: AuditResult) -> str:
    name = audit.tenant.display_name or audit.tenant.id
    lines = [
        f"## m365-mail-auditor: {audit.status.value.upper()} for {_cell(name)}",
        "",
        f"Tenant `{audit.tenant.id}`, collected {audit.collected_at}, audited {audit.started_at}.",
        "",
        *(f"> **Warning.** {_cell(w)}\n" for w in audit.warnings),
        "| checks | pass | fail | error | waived | not judged |",
        "|---|---|---|---|---|---|",
        f"| {len(audit.outcomes)} | {audit.count(Status.PASS)} | {audit.count(Status.FAIL)} | "
        f"{audit.count(Status.ERROR)} | {audit.count(Status.WAIVED)} | {audit.unjudged} |",
        "",
        *_fix_first(audit),
        *_causes(audit),
    ]
    troubled = [
        o for o in ordering.ordered(audit.outcomes) if o.status in (Status.FAIL, Status.ERROR)
    ]
    used = sum(len(line) for line in lines)
    left_out = 0
    for outcome in troubled:
        block = _details(audit, outcome)
        size = sum(len(line) + 1 for line in block)
        if used + size > BUDGET:
            left_out += 1
            continue
        lines += block
        used += size
    if left_out:
        lines += [f"{left_out} more failing checks are in the JSON report.", ""]
    if audit.changes is not None:
        lines += [
            "### Changes since the previous run",
            "",
            *_fenced(render_changes(audit.changes).rstrip()),
            "",
        ]
    review = waivers.to_review(audit)
    if review:
        lines += ["### Waivers to review", ""]
        lines += [
            f"- `{w.check}` {_code(w.resource)}: {note} ({_cell(w.reason)})" for w, note in review
        ]
        lines.append("")
    active = waivers.in_force(audit)
    if active:
        lines += [
            f"<details><summary>{len(active)} waiver{'s' if len(active) != 1 else ''} in force"
            "</summary>",
            "",
            *(
                f"- `{w.check}` {_code(w.resource)} until {w.expires}: {_cell(w.reason)}"
                for w in active
            ),
            "",
            "</details>",
            "",
        ]
    quiet = [o for o in audit.outcomes if o.status in (Status.PASS, Status.WAIVED)]
    if quiet:
        lines += [
            f"<details><summary>{len(quiet)} checks passed or waived</summary>",
            "",
            *(f"- `{o.spec.id}` {o.status.value}: {o.spec.title}" for o in quiet),
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)
