"""One order of checks for every report for people: failing first, then those that could not
judge, waived, passed; within each, the worst result severity (a critical finding of a
high-severity check comes before a high one), then the id."""

from __future__ import annotations

from collections.abc import Iterable

from auditor.judge.model import CheckOutcome, Severity, Status

STATUS_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.WAIVED: 2, Status.PASS: 3}


def worst_rank(outcome: CheckOutcome) -> int:
    failing = [
        outcome.result_severity(r).rank
        for r in outcome.results
        if r.status in (Status.FAIL, Status.ERROR)
    ]
    return max(failing, default=outcome.severity.rank)


def worst(outcome: CheckOutcome) -> Severity:
    """The severity to show for a check: that of its worst failing result."""
    return list(Severity)[worst_rank(outcome)]


def ordered(outcomes: Iterable[CheckOutcome]) -> list[CheckOutcome]:
    return sorted(outcomes, key=lambda o: (STATUS_ORDER[o.status], -worst_rank(o), o.spec.id))
