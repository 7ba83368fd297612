"""What every report says about errors: the root causes, each once and numbered, and for a
check that could not judge, which cause stopped it and how to fix that, rather than the
remediation of a finding it never judged."""

from __future__ import annotations

from auditor.judge.model import AuditResult, CheckOutcome, RootCause, Status

MAX_NAMES = 20  # sources or checks named in one line; the rest are counted


def names(items: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMES])
    more = len(items) - MAX_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe(cause: RootCause) -> str:
    return (
        f"{cause.summary} ({plural(len(cause.sources), 'source')}: {names(cause.sources)}; "
        f"blocks {plural(len(cause.checks), 'check')}: {names(cause.checks) or 'none'})"
    )


def numbered(audit: AuditResult) -> list[tuple[int, RootCause]]:
    return list(enumerate(audit.causes, 1))


def stopped_by(audit: AuditResult, outcome: CheckOutcome) -> str:
    """Why a check did not run, pointing at the numbered causes instead of repeating them."""
    if not outcome.blocked_by:
        return outcome.reason
    numbers = [n for n, c in numbered(audit) if outcome.spec.id in c.checks]
    refs = ", ".join(f"[{n}]" for n in numbers)
    failed = names(list(outcome.blocked_by))
    word = "cause" if len(numbers) == 1 else "causes"
    return f"{failed} not collected ({word} {refs} above)" if refs else outcome.reason


def shows_remediation(outcome: CheckOutcome) -> bool:
    """A check in error judged nothing worth remedying: what to fix is the error."""
    return outcome.status is not Status.ERROR
