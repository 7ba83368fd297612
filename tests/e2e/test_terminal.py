"""The report for people on a real terminal: colour only when stdout is one (and NO_COLOR or
--color never turn it off), the width of the terminal respected down to 80 columns, and passes
counted rather than listed unless --only all asks."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

SGR = re.compile(r"\x1b\[[0-9;]*m")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def on_terminal(*args: str, columns: int = 80, **env: str) -> tuple[int, str]:
    """Run the CLI with stdout on a pseudo-terminal of the given width; bounded in time."""
    leader, follower = pty.openpty()
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "TERM")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditor", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**base, "COLUMNS": str(columns), "TERM": "xterm", **env},
    )
    os.close(follower)
    chunks, deadline = [], time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the other end closed: Linux reports EIO
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    code = proc.wait(timeout=10)
    return code, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def piped(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **env},
    )


def test_a_terminal_gets_colour_and_the_report_fits_80_columns():
    code, text = on_terminal("run", "--demo")
    assert code == 2
    assert "\x1b[1;31mFAIL" in text  # failures red
    assert "\x1b[1;35mINCOMPLETE\x1b[0m" in text
    plain = SGR.sub("", text)
    widths = [len(line) for line in plain.splitlines()]
    assert max(widths) <= 80, [line for line in plain.splitlines() if len(line) > 80][:3]
    # The same check order as every other format: the worst finding first.
    overview = plain.split("\ncheck ", 1)[1]
    assert overview.index("ADM-001") < overview.index("ADM-002") < overview.index("AUTH-002")


@pytest.mark.parametrize(
    ("args", "env"), [((), {"NO_COLOR": "1"}), (("--color", "never"), {}), ((), {"TERM": "dumb"})]
)
def test_no_color_and_color_never_are_obeyed(args, env):
    _, text = on_terminal("run", "--demo", *args, **env)
    assert "FAIL" in text and "\x1b[" not in text


def test_a_pipe_gets_no_colour_unless_asked():
    assert "\x1b[" not in piped("run", "--demo").stdout
    assert "\x1b[1;31mFAIL" in piped("run", "--demo", "--color", "always").stdout


def test_wider_terminals_use_their_width():
    _, text = on_terminal("run", "--demo", "--color", "never", columns=140)
    widths = [len(line) for line in text.splitlines()]
    assert 100 < max(widths) <= 140


def test_passing_results_are_listed_only_with_only_all():
    failed = piped("run", "--demo", "--color", "never").stdout
    everything = piped("run", "--demo", "--color", "never", "--only", "all").stdout
    passing_line = "- user:alice.nguyen@tailspintoys.com (PASS"
    assert passing_line not in failed
    assert passing_line in everything


def test_only_is_checked_like_every_choice():
    done = piped("run", "--demo", "--only", "fails")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--only" in done.stderr
