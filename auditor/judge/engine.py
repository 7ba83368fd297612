"""Judge: run the selected checks over a snapshot and a baseline, apply waivers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime

import auditor
from auditor.common.timeutil import format_time
from auditor.judge.baseline import Baseline
from auditor.judge.context import CheckContext
from auditor.judge.model import (
    AuditResult,
    CheckOutcome,
    Result,
    Status,
    Waiver,
    WaiverReport,
    WaiverState,
)
from auditor.judge.registry import Check
from auditor.snapshot import Snapshot, thaw

_JUDGED = (Status.PASS, Status.FAIL, Status.ERROR)


def audit(
    snapshot: Snapshot,
    baseline: Baseline,
    checks: Mapping[str, Check],
    started_at: datetime,
    selected: Sequence[str] = (),
    baseline_label: str = "",
) -> AuditResult:
    """Run every check (or the `selected` ones, which win over a baseline's `enabled: false`)."""
    if selected:
        to_run = [checks[cid] for cid in sorted(set(selected))]
        disabled: list[str] = []
    else:
        to_run = [c for c in checks.values() if baseline.setting(c.spec.id).enabled]
        disabled = [cid for cid in checks if not baseline.setting(cid).enabled]

    today = started_at.date()
    used: set[Waiver] = set()
    outcomes = []
    for item in to_run:
        outcome = run_check(item, snapshot, baseline)
        outcome, hit = _apply_waivers(outcome, baseline.waivers, today)
        used |= hit
        outcomes.append(outcome)

    return AuditResult(
        tool_version=auditor.__version__,
        tenant=snapshot.tenant,
        collected_at=format_time(snapshot.collected_at),
        started_at=format_time(started_at),
        snapshot_source=snapshot.label,
        snapshot_sha256=snapshot.sha256,
        baseline_path=baseline_label or baseline.label,
        baseline_sha256=baseline.sha256,
        outcomes=tuple(outcomes),
        waivers=tuple(_waiver_reports(baseline.waivers, used, today)),
        disabled_checks=tuple(sorted(disabled)),
    )


def run_check(item: Check, snapshot: Snapshot, baseline: Baseline) -> CheckOutcome:
    spec = item.spec
    setting = baseline.setting(spec.id)
    severity = setting.severity or spec.severity

    def error(reason: str) -> CheckOutcome:
        return CheckOutcome(spec, severity, Status.ERROR, (), reason)

    problems = []
    for name in spec.requires:
        record = snapshot.sources.get(name)
        if record is None:
            problems.append(f"source {name} is not in the snapshot")
        elif not record.ok:
            problems.append(f"source {name}: {record.error}")
    if problems:
        return error("; ".join(problems))

    try:
        results = list(item.run(CheckContext(spec, snapshot, baseline)))
    except Exception as exc:  # a plugin's bug or data it did not expect: judge nothing
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        return error(f"the check could not judge this data: {type(exc).__name__}: {detail}")

    seen: set[str] = set()
    for result in results:
        if not isinstance(result, Result) or result.status not in _JUDGED:
            return error(f"the check yielded {result!r}, not a pass/fail/error Result")
        if result.resource in seen:
            return error(f"the check yielded resource {result.resource!r} twice")
        seen.add(result.resource)

    # Evidence may hold views of the frozen snapshot; reports need plain JSON values.
    results = [replace(r, evidence=thaw(r.evidence)) for r in results]
    if setting.severity is not None:
        # The admin's severity is authoritative over the check's own per-result escalations.
        results = [replace(r, severity=None) for r in results]
    results.sort(key=lambda r: r.resource)
    return CheckOutcome(spec, severity, _status_of(results), tuple(results))


def _status_of(results: Iterable[Result]) -> Status:
    statuses = {r.status for r in results}
    for status in (Status.FAIL, Status.ERROR, Status.WAIVED):
        if status in statuses:
            return status
    return Status.PASS


def _is_active(waiver: Waiver, today: date) -> bool:
    return today <= date.fromisoformat(waiver.expires)


def _apply_waivers(
    outcome: CheckOutcome, waivers: Sequence[Waiver], today: date
) -> tuple[CheckOutcome, set[Waiver]]:
    mine = {w.resource: w for w in waivers if w.check == outcome.spec.id}
    if not mine or not outcome.results:
        return outcome, set()
    used: set[Waiver] = set()
    results = []
    for result in outcome.results:
        waiver = mine.get(result.resource)
        if waiver is None:
            results.append(result)
            continue
        if result.status is not Status.FAIL:
            results.append(result)
            continue
        used.add(waiver)
        if _is_active(waiver, today):
            results.append(replace(result, status=Status.WAIVED, waiver=waiver))
        else:
            message = f"{result.message} (waiver expired {waiver.expires}: {waiver.reason})"
            results.append(replace(result, message=message, waiver=waiver))
    return replace(outcome, status=_status_of(results), results=tuple(results)), used


def _waiver_reports(
    waivers: Sequence[Waiver], used: set[Waiver], today: date
) -> Iterable[WaiverReport]:
    for waiver in sorted(waivers, key=lambda w: (w.check, w.resource)):
        if not _is_active(waiver, today):
            state = WaiverState.EXPIRED
        elif waiver in used:
            state = WaiverState.ACTIVE
        else:
            state = WaiverState.UNUSED
        yield WaiverReport(waiver, state)
