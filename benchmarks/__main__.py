"""`python -m benchmarks`: the tool at tenant scale, measured in one run on this machine.

Collection runs the real CLI against the project's fake tenant on 127.0.0.1 with a latency
added to every request (50 ms by default) and a large tenant generated into it; judging runs
the real CLI's code on generated snapshots of growing size. It prints each figure as a ratio,
with the machine it ran on. Nothing here is asserted: the test suite runs `--smoke` (a tiny
tenant) only so that this cannot rot.
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from auditor.common import jsonio
from benchmarks.tenants import snapshot_document

ROOT = Path(__file__).resolve().parents[1]
BATCHES_IN_FLIGHT = 4  # auditor.collect.graph.BATCH_CONCURRENCY


@dataclass(frozen=True)
class Sizes:
    mailboxes: int  # users and mailboxes of the collected tenant
    admins: int  # active role assignments added
    eligible: int  # PIM-eligible admins added
    group_members: int  # members of a group Conditional Access names
    trace_mailboxes: int  # the trace run: mailboxes
    trace_rows: int  # the trace run: message trace rows (the quota allows 100 queries of 5000)
    judge: tuple[int, ...]  # snapshot sizes judged (users)
    latency: float


FULL = Sizes(20_000, 2_000, 300, 10_000, 100_000, 450_000, (10_000, 100_000, 1_000_000), 0.05)
SMOKE = Sizes(200, 20, 5, 100, 500, 2_000, (200, 2_000), 0.001)


@dataclass(frozen=True)
class Child:
    code: int
    wall: float  # seconds
    rss_mb: float  # peak, in megabytes (10^6 bytes)
    cpu: float  # seconds, user and system


# The CLI, started so that it reports its own peak memory. The peak that wait4() gives a
# parent (ru_maxrss) is no use here: Linux carries the high-water mark of the address space a
# child replaces at exec into the child's figure, and subprocess starts children with vfork,
# so every child "peaked" at this process's own size (the fake tenant's generated data: 556
# MB for a collection that never used more than 180 MB). VmHWM belongs to the address space
# the program runs in, so it is read there, as the program ends.
_REPORT_PEAK = """
import atexit, os, runpy, sys
def _peak():
    with open("/proc/self/status") as status, open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM")).split()[1])
atexit.register(_peak)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def _run(module: str, args: list[str], env: dict[str, str], timeout: float) -> Child:
    """What `python -m module args` cost: exit code, wall time, its own peak memory, CPU."""
    with tempfile.TemporaryDirectory() as folder:
        peak_file = Path(folder) / "peak"
        started = time.perf_counter()
        with open(Path(folder) / "stderr", "wb") as stderr:  # a pipe nobody reads could fill
            process = subprocess.Popen(
                [sys.executable, "-c", _REPORT_PEAK, module, *args],
                env={**env, "BENCH_PEAK_FILE": str(peak_file)},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=ROOT,
            )
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                raise TimeoutError(f"{module} {args[:3]} took longer than {timeout:.0f} s")
            time.sleep(0.02)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        try:
            # VmHWM is in kibibytes; every size here is in megabytes (10^6 bytes), as the
            # snapshot's size is, so that their ratio is one of like units.
            peak_mb = int(peak_file.read_text()) * 1024 / 1e6
        except (OSError, ValueError):
            peak_mb = math.nan  # not Linux, or the child died before it could say
    return Child(code, wall, peak_mb, usage.ru_utime + usage.ru_stime)


def _fake(folder: str, mailboxes: int, trace_rows: int = 0):
    """The project's fake tenant with realistic page sizes (the tests page it small)."""
    sys.path.insert(0, str(ROOT))
    from tests.fake_tenant import FakeTenant

    return FakeTenant(
        Path(folder),
        graph_page_size=999,
        exchange_page_size=1000,
        extra_mailboxes=mailboxes,
        extra_trace_rows=trace_rows,
    )


def _collect(fake, folder: str) -> tuple[Path, Child]:
    """`m365-audit collect` of every source from the fake: the snapshot and what it cost."""
    out = Path(folder) / "snapshot.json"
    env = fake.env(M365_AUDIT_CLIENT_SECRET=fake.app.secret)
    child = _run("auditor", ["collect", "-o", str(out), *fake.cli_args()], env, timeout=1800)
    if child.code not in (0, 2):
        raise RuntimeError(f"collect exited {child.code}")
    return out, child


def collection(sizes: Sizes) -> dict[str, float]:
    from tests.fake_tenant.data import add_admins, add_policy_group

    with tempfile.TemporaryDirectory() as folder:
        fake = _fake(folder, sizes.mailboxes)
        add_admins(fake.data, sizes.admins, sizes.eligible)
        add_policy_group(fake.data, sizes.group_members)
        with fake:
            fake.latency = sizes.latency
            fake_cpu = time.process_time()
            out, child = _collect(fake, folder)
            fake_cpu = time.process_time() - fake_cpu
            wall, rss, client_cpu = child.wall, child.rss_mb, child.cpu
            served = fake.requests_served
            trace_minimum = _trace_minimum(json.loads(out.read_text()))
            minimum = (
                served
                - fake.list_pages
                + fake.list_pages_minimum
                - fake.trace_queries
                + trace_minimum
            )
            # The critical path: sign-in (discovery, two tokens), then the longest chain of
            # requests that must follow one another: the role assignments' pages and the
            # group batches that need them (the registration report's pages go alongside),
            # then the registration batches that need both; or the users' pages; or the
            # trace queries.
            admins = sizes.admins + sizes.eligible + 15  # the demo's own, and those added
            chains = {
                # role assignments' pages, then the group's name and the admins' membership
                # batches (4 at a time), beside the registration report's pages (they need
                # nothing); then the batches of admins the report does not mark (eligible).
                "admins": max(
                    _pages(sizes.admins + 12, 100)
                    + 1
                    + _pages(_pages(admins, 20), BATCHES_IN_FLIGHT),
                    _pages(sizes.admins + 12, 100),
                )
                + _pages(_pages(sizes.eligible + 3, 20), BATCHES_IN_FLIGHT),
                "users": _pages(sizes.mailboxes + 44, 999),
                "mailboxes": _pages(sizes.mailboxes + 44, 1000),
                "trace": trace_minimum,
            }
            critical = (3 + max(chains.values())) * sizes.latency
    return {
        "requests": served,
        "requests_minimum": minimum,
        "requests_ratio": served / minimum,
        "wall": wall,
        "critical_path": critical,
        "wall_ratio": wall / critical,
        "collect_rss_mb": rss,
        "client_cpu": client_cpu,
        "fake_cpu": fake_cpu,
    }


def _pages(items: int, per_page: int) -> int:
    return max(1, math.ceil(items / per_page))


def _trace_minimum(document: dict) -> int:
    trace = document["sources"]["exchange.messageTrace"]["data"]
    days = 7
    return max(_pages(int(trace.get("Rows") or 0), 5000), math.ceil(days / 10))


def trace_run(sizes: Sizes) -> dict[str, float]:
    """A large trace: time and the collector's peak memory, with rows ten times fewer for the
    memory comparison (memory should follow the aggregate, not the rows)."""
    figures: dict[str, float] = {}
    for label, rows in (("small", sizes.trace_rows // 10), ("large", sizes.trace_rows)):
        with (
            tempfile.TemporaryDirectory() as folder,
            _fake(folder, sizes.trace_mailboxes, rows) as fake,
        ):
            _, child = _collect(fake, folder)
            figures[f"trace_{label}_rows"] = rows
            figures[f"trace_{label}_wall"] = child.wall
            figures[f"trace_{label}_rss_mb"] = child.rss_mb
    return figures


_MEASURE = """
import json, resource, sys, time
from datetime import UTC, datetime
from pathlib import Path
from auditor import demo, snapshot
from auditor.judge import baseline, engine
from auditor.judge.registry import discover
path = Path(sys.argv[1])
raw = path.read_bytes()
t = time.perf_counter(); json.loads(raw); load = time.perf_counter() - t
checks, base = discover(), baseline.load(demo.BASELINE)
del raw  # what run --snapshot does: the file read, hashed and parsed a slice at a time
t = time.perf_counter(); read = snapshot.load(path); parse = time.perf_counter() - t
t = time.perf_counter(); engine.audit(read, base, checks, datetime.now(UTC))
judge = time.perf_counter() - t
print(json.dumps({"load": load, "parse": parse, "judge": judge}))
"""


def judging(sizes: Sizes) -> list[dict[str, float]]:
    rows = []
    for users in sizes.judge:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "snapshot.json"
            document = snapshot_document(users)
            path.write_text(json.dumps(document))  # compact: the smallest file of the data
            size_mb = path.stat().st_size / 1e6
            done = subprocess.run(
                [sys.executable, "-c", _MEASURE, str(path)],
                capture_output=True,
                text=True,
                timeout=1800,
                cwd=ROOT,
            )
            if done.returncode:
                raise RuntimeError(done.stderr[-2000:])
            times = json.loads(done.stdout)
            # Peak memory of the whole CLI judging the file (no other copy around), then the
            # same data in the layout `collect` writes (indented): the file an admin has.
            child = _judge_cli(path)
            path.write_text(jsonio.dumps(document))
            del document
            written = _judge_cli(path)
            rows.append(
                {
                    "users": users,
                    "size_mb": size_mb,
                    "cli_wall": child.wall,
                    "rss_mb": child.rss_mb,
                    "written_size_mb": path.stat().st_size / 1e6,
                    "written_rss_mb": written.rss_mb,
                    **times,
                }
            )
    return rows


def _judge_cli(path: Path) -> Child:
    """`m365-audit run --snapshot` of the file, its JSON report thrown away."""
    return _run(
        "auditor",
        [
            *("run", "--snapshot", str(path), "--max-snapshot-age", "100000"),
            *("--format", "json", "-o", os.devnull),
        ],
        dict(os.environ),
        timeout=1800,
    )


def machine() -> str:
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            total_kb = int(handle.readline().split()[1])
        memory = f", {total_kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs{memory}, Python {platform.python_version()}"
    )


def _compile_project() -> None:
    """The CLI starts from bytecode, as an installed tool does (pip compiles it as it installs).
    Where PYTHONDONTWRITEBYTECODE is set, as on the machine the README's figures come from,
    every child would compile about a hundred of the project's modules again: 0.16 s of each
    start, measured with cProfile."""
    for package in ("auditor", "checks"):
        compileall.compile_dir(ROOT / package, quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a tiny tenant: seconds, not minutes")
    parser.add_argument("--latency", type=float, help="seconds per request (default 0.05)")
    parser.add_argument("--skip-trace", action="store_true", help="leave out the trace run")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    if args.latency is not None:
        sizes = Sizes(**{**sizes.__dict__, "latency": args.latency})
    print(f"machine: {machine()}")
    if not args.smoke:
        _compile_project()
    c = collection(sizes)
    print(
        f"collection: {sizes.mailboxes:,} mailboxes, {sizes.admins:,} more role assignments, "
        f"{sizes.eligible} eligible admins, a {sizes.group_members:,}-member group named by "
        f"Conditional Access, {sizes.latency * 1000:.0f} ms a request"
    )
    print(
        f"  requests / page-count minimum: {c['requests_ratio']:.2f} "
        f"({c['requests']} / {c['requests_minimum']})"
    )
    print(
        f"  wall time / critical path: {c['wall_ratio']:.2f} "
        f"({c['wall']:.1f} s / {c['critical_path']:.1f} s); peak RSS {c['collect_rss_mb']:.0f} MB"
    )
    print(
        f"  CPU: the tool {c['client_cpu']:.1f} s, the fake tenant serving it "
        f"{c['fake_cpu']:.1f} s (both on this machine's {os.cpu_count()} CPUs)"
    )
    if not args.skip_trace:
        t = trace_run(sizes)
        print(
            f"trace: {sizes.trace_mailboxes:,} mailboxes, {t['trace_large_rows']:,} trace rows: "
            f"{t['trace_large_wall']:.1f} s, peak RSS {t['trace_large_rss_mb']:.0f} MB "
            f"(with {t['trace_small_rows']:,} rows: {t['trace_small_wall']:.1f} s, "
            f"{t['trace_small_rss_mb']:.0f} MB; RSS ratio for 10x the rows: "
            f"{t['trace_large_rss_mb'] / t['trace_small_rss_mb']:.2f})"
        )
    rows = judging(sizes)
    print(
        "judging (users, compact snapshot MB, json.load s, read+parse+validate s, judge s, judge / "
        "json.load, peak RSS / snapshot size; the same with the file as collect writes it, "
        "indented: its MB, peak RSS / its size):"
    )
    for r in rows:
        print(
            f"  {r['users']:>9,}  {r['size_mb']:7.1f}  {r['load']:6.2f}  {r['parse']:6.2f}  "
            f"{r['judge']:6.2f}  {r['judge'] / r['load']:5.2f}  "
            f"{r['rss_mb'] / r['size_mb']:5.2f}  |  {r['written_size_mb']:7.1f}  "
            f"{r['written_rss_mb'] / r['written_size_mb']:5.2f}"
        )
    first, last = rows[0], rows[-1]
    slope = math.log(last["judge"] / first["judge"]) / math.log(last["users"] / first["users"])
    print(
        f"  log-log slope of judge time from {first['users']:,} to {last['users']:,} users: "
        f"{slope:.2f} (1.00 is linear)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
