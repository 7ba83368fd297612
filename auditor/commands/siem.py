"""`m365-audit siem flush`: resend what earlier runs could not deliver to the SIEM."""

from __future__ import annotations

import sys
from pathlib import Path

from auditor import PROG
from auditor.collect.http import HttpClient, RetryPolicy
from auditor.common.errors import UsageError
from auditor.deliver import siem
from auditor.deliver.siem import SpoolError


def check_target(url: str, spool: Path) -> None:
    try:
        siem.check_target(url, spool)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def client() -> HttpClient:
    return HttpClient(RetryPolicy(max_attempts=4, deadline=120))


def flush(url: str, token: str, spool: Path) -> int:
    """Exit 0 when every spooled event was delivered (or there was none), 2 otherwise."""
    try:
        done = siem.flush(spool, url, token, client())
    except SpoolError as exc:
        raise UsageError(f"{exc}; the file is left as it was") from None
    if done.claimed:
        print(
            f"{PROG}: {done.claimed} spool file(s) end in {siem.CLAIMED}: another flush is "
            f"sending them, or one was stopped while it did (then rename them back to "
            f"*.ndjson to send them again; events may then arrive twice, with the same "
            f"metadata.uid)",
            file=sys.stderr,
        )
    if not done.files:
        print(f"{PROG}: no undelivered events in {spool}", file=sys.stderr)
        return 2 if done.claimed else 0
    if done.kept:
        print(
            f"{PROG}: SIEM delivery failed ({done.error}); sent {done.sent} events, "
            f"{done.kept} still kept in {spool}",
            file=sys.stderr,
        )
        return 2
    print(
        f"{PROG}: sent {done.sent} spooled events from {done.files} file(s) to the SIEM",
        file=sys.stderr,
    )
    return 2 if done.claimed else 0
