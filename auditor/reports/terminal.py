"""How the report for people looks on a terminal: its width, colour and which results it
lists. The command decides (it knows whether stdout is a terminal); the renderer only obeys."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from auditor.judge.model import Severity, Status


def grid(rows: Any, **options: Any) -> str:
    """A plain-text table (tabulate), imported only when one is printed: a twentieth of a
    second of every run's start otherwise."""
    from tabulate import tabulate

    return str(tabulate(rows, **options))


class Only(Enum):
    FAILED = "failed"  # passes are counted, not listed
    ALL = "all"


@dataclass(frozen=True)
class View:
    width: int = 100
    color: bool = False
    only: Only = Only.FAILED

    def __post_init__(self) -> None:
        # Narrower than this, no layout reads well; wider, lines get too long to read.
        object.__setattr__(self, "width", max(60, min(self.width, 160)))


# SGR codes (ECMA-48): bold 1, red 31, green 32, yellow 33, magenta 35, cyan 36.
_STATUS_STYLE = {
    Status.FAIL: "1;31",
    Status.ERROR: "1;35",
    Status.PASS: "32",
    Status.WAIVED: "36",
}
_RUN_STYLE = {"pass": "32", "waived": "36", "fail": "1;31", "incomplete": "1;35", "error": "1;35"}
_SEVERITY_STYLE = {Severity.CRITICAL: "1;31", Severity.HIGH: "33"}


def paint(view: View, text: str, style: str | None) -> str:
    if not view.color or not style:
        return text
    return f"\x1b[{style}m{text}\x1b[0m"


def status(view: View, value: Status, text: str | None = None) -> str:
    return paint(view, text or value.value.upper(), _STATUS_STYLE.get(value))


def run_status(view: View, value: str) -> str:
    return paint(view, value.upper(), _RUN_STYLE.get(value))


def severity(view: View, value: Severity, text: str | None = None) -> str:
    return paint(view, text or value.value, _SEVERITY_STYLE.get(value))


def bold(view: View, text: str) -> str:
    return paint(view, text, "1")


def recolour(view: View, wrapped: str, token: str, painted: str) -> str:
    """Colour a token after wrapping, so escape codes never count towards the width. A token
    that the wrap split over two lines stays plain."""
    if not view.color or token == painted:
        return wrapped
    return wrapped.replace(token, painted, 1)
