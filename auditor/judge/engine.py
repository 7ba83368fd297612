"""Judge: run the selected checks over a snapshot and a baseline, apply waivers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

import auditor
from auditor.common import cycles
from auditor.common.timeutil import format_time
from auditor.judge.baseline import Baseline
from auditor.judge.context import CheckContext
from auditor.judge.model import (
    AuditResult,
    CheckOutcome,
    Result,
    RootCause,
    Status,
    Waiver,
    WaiverReport,
    WaiverState,
)
from auditor.judge.registry import Check
from auditor.snapshot import Snapshot, thaw
from auditor.snapshot.causes import grouped

# A check that raised met data it does not handle: the fix is in the check, not the tenant.
_BUG_FIX = (
    "the check met data it does not handle: a bug in the check, not a finding about the "
    "tenant; report it with the check's version and the snapshot's shape"
)

_JUDGED = (Status.PASS, Status.FAIL, Status.ERROR)


def audit(
    snapshot: Snapshot,
    baseline: Baseline,
    checks: Mapping[str, Check],
    started_at: datetime,
    selected: Sequence[str] = (),
    baseline_label: str = "",
    stale_after: timedelta | None = None,
) -> AuditResult:
    """Run every check (or the `selected` ones, which win over a baseline's `enabled: false`).
    A snapshot collected more than `stale_after` before `started_at` is named in a warning."""
    if selected:
        to_run = [checks[cid] for cid in sorted(set(selected))]
        disabled: list[str] = []
    else:
        to_run = [c for c in checks.values() if baseline.setting(c.spec.id).enabled]
        disabled = [cid for cid in checks if not baseline.setting(cid).enabled]

    today = started_at.date()
    used: set[Waiver] = set()
    outcomes = []
    with cycles.paused():  # checks read acyclic data and make little garbage
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
        waivers=tuple(_waiver_reports(baseline.waivers, used, today, outcomes)),
        disabled_checks=tuple(sorted(disabled)),
        causes=root_causes(snapshot, outcomes),
        warnings=tuple(_warnings(snapshot, started_at, stale_after)),
        baseline_document=thaw(baseline.document),
    )


def _warnings(
    snapshot: Snapshot, started_at: datetime, stale_after: timedelta | None
) -> Iterable[str]:
    if stale_after is None:
        return
    age = started_at - snapshot.collected_at
    if age > stale_after:
        days = age.total_seconds() / 86400
        yield (
            f"the snapshot was collected {format_time(snapshot.collected_at)}, {days:.1f} days "
            f"before this audit (older than {stale_after.total_seconds() / 86400:g} days): it "
            "shows the tenant as it was then; collect a new one to audit it as it is"
        )


def root_causes(snapshot: Snapshot, outcomes: Sequence[CheckOutcome]) -> tuple[RootCause, ...]:
    """Why the checks that could not run could not: each cause once, with the sources it
    stopped and the checks it blocked."""
    blocked = {name for o in outcomes for name in o.blocked_by}
    causes = []
    for group in grouped(snapshot.sources, blocked):
        members = set(group.sources)
        checks = tuple(o.spec.id for o in outcomes if members & set(o.blocked_by))
        causes.append(
            RootCause(group.cause.kind, group.cause.summary, group.cause.fix, group.sources, checks)
        )
    return tuple(sorted(causes, key=lambda c: (-len(c.checks), -len(c.sources), c.summary)))


def run_check(item: Check, snapshot: Snapshot, baseline: Baseline) -> CheckOutcome:
    spec = item.spec
    setting = baseline.setting(spec.id)
    severity = setting.severity or spec.severity

    def error(reason: str, fix: str = _BUG_FIX, blocked: Sequence[str] = ()) -> CheckOutcome:
        return CheckOutcome(spec, severity, Status.ERROR, (), reason, fix, tuple(blocked))

    problems, blocked = [], []
    for name in spec.requires:
        record = snapshot.sources.get(name)
        if record is None:
            problems.append(f"source {name} is not in the snapshot")
            blocked.append(name)
        elif not record.ok:
            # A live collection's error names its source already: said once.
            problems.append(f"source {name}: {record.error.removeprefix(f'{name}: ')}")
            blocked.append(name)
    if problems:
        groups = grouped(snapshot.sources, blocked)
        fix = "; ".join(dict.fromkeys(g.cause.fix for g in groups if g.cause.fix))
        return error("; ".join(problems), fix, blocked)

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


def _judged(outcomes: Sequence[CheckOutcome], waiver: Waiver) -> bool:
    """Whether the waiver's check ran and could judge the waiver's resource: advice about a
    waiver (expired, unused) stands only on a verdict."""
    outcome = next((o for o in outcomes if o.spec.id == waiver.check), None)
    if outcome is None or (outcome.status is Status.ERROR and not outcome.results):
        return False
    mine = next((r for r in outcome.results if r.resource == waiver.resource), None)
    return mine is None or mine.status is not Status.ERROR


def _waiver_reports(
    waivers: Sequence[Waiver], used: set[Waiver], today: date, outcomes: Sequence[CheckOutcome]
) -> Iterable[WaiverReport]:
    for waiver in sorted(waivers, key=lambda w: (w.check, w.resource)):
        if waiver not in used and not _judged(outcomes, waiver):
            state = WaiverState.UNJUDGED
        elif not _is_active(waiver, today):
            state = WaiverState.EXPIRED
        elif waiver in used:
            state = WaiverState.ACTIVE
        else:
            state = WaiverState.UNUSED
        yield WaiverReport(waiver, state)
