"""The overall deadline of one collection (`--deadline`): every wait, timeout and retry of
sign-in, HTTP, DNS and the message-trace quota is cut to the time left, so a service that
accepts a connection and never answers cannot hold a scheduled run past it."""

from __future__ import annotations

import time
from collections.abc import Callable


class DeadlineExceeded(Exception):
    """The deadline passed before the work was done: what is missing is `error: deadline`."""


class Deadline:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        if seconds <= 0:
            raise ValueError("a deadline must be above 0 seconds")
        self.seconds = seconds
        self.clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self.clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def check(self, what: str = "") -> None:
        if self.expired():
            raise DeadlineExceeded(self.message(what))

    def bound(self, seconds: float) -> float:
        """`seconds`, or less if the deadline comes sooner (never below a tenth of a second,
        which a timeout needs to be a timeout)."""
        return max(0.1, min(seconds, self.remaining()))

    def message(self, what: str = "") -> str:
        head = f"the deadline of {self.seconds:g} s passed"
        return f"{head} before {what}" if what else head


NO_DEADLINE = Deadline(10 * 365 * 24 * 3600.0)  # tests and library callers without one
