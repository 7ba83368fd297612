"""`run`: load or collect a snapshot, judge it against the baseline, render every asked-for
format, and deliver to a SIEM. `explain` judges the same way, with the checks of one NDR."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import baselines
from auditor import PROG, demo, snapshot
from auditor.collect import Collection, HttpClient, RetryPolicy
from auditor.commands import diff, siem
from auditor.common import jsonio
from auditor.common.errors import AuditInputError, UsageError
from auditor.common.timeutil import utc_now
from auditor.deliver import deliver, notify
from auditor.deliver.notify import check_url
from auditor.judge import baseline as baseline_mod
from auditor.judge import engine
from auditor.judge.model import AuditResult, Severity
from auditor.judge.registry import Check, required_sources, select
from auditor.reports import RENDERERS, json_report, notification, ocsf, table
from auditor.reports.terminal import Only, View

# Collects the named sources of a live tenant into a snapshot document.
Collect = Callable[[Sequence[str]], Collection]


@dataclass(frozen=True)
class Target:
    """What to audit: the bundled demo, a saved snapshot, or a live tenant. A live tenant is
    collected only once the baseline has loaded, so a typo in it costs no API calls."""

    demo: bool = False
    snapshot: Path | None = None
    tenant: str | None = None
    collect: Collect | None = None
    save_snapshot: Path | None = None
    max_snapshot_age: float = 7.0  # days; a saved snapshot older than this is named stale


@dataclass(frozen=True)
class Judged:
    result: AuditResult
    collection: Collection | None = None  # when a live tenant was read
    snapshot: snapshot.Snapshot | None = None  # what was judged, to judge it again
    selected: tuple[str, ...] = ()

    def deadline_line(self) -> str | None:
        """One line when the deadline stopped collection (the run then exits 2)."""
        if self.collection is None or not self.collection.missed:
            return None
        missed = self.collection.missed
        return (
            f"{PROG}: the deadline of {self.collection.deadline:g} s passed before "
            f"{len(missed)} source{'s' if len(missed) != 1 else ''} could be read "
            f"({', '.join(missed)}): the checks that need them are error"
        )


@dataclass(frozen=True)
class SiemTarget:
    url: str
    token: str
    spool: Path


def audit(
    target: Target,
    baseline_path: Path | None,
    checks: Mapping[str, Check],
    selected: Sequence[str],
) -> Judged:
    """Load (or collect) and judge, as `run` and `explain` both do."""
    modes = [m for m, on in (("--demo", target.demo), ("--snapshot", target.snapshot)) if on]
    if len(modes) > 1:
        raise UsageError("give one of --demo and --snapshot")
    live = not modes
    if live and not target.tenant:
        raise UsageError("give --demo, --snapshot FILE, or --tenant (with credentials)")

    if target.demo:
        path = baseline_path or demo.BASELINE
    else:
        path = baseline_path or baselines.RECOMMENDED
        if baseline_path is None:
            print(
                f"{PROG}: no --baseline given: judging against the recommended baseline, "
                "which approves no domains or connectors",
                file=sys.stderr,
            )
    # The baseline is checked before anything is collected: a typo costs no API calls.
    baseline = baseline_mod.load(Path(path))
    baseline.require_known_checks(checks)

    collection = None
    if live:
        assert target.collect is not None
        collection = target.collect(required_sources(checks, selected))
        parts = collection.parts()
        if target.save_snapshot:
            jsonio.atomic_write(target.save_snapshot, parts)
        read = snapshot.parse_parts(parts, f"live:{target.tenant}")
    elif target.demo:
        # The installed path differs between machines; name the demo the same everywhere.
        read = replace(snapshot.load(demo.SNAPSHOT), label="demo:snapshot.json")
    else:
        assert target.snapshot is not None
        read = snapshot.load(target.snapshot)

    # A saved snapshot can be old; the demo's age is part of the demo, a live one is fresh.
    stale_after = timedelta(days=target.max_snapshot_age) if target.snapshot else None
    result = engine.audit(
        read,
        baseline,
        checks,
        started_at=utc_now(),
        selected=selected,
        baseline_label="demo:baseline.json" if target.demo and not baseline_path else "",
        stale_after=stale_after,
    )
    return Judged(result, collection, read, tuple(selected))


def warn(result: AuditResult) -> None:
    """The warnings the reports carry, on stderr too, where a person running it looks."""
    for warning in result.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)


@dataclass(frozen=True)
class NotifyTarget:
    """Chat webhooks to tell after the run: their addresses (secrets), the message shape
    (auto: from each address), when (always, failure, change) and a link to the run."""

    urls: tuple[str, ...]
    shape: str = "auto"
    when: str = "failure"
    link: str | None = None

    def check(self, has_previous: bool) -> None:
        for number, url in enumerate(self.urls, 1):
            try:
                check_url(url, number)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        if self.when == "change" and not has_previous:
            raise UsageError(
                "--notify-on change needs --previous REPORT: without the last run's report "
                "there is nothing to compare with"
            )


@dataclass(frozen=True)
class Look:
    """What the person asked of the report for people: colour (auto, always, never) and
    which results to list (failed, all)."""

    color: str = "auto"
    only: str = "failed"

    def view(self, output: Path | None) -> View:
        """A file gets 100 columns and no colour; stdout gets its terminal's width (or
        $COLUMNS), and colour when it is a terminal and $NO_COLOR is not set (no-color.org)."""
        only = Only(self.only)
        if output is not None:
            return View(width=100, color=self.color == "always", only=only)
        width = shutil.get_terminal_size((100, 24)).columns
        if self.color == "auto":
            color = (
                sys.stdout.isatty()
                and not os.environ.get("NO_COLOR")
                and os.environ.get("TERM") != "dumb"
            )
        else:
            color = self.color == "always"
        return View(width=width, color=color, only=only)


def render(fmt: str, result: AuditResult, output: Path | None, look: Look) -> str:
    if fmt == "table":
        return table.render(result, look.view(output))
    return RENDERERS[fmt](result)


def emit(text: str, output: Path | None) -> None:
    """To stdout, or atomically to a file readable by its owner only."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        jsonio.atomic_write(output, text)


def run(
    target: Target,
    baseline_path: Path | None,
    checks: Mapping[str, Check],
    wanted: Sequence[str],
    outputs: Sequence[tuple[str, Path | None]],
    fail_on: Severity,
    previous_path: Path | None = None,
    siem: SiemTarget | None = None,
    look: Look | None = None,
    notify_target: NotifyTarget | None = None,
) -> int:
    if notify_target is not None:
        notify_target.check(previous_path is not None)  # before anything is collected
    previous = diff.load_document(previous_path) if previous_path else None
    judged = audit(target, baseline_path, checks, select(checks, wanted))
    result = judged.result
    warn(result)
    if previous is not None:
        current = json_report.document(result)
        found = diff.changes(
            previous, current, str(previous_path), _rejudged(previous, judged, checks)
        )
        result = replace(result, changes=found)
    for fmt, path in outputs:
        emit(render(fmt, result, path, look or Look()), path)
    code = result.exit_code(fail_on)
    if notify_target is not None:
        tell(notify_target, result)
    if siem is not None and not send_to_siem(siem, result):
        code = code or 2
    late = judged.deadline_line()
    if late:
        print(late, file=sys.stderr)
        code = 2
    return code


def _rejudged(
    previous: dict[str, Any], judged: Judged, checks: Mapping[str, Check]
) -> dict[str, Any] | None:
    """Today's snapshot judged against the previous run's baseline, when the baseline changed
    and the previous report kept it: a finding that still fails there went away because the
    baseline approved it, not because it was fixed."""
    kept = (previous.get("baseline") or {}).get("document")
    if (
        not isinstance(kept, dict)
        or judged.snapshot is None
        or previous.get("schema") != json_report.SCHEMA_ID
        or previous["baseline"].get("sha256") == judged.result.baseline_sha256
    ):
        return None
    try:
        before = baseline_mod.parse(jsonio.dumps(kept).encode("utf-8"), "previous baseline")
    except AuditInputError:
        return None  # kept by another version in a shape this one does not read
    again = engine.audit(
        judged.snapshot, before, checks, started_at=utc_now(), selected=judged.selected
    )
    return json_report.document(again)


def tell(target: NotifyTarget, result: AuditResult) -> None:
    """Post the summary where it is due; a failed post is reported and changes nothing else."""
    if not notification.due(result, target.when):
        print(
            f"{PROG}: no notification: --notify-on {target.when} and this run "
            + ("changed nothing" if target.when == "change" else "passed"),
            file=sys.stderr,
        )
        return
    summary = notification.summarise(result, target.link)
    http = HttpClient(RetryPolicy(max_attempts=3, deadline=60, read_timeout=20))
    for posted in notify(summary, target.urls, target.shape, http):
        if posted.ok:
            print(f"{PROG}: notified webhook {posted.number} ({posted.kind})", file=sys.stderr)
        else:
            print(
                f"{PROG}: notification to webhook {posted.number} ({posted.kind}) failed: "
                f"{posted.error}; the audit's result is unchanged",
                file=sys.stderr,
            )


def send_to_siem(target: SiemTarget, result: AuditResult) -> bool:
    delivery = deliver(ocsf.events(result), target.url, target.token, siem.client(), target.spool)
    if delivery.failed:
        print(
            f"{PROG}: SIEM delivery failed after {delivery.sent} events ({delivery.error}); "
            f"{delivery.failed} events kept in {delivery.spool}; resend them with "
            f"`{PROG} siem flush`",
            file=sys.stderr,
        )
        return False
    print(f"{PROG}: sent {delivery.sent} events to the SIEM", file=sys.stderr)
    return True
