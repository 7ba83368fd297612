"""The benchmark cannot rot: its smoke mode (a tiny tenant, seconds) runs here end to end and
prints every figure the README's performance section records. Nothing about time is
asserted (no timed assertions in the test suite)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_smoke_benchmark_prints_every_figure():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for figure in (
        "machine: ",
        "requests / page-count minimum: ",
        "wall time / critical path: ",
        "trace: ",
        "RSS ratio for 10x the rows: ",
        "judge / json.load",
        "peak RSS / snapshot size",
        "log-log slope of judge time",
    ):
        assert figure in out, figure
