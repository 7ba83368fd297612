"""The fault matrix: every place the tool reads from (each Graph route, each Exchange cmdlet,
the $batch items, DNS) crossed with every way a service misbehaves, run end to end through
the real CLI against the fake tenant on 127.0.0.1.

A cell is one (route, fault). What each cell must show:

- no traceback, an exit code of 0, 1 or 2, and the run over within its deadline;
- a **persistent** fault (the service keeps misbehaving): every check that reads the route is
  `error`. A check that passes is a *false pass*; one that fails is *not error* (its verdict
  rests on data that was incomplete);
- a **transient** fault (once, then the service recovers): every check that reads the route
  has the verdict of the fault-free run, result by result; `error` is safe but counted
  (*not recovered*); any other verdict is a false pass or a wrong result.

Routes whose checks do not overlap share one run (the faults are on different routes, and no
check reads two of them), so attribution stays exact and the matrix takes minutes, not hours.
`python -m tests.fault_matrix` prints the table; `tests/fault_matrix/test_matrix.py` runs it
in the test suite and fails on any false pass, hang or traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.test_live import cli
from tests.fake_tenant.data import add_policy_group
from tests.fake_tenant.dns_server import BLOCKLIST_ZONES
from tests.fake_tenant.server import FakeTenant, Fault

BASELINE = Path(__file__).resolve().parents[2] / "auditor" / "demo" / "baseline.json"

# Where each source is read: (route the fake counts and faults, sources read there). A test
# checks the table against the catalogue and against the routes a fault-free run touches.
ROUTES: dict[str, tuple[str, ...]] = {
    "graph:domains": ("graph.domains",),
    "graph:users": ("graph.users",),
    "graph:roleManagement/directory/roleAssignments": ("graph.roleAssignments",),
    "graph:roleManagement/directory/roleEligibilitySchedules": ("graph.roleEligibilitySchedules",),
    "graph:identity/conditionalAccess/policies": ("graph.conditionalAccessPolicies",),
    "graph:policies/identitySecurityDefaultsEnforcementPolicy": ("graph.securityDefaults",),
    "graph:reports/authenticationMethods/userRegistrationDetails": (
        "graph.userRegistrationDetails",
    ),
    "graph:servicePrincipals": ("graph.mailApps",),
    "graph:security/alerts_v2": ("graph.securityAlerts",),
    "graph:subscribedSkus": ("graph.subscribedSkus",),
    "graph:directory/subscriptions": ("graph.subscriptions",),
    "graph:$batch": ("graph.groupMembers", "graph.userRegistrationDetails"),
    "graph:batch-item:groups": ("graph.groupMembers",),
    "graph:batch-item:users": ("graph.groupMembers",),
    "exchange:Get-AcceptedDomain": ("exchange.acceptedDomains",),
    "exchange:Get-ApplicationAccessPolicy": ("exchange.applicationAccessPolicies",),
    "exchange:Get-BlockedSenderAddress": ("exchange.blockedSenders",),
    "exchange:Get-DkimSigningConfig": ("exchange.dkimSigningConfig",),
    "exchange:Get-Mailbox": ("exchange.forwardingMailboxes", "exchange.sharedMailboxes"),
    "exchange:Get-InboundConnector": ("exchange.inboundConnectors",),
    "exchange:Get-LimitsEnforcementStatus": ("exchange.limitsEnforcementStatus",),
    "exchange:Get-MessageTraceV2": ("exchange.messageTrace",),
    "exchange:Get-OutboundConnector": ("exchange.outboundConnectors",),
    "exchange:Get-HostedOutboundSpamFilterPolicy": ("exchange.outboundSpamPolicies",),
    "exchange:Get-RemoteDomain": ("exchange.remoteDomains",),
    "exchange:Get-InboxRule": ("exchange.restrictedInboxRules",),
    "exchange:Get-CASMailbox": ("exchange.smtpAuthMailboxes",),
    "exchange:Get-TransportConfig": ("exchange.transportConfig",),
    "exchange:Get-TransportRule": ("exchange.transportRules",),
    "dns:records": ("dns.records",),
    "dns:blocklists": ("dns.blocklists",),
}
SIGN_IN = ("token",)  # the authority: a fault there stops the whole audit


def service(route: str) -> str:
    if route.startswith("graph:batch-item:"):
        return "batch-item"
    return route.split(":", 1)[0]


@dataclass(frozen=True)
class Kind:
    """One way to misbehave. `make` gives the fault for a route; `persistent` says which
    outcome is right; `services` where it applies; `only` narrows it to some routes (for
    the costly kinds, whose code path is shared by every route of the service)."""

    name: str
    what: str
    services: frozenset[str]
    persistent: bool
    make: Callable[[], Fault] | None = None
    args: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    budget: float = 120.0  # seconds the run may take, at most
    alone: bool = False  # the fault reaches past its route (a token expiry): one route a run

    def routes(self) -> list[str]:
        chosen = [r for r in ROUTES if service(r) in self.services]
        return [r for r in chosen if r in self.only] if self.only else chosen


HTTP = frozenset({"graph", "exchange"})
MANY = 10_000  # "persistent": more times than any run asks
KINDS: tuple[Kind, ...] = (
    # Transient: once, then the service answers. The verdict must be the fault-free one.
    Kind("429+RA", "429 with Retry-After: 1", HTTP, False, lambda: Fault("429", 1, "1")),
    Kind("429", "429 without Retry-After", HTTP, False, lambda: Fault("429")),
    Kind("503", "503", HTTP, False, lambda: Fault("503")),
    Kind("500", "500", HTTP, False, lambda: Fault("500")),
    Kind("html-502", "a proxy's HTML 502 page", HTTP, False, lambda: Fault("html-502")),
    Kind("drop", "connection closed without an answer", HTTP, False, lambda: Fault("drop")),
    Kind("cut", "body shorter than its Content-Length", HTTP, False, lambda: Fault("cut")),
    Kind("bad-json", "200 with invalid JSON", HTTP, False, lambda: Fault("invalid-json")),
    Kind(
        "slow",
        "no answer within --timeout 1",
        HTTP,
        False,
        lambda: Fault("slow", delay=2.5),
        ("--timeout", "1"),
    ),
    Kind(
        "expired",
        "401: every token expires early",
        HTTP,
        False,
        lambda: Fault("expire"),
        alone=True,
    ),
    Kind(
        "ex-throttle",
        "Exchange's 429 with the wait in its message",
        frozenset({"exchange"}),
        False,
        lambda: Fault("exchange-throttle"),
    ),
    Kind(
        "item-429",
        "one $batch item 429",
        frozenset({"batch-item"}),
        False,
        lambda: Fault("429", 1, "1"),
    ),
    # Persistent: the service keeps misbehaving. Every check reading the route is error.
    Kind(
        "503*",
        "503 on every attempt (--retries 1)",
        HTTP,
        True,
        lambda: Fault("503", MANY),
        ("--retries", "1"),
    ),
    Kind(
        "RA-3600",
        "429 with Retry-After: 3600",
        HTTP,
        True,
        lambda: Fault("429", MANY, "3600"),
    ),
    Kind(
        "RA-2099",
        "429 with Retry-After: an HTTP date in 2099",
        HTTP,
        True,
        lambda: Fault("429", MANY, "Thu, 01 Jan 2099 00:00:00 GMT"),
    ),
    Kind(
        "502-page*",
        "a proxy's HTML 502 page on every attempt (--retries 1)",
        HTTP,
        True,
        lambda: Fault("html-502", MANY),
        ("--retries", "1"),
    ),
    Kind(
        "bad-json*",
        "invalid JSON on every attempt (--retries 1)",
        HTTP,
        True,
        lambda: Fault("invalid-json", MANY),
        ("--retries", "1"),
    ),
    Kind("nul-403", "403 with a body of NUL bytes", HTTP, True, lambda: Fault("nul-403", MANY)),
    Kind(
        "expired*",
        "401 again after the token was renewed",
        HTTP,
        True,
        lambda: Fault("expire", MANY),
        alone=True,
    ),
    Kind(
        "value-obj",
        "200 whose value is an object, not a list",
        HTTP,
        True,
        lambda: Fault("value-object", MANY),
    ),
    Kind(
        "repeat",
        "a nextLink that repeats",
        HTTP,
        True,
        lambda: Fault("repeat", MANY),
    ),
    Kind(
        "endless",
        "a new nextLink on every page, forever (--deadline 20)",
        HTTP,
        True,
        lambda: Fault("endless", MANY),
        ("--deadline", "20"),
        only=("graph:domains", "exchange:Get-InboundConnector"),
        budget=60.0,
    ),
    Kind(
        "empty+warn",
        "200, no records, and a warning",
        frozenset({"exchange"}),
        True,
        lambda: Fault("empty-warning", MANY),
    ),
    Kind(
        "truncated",
        "a partial page with a truncation warning",
        frozenset({"exchange"}),
        True,
        lambda: Fault("truncate", MANY),
    ),
    Kind(
        "item-404",
        "one $batch item 404",
        frozenset({"batch-item"}),
        True,
        lambda: Fault("404", MANY),
    ),
    Kind(
        "item-403",
        "one $batch item 403",
        frozenset({"batch-item"}),
        True,
        lambda: Fault("403", MANY),
    ),
    Kind(
        "item-500",
        "one $batch item 500",
        frozenset({"batch-item"}),
        True,
        lambda: Fault("500", MANY),
    ),
    Kind("servfail", "SERVFAIL to every query", frozenset({"dns"}), True),
    Kind(
        "dns-silent",
        "no DNS answer at all (--deadline 60)",
        frozenset({"dns"}),
        True,
        args=("--deadline", "60"),
        budget=90.0,
    ),
)
# The authority: a fault there must stop the audit in one line, exit 2, within the deadline.
SIGN_IN_KINDS: tuple[tuple[str, str, Fault, tuple[str, ...]], ...] = (
    (
        "hang",
        "the authority never answers (--deadline 10)",
        Fault("hang", MANY, delay=60),
        ("--deadline", "10"),
    ),
    ("bad-json", "the token answer is not JSON", Fault("invalid-json", MANY), ()),
    ("cut-token", "the token answer is cut after the token", Fault("truncated-token", MANY), ()),
    ("503*", "the authority answers 503", Fault("503", MANY), ()),
)


@dataclass
class Cell:
    route: str
    kind: str
    persistent: bool
    checks: tuple[str, ...]
    outcome: str = ""  # ok, not-recovered, false-pass, not-error, wrong, traceback, hang
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Matrix:
    cells: list[Cell] = field(default_factory=list)
    runs: int = 0
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.cells if c.outcome == outcome)


def checks_by_source() -> dict[str, set[str]]:
    """Each source, and the checks that read it, directly or through a source that needs it
    (a fault on Get-BlockedSenderAddress also stops the inbox rules read for those senders)."""
    from auditor.collect.catalogue import with_dependencies
    from auditor.judge.registry import discover

    found: dict[str, set[str]] = {}
    for check_id, check in discover().items():
        for source in with_dependencies(check.spec.requires, always=False):
            found.setdefault(source, set()).add(check_id)
    return found


def checks_of(route: str, by_source: dict[str, set[str]]) -> tuple[str, ...]:
    return tuple(sorted(set().union(*(by_source.get(s, set()) for s in ROUTES[route]))))


def rounds(routes: Sequence[str], by_source: dict[str, set[str]]) -> list[list[str]]:
    """Routes grouped so that no check reads two routes of one group."""
    groups: list[tuple[list[str], set[str]]] = []
    for route in sorted(routes, key=lambda r: -len(checks_of(r, by_source))):
        checks = set(checks_of(route, by_source))
        for members, taken in groups:
            if not taken & checks:
                members.append(route)
                taken |= checks
                break
        else:
            groups.append(([route], set(checks)))
    return [members for members, _ in groups]


def run_cli(
    fake: FakeTenant, args: Iterable[str], timeout: float
) -> tuple[int | None, str, str, float]:
    """The CLI against `fake` (as the end-to-end tests run it); exit code None on a hang."""
    started = time.monotonic()
    try:
        done = cli(fake, *args, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", "", time.monotonic() - started
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def verdicts(report: dict) -> dict[str, tuple[str, dict[str, str]]]:
    return {
        c["id"]: (c["status"], {r["resource"]: r["status"] for r in c["results"]})
        for c in report["checks"]
    }


def _inject(fake: FakeTenant, kind: Kind, route: str) -> Callable[[], bool]:
    """Put the fault in place; return how to tell, after the run, whether it ever fired (a
    cell whose fault never fires tests nothing, and says so)."""
    if service(route) == "dns":
        scope = route.split(":", 1)[1]
        fake.dns.misbehave[scope] = "silent" if kind.name == "dns-silent" else "servfail"
        blocklist = scope == "blocklists"
        return lambda: any(
            name.endswith(BLOCKLIST_ZONES) == blocklist
            for key in fake.dns.counts
            for name in [key.split(" ", 1)[1]]
        )
    assert kind.make is not None
    fault = kind.make()
    planned = fault.times
    fake.inject(route, fault)
    return lambda: fault.times < planned


def judge_cells(
    cells: list[Cell],
    code: int | None,
    stdout: str,
    stderr: str,
    expected: dict[str, tuple[str, dict[str, str]]],
) -> None:
    """Set each cell's outcome from one run."""
    if code is None:
        for cell in cells:
            cell.outcome, cell.detail = "hang", "the run did not end within its budget"
        return
    if "Traceback" in stderr or code not in (0, 1, 2):
        for cell in cells:
            cell.outcome, cell.detail = "traceback", stderr.strip().splitlines()[-1:][0:1]
            cell.detail = " ".join(cell.detail)
        return
    try:
        got = verdicts(json.loads(stdout))
    except (ValueError, KeyError):
        for cell in cells:
            cell.outcome, cell.detail = "traceback", f"no JSON report (exit {code}): {stderr[:200]}"
        return
    for cell in cells:
        problems = []
        outcome = "ok"
        for check in cell.checks:
            status, results = got.get(check, ("missing", {}))
            if cell.persistent:
                # The check is error, or (a fault on part of a source: one $batch item,
                # some DNS names) the resources it touched are, and nothing passes that
                # did not pass without the fault.
                baseline = expected[check][1]
                newly = [r for r, s in results.items() if s == "pass" and baseline.get(r) != "pass"]
                if status == "pass" or newly:
                    outcome = "false-pass"
                    problems.append(f"{check} {status}, passing {', '.join(newly) or 'all'}")
                elif status != "error" and "error" not in results.values():
                    outcome = "not-error" if outcome == "ok" else outcome
                    problems.append(f"{check} {status}")
            elif (status, results) != expected[check]:
                if status == "error":
                    outcome = "not-recovered" if outcome == "ok" else outcome
                    problems.append(f"{check} error")
                else:
                    wrongly_passing = any(
                        results.get(r) == "pass" and s != "pass"
                        for r, s in expected[check][1].items()
                    ) or (status == "pass" and expected[check][0] != "pass")
                    outcome = "false-pass" if wrongly_passing else "wrong"
                    problems.append(f"{check} {status}")
        cell.outcome, cell.detail = outcome, ", ".join(problems)


def _plan(by_source: dict[str, set[str]]) -> list[tuple[Kind, list[Cell]]]:
    plan = []
    for kind in KINDS:
        routes = kind.routes()
        groups = [[r] for r in routes] if kind.alone else rounds(routes, by_source)
        for group in groups:
            cells = [Cell(r, kind.name, kind.persistent, checks_of(r, by_source)) for r in group]
            plan.append((kind, cells))
    return plan


def _run_round(
    fake: FakeTenant,
    kind: Kind,
    cells: list[Cell],
    expected: dict[str, tuple[str, dict[str, str]]],
) -> None:
    fake.reset()
    fired = [_inject(fake, kind, cell.route) for cell in cells]
    checks = sorted({c for cell in cells for c in cell.checks})
    args = ["run", "--baseline", str(BASELINE), "--format", "json", *kind.args]
    for check in checks:
        args += ["--check", check]
    code, stdout, stderr, seconds = run_cli(fake, args, kind.budget)
    judge_cells(cells, code, stdout, stderr, expected)
    for cell, reached in zip(cells, fired, strict=True):
        cell.seconds = seconds
        if not reached() and cell.outcome in ("ok", "not-recovered", "not-error"):
            cell.outcome, cell.detail = "unreached", "the fault never fired: nothing was tested"


def _sign_in_cells(fake: FakeTenant) -> list[Cell]:
    cells = []
    for name, _what, fault, args in SIGN_IN_KINDS:
        fake.reset()
        fake.inject("token", Fault(fault.kind, fault.times, fault.retry_after, fault.delay))
        cell = Cell("token", name, True, ())
        code, _, stderr, seconds = run_cli(
            fake, ["run", "--baseline", str(BASELINE), "--format", "json", *args], 60
        )
        cell.seconds = seconds
        if code is None:
            cell.outcome, cell.detail = "hang", "the run did not end within 60 s"
        elif "Traceback" in stderr or code != 2 or stderr.count("\n") != 1:
            cell.outcome, cell.detail = "traceback", f"exit {code}: {stderr.strip()[:200]}"
        else:
            cell.outcome, cell.detail = "ok", stderr.strip()[:120]
        cells.append(cell)
    return cells


def run(workers: int = 2, progress: Callable[[str], None] | None = None) -> Matrix:
    """Run every cell, `workers` fake tenants side by side."""
    by_source = checks_by_source()
    plan = _plan(by_source)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        for i in range(workers):
            (Path(folder) / f"fake{i}").mkdir()
        fakes = [FakeTenant(Path(folder) / f"fake{i}") for i in range(workers)]
        for fake in fakes:
            # A group Conditional Access names that holds no role: the collector then asks
            # checkMemberGroups for each admin, a route the demo tenant alone never takes.
            add_policy_group(fake.data, members=3)
            fake.__enter__()
        try:
            code, stdout, stderr, _ = run_cli(
                fakes[0], ["run", "--baseline", str(BASELINE), "--format", "json"], 120
            )
            if code is None or "Traceback" in stderr:
                raise RuntimeError(f"the fault-free run did not end well: {stderr[-500:]}")
            expected = verdicts(json.loads(stdout))
            matrix = Matrix(runs=1)
            pending = list(plan)

            def worker(fake: FakeTenant) -> None:
                while pending:
                    try:
                        kind, cells = pending.pop(0)
                    except IndexError:
                        return
                    _run_round(fake, kind, cells, expected)
                    matrix.cells.extend(cells)
                    matrix.runs += 1
                    if progress:
                        progress(f"{kind.name}: {', '.join(c.outcome for c in cells)}")

            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(worker, fakes))
            matrix.cells.extend(_sign_in_cells(fakes[0]))
            matrix.runs += len(SIGN_IN_KINDS)
        finally:
            for fake in fakes:
                fake.__exit__(None, None, None)
    matrix.seconds = time.monotonic() - started
    return matrix


OUTCOMES = (
    "ok",
    "not-recovered",
    "not-error",
    "wrong",
    "false-pass",
    "hang",
    "traceback",
    "unreached",
)


def table(matrix: Matrix) -> str:
    """One row per fault, then the totals: the project's reliability figure."""
    rows = [(k.name, k.what, k.persistent) for k in KINDS]
    rows += [(f"sign-in {name}", what, True) for name, what, _, _ in SIGN_IN_KINDS]
    lines = [
        "| fault | | cells | " + " | ".join(OUTCOMES) + " |",
        "|---|---|---:|" + "---:|" * len(OUTCOMES),
    ]
    for name, what, persistent in rows:
        if name.startswith("sign-in "):
            cells = [c for c in matrix.cells if c.route == "token" and c.kind == name[8:]]
        else:
            cells = [c for c in matrix.cells if c.kind == name and c.route != "token"]
        counts = [sum(1 for c in cells if c.outcome == o) for o in OUTCOMES]
        kind = "for good" if persistent else "once"
        lines.append(
            f"| `{name}` | {what} ({kind}) | {len(cells)} | " + " | ".join(map(str, counts)) + " |"
        )
    totals = [matrix.count(o) for o in OUTCOMES]
    lines.append(
        f"| **all** | | **{len(matrix.cells)}** | " + " | ".join(f"**{t}**" for t in totals) + " |"
    )
    return "\n".join(lines)


def problems(matrix: Matrix) -> list[str]:
    bad = ("false-pass", "not-error", "wrong", "hang", "traceback", "unreached")
    return [
        f"{c.route} x {c.kind}: {c.outcome} ({c.detail})" for c in matrix.cells if c.outcome in bad
    ]


def machine() -> str:
    return f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}"
