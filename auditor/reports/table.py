"""The report for people at a terminal: a summary, what to fix first, a table of the checks
that need attention, then their findings. It fits the width it is given (80 columns read
well), colours statuses only when asked, and lists passes only with `--only all`."""

from __future__ import annotations

import textwrap

from auditor.judge.model import AuditResult, CheckOutcome, Status
from auditor.reports import causes, fix_first, ordering, terminal, untrusted, waivers
from auditor.reports.changes import render_text as render_changes
from auditor.reports.terminal import Only, View

_SHOWN_STATUSES = (Status.FAIL, Status.ERROR)


def _count(items, status: Status) -> int:
    return sum(1 for i in items if i.status is status)


def _summary(audit: AuditResult, view: View) -> str:
    results = [r for o in audit.outcomes for r in o.results]
    outcomes = audit.outcomes
    unjudged = f" ({audit.unjudged} not judged)" if audit.unjudged else ""
    word = audit.status.value.upper()
    text = _wrap(
        f"Summary: {word}{unjudged}: {len(outcomes)} checks: "
        f"{_count(outcomes, Status.PASS)} passed, {_count(outcomes, Status.FAIL)} failed, "
        f"{_count(outcomes, Status.ERROR)} errored, {_count(outcomes, Status.WAIVED)} waived; "
        f"{len(results)} resources examined ({_count(results, Status.PASS)} pass, "
        f"{_count(results, Status.FAIL)} fail, {_count(results, Status.ERROR)} error, "
        f"{_count(results, Status.WAIVED)} waived)",
        "",
        view,
    )
    return terminal.recolour(
        view, text, f"Summary: {word}", f"Summary: {terminal.run_status(view, audit.status.value)}"
    )


def _results(outcome: CheckOutcome) -> str:
    """The check's results in a few characters: what failed out of how many, then the rest."""
    total = len(outcome.results)
    parts = [f"{outcome.count(Status.FAIL)}/{total} fail"] if total else ["none"]
    for status, word in ((Status.ERROR, "error"), (Status.WAIVED, "waived")):
        if outcome.count(status):
            parts.append(f"{outcome.count(status)} {word}")
    return ", ".join(parts)


def _overview(audit: AuditResult, view: View) -> list[str]:
    listed = [
        o
        for o in ordering.ordered(audit.outcomes)
        if view.only is Only.ALL or o.status is not Status.PASS
    ]
    passed = len(audit.outcomes) - len(listed)
    lines: list[str] = []
    if listed:
        rows = [
            [
                o.spec.id,
                o.status.value.upper(),
                ordering.worst(o).value,  # the worst finding's, which may exceed the check's
                _results(o),
            ]
            for o in listed
        ]
        headers = ["check", "status", "severity", "results"]
        widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(4)]
        indent = sum(widths) + 2 * len(widths)
        title_width = max(20, view.width - indent)

        def line(cells: list[str], title: str, outcome: CheckOutcome | None) -> list[str]:
            padded = [c.ljust(w) for c, w in zip(cells, widths, strict=True)]
            if outcome is not None and view.color:
                padded[1] = terminal.status(view, outcome.status, padded[1])
                padded[2] = terminal.severity(view, ordering.worst(outcome), padded[2])
            title = untrusted.for_terminal(title)
            title_lines = textwrap.wrap(title, title_width, break_on_hyphens=False) or [""]
            first = "  ".join(padded) + "  " + title_lines[0]
            return [first.rstrip(), *(" " * indent + t for t in title_lines[1:])]

        lines = line(headers, "title", None)
        lines.append("  ".join("-" * w for w in [*widths, min(title_width, 40)]))
        for row, outcome in zip(rows, listed, strict=True):
            lines += line(row, outcome.spec.title, outcome)
    if passed:
        lines.append(
            f"{passed} check{'s' if passed != 1 else ''} passed (not listed; --only all lists them)"
        )
    return lines


def _wrap(text: str, indent: str, view: View) -> str:
    return textwrap.fill(
        untrusted.for_terminal(text),  # the tenant's text is shown, never obeyed
        width=view.width,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_on_hyphens=False,
        break_long_words=True,
    )


def _wrap_lines(text: str, view: View) -> list[str]:
    """Wrap each line of a block, keeping its own indentation."""
    lines = []
    for line in text.splitlines():
        indent = line[: len(line) - len(line.lstrip())]
        lines.append(_wrap(line.lstrip(), indent, view) if line.strip() else "")
    return lines


def _fix_first(audit: AuditResult, view: View) -> list[str]:
    items, more = fix_first.shown(audit)
    if not items:
        return []
    lines = [
        terminal.bold(view, "Fix first")
        + " (each failing resource once, with every finding about it):"
    ]
    for n, item in enumerate(items, 1):
        head = f"[{item.severity.value}]"
        lines.append(
            terminal.recolour(
                view,
                _wrap(f"{n}. {item.resource} {head}", "  ", view),
                head,
                f"[{terminal.severity(view, item.severity)}]",
            )
        )
        for finding in item.findings:
            lines.append(
                _wrap(
                    f"- {finding.check} ({finding.severity.value}): {finding.message}",
                    "     ",
                    view,
                )
            )
        lines.append(_wrap(f"Next: {item.action}", "     ", view))
    if more:
        lines.append(f"  ... and {more} more failing resources below")
    return lines


def _causes(audit: AuditResult, view: View) -> list[str]:
    if not audit.causes:
        return []
    lines = [terminal.bold(view, "Why checks could not judge") + " (each cause once):"]
    for number, cause in causes.numbered(audit):
        lines.append(_wrap(f"[{number}] {causes.describe(cause)}", "  ", view))
        if cause.fix:
            lines.append(_wrap(f"Fix: {cause.fix}", "      ", view))
    return lines


def _details(audit: AuditResult, outcome: CheckOutcome, view: View) -> list[str]:
    spec = outcome.spec
    ndr = f", prevents NDR {', '.join(spec.ndr)}" if spec.ndr else ""
    word = outcome.status.value.upper()
    head = _wrap(
        f"{word} {spec.id} {spec.slug} [{ordering.worst(outcome).value}{ndr}]: {spec.title}",
        "",
        view,
    )
    lines = [terminal.recolour(view, head, word, terminal.status(view, outcome.status))]
    if outcome.reason:
        lines.append(_wrap(f"could not run: {causes.stopped_by(audit, outcome)}", "  ", view))
    shown = _SHOWN_STATUSES if view.only is Only.FAILED else tuple(Status)
    for result in outcome.results:
        if result.status in shown:
            severity = outcome.result_severity(result)
            marker = f"{result.status.value.upper()} {severity.value}"
            painted = f"{terminal.status(view, result.status)} {terminal.severity(view, severity)}"
            text = _wrap(f"- {result.resource} ({marker}): {result.message}", "  ", view)
            lines.append(terminal.recolour(view, text, f"({marker})", f"({painted})"))
    if causes.shows_remediation(outcome):
        lines.append(_wrap(f"Remediation: {spec.remediation}", "  ", view))
    elif outcome.fix:
        lines.append(_wrap(f"To fix the error: {outcome.fix}", "  ", view))
    return lines


def _waiver_notes(audit: AuditResult, view: View) -> list[str]:
    lines = [
        _wrap(f"- {w.check} {w.resource}: {note} ({w.reason})", "  ", view)
        for w, note in waivers.to_review(audit)
    ]
    return ["Waivers to review:", *lines] if lines else []


def _listed(outcome: CheckOutcome, view: View) -> bool:
    if view.only is Only.ALL:
        return True
    return outcome.status in _SHOWN_STATUSES or bool(outcome.count(Status.ERROR))


def render(audit: AuditResult, view: View | None = None) -> str:
    view = view or View()
    tenant = audit.tenant
    name = f"{tenant.display_name} ({tenant.id})" if tenant.display_name else tenant.id
    out = [
        _wrap(f"m365-mail-auditor {audit.tool_version}: tenant {name}", "", view),
        _wrap(
            f"Snapshot collected {audit.collected_at}; audited {audit.started_at}; "
            f"baseline {audit.baseline_path}",
            "",
            view,
        ),
        *(_wrap(f"Warning: {w}", "", view) for w in audit.warnings),
        _summary(audit, view),
    ]
    fix = _fix_first(audit, view)
    if fix:
        out += ["", *fix]
    overview = _overview(audit, view)
    if overview:
        out += ["", *overview]
    if audit.causes:
        out += ["", *_causes(audit, view)]
    for outcome in ordering.ordered(audit.outcomes):
        if _listed(outcome, view):
            out += ["", *_details(audit, outcome, view)]
    notes = _waiver_notes(audit, view)
    if notes:
        out += ["", *notes]
    if audit.changes is not None:
        out += ["", *_wrap_lines(render_changes(audit.changes).rstrip(), view)]
    if audit.disabled_checks:
        out += [
            "",
            _wrap(f"Disabled by the baseline: {', '.join(audit.disabled_checks)}", "", view),
        ]
    return "\n".join(out) + "\n"
