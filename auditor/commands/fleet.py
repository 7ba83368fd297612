"""Many tenants: audit each concurrently, one report per tenant and a combined summary.

One tenant's failure (sign-in, bad baseline, an API down) is that tenant's `error` and never
stops the others. `--shard K/N` takes a stable share, so a CI matrix can spread a fleet."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import baselines
from auditor import PROG, snapshot
from auditor.collect import (
    AuthError,
    Certificate,
    ClientSecret,
    CollectOptions,
    Credential,
    GitHubFederation,
    LiveAccess,
    collect_tenant,
    resolve,
)
from auditor.common import jsonio
from auditor.common.errors import AuditInputError, UsageError
from auditor.common.redact import redact
from auditor.common.timeutil import utc_now
from auditor.judge import baseline as baseline_mod
from auditor.judge import engine
from auditor.judge.model import Severity, Status
from auditor.judge.registry import Check, required_sources
from auditor.reports import json_report, markdown, terminal

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "fleet.schema.json"


@dataclass(frozen=True)
class FleetTenant:
    name: str
    tenant: str
    client_id: str
    credential: Mapping[str, Any]
    cloud: str = "global"
    baseline: str | None = None
    authority: str | None = None
    graph_url: str | None = None
    exchange_url: str | None = None
    dns_server: str | None = None


@dataclass(frozen=True)
class TenantRun:
    name: str
    status: str  # pass | fail | error | waived
    exit_code: int
    failed: int = 0
    errored: int = 0
    report: str = ""
    error: str = ""


@cache
def _validator():
    return jsonio.load_schema(SCHEMA_PATH)


def load(path: Path) -> list[FleetTenant]:
    document = jsonio.parse_json(jsonio.read_bytes(path), str(path))
    jsonio.validate(_validator(), document, str(path))
    base = path.parent
    tenants = []
    names: dict[str, int] = {}
    for i, entry in enumerate(document["tenants"]):
        if entry["name"] in names:
            raise AuditInputError.one(
                str(path), f"$.tenants[{i}].name", f"duplicate of $.tenants[{names[entry['name']]}]"
            )
        names[entry["name"]] = i
        baseline = entry.get("baseline")
        tenants.append(
            FleetTenant(
                name=entry["name"],
                tenant=entry["tenant"],
                client_id=entry["clientId"],
                credential=entry["credential"],
                cloud=entry.get("cloud", "global"),
                baseline=str(base / baseline) if baseline else None,
                authority=entry.get("authority"),
                graph_url=entry.get("graphUrl"),
                exchange_url=entry.get("exchangeUrl"),
                dns_server=entry.get("dnsServer"),
            )
        )
    return tenants


def shard(tenants: Sequence[FleetTenant], index: int, count: int) -> list[FleetTenant]:
    """Shard `index` (1-based) of `count`: by a hash of the name, so adding a tenant moves no
    other tenant to another shard."""

    def bucket(name: str) -> int:
        return int(hashlib.sha256(name.encode()).hexdigest(), 16) % count

    return [t for t in tenants if bucket(t.name) == index - 1]


def _credential(spec: Mapping[str, Any], base: Path) -> Credential:
    kind = spec["type"]
    if kind == "certificate":
        path = Path(spec["path"])
        return Certificate(
            path if path.is_absolute() else base / path,
            password_env=spec.get("passwordEnv", "M365_AUDIT_CERTIFICATE_PASSWORD"),
            send_x5c=bool(spec.get("sendX5c")),
        )
    if kind == "secretEnv":
        return ClientSecret(spec["env"])
    return GitHubFederation(spec.get("audience"))


def audit_tenant(
    entry: FleetTenant,
    checks: Mapping[str, Check],
    selected: Sequence[str],
    sources: Sequence[str],
    out_dir: Path,
    fail_on: Severity,
    options: CollectOptions,
    base: Path,
) -> TenantRun:
    try:
        baseline = baseline_mod.load(
            Path(entry.baseline) if entry.baseline else baselines.RECOMMENDED
        )
        baseline.require_known_checks(checks)
        access = LiveAccess(
            entry.tenant,
            entry.client_id,
            _credential(entry.credential, base),
            resolve(entry.cloud, entry.authority, entry.graph_url, entry.exchange_url),
        )
        tenant_options = replace(options, dns_server=entry.dns_server or options.dns_server)
        collection = collect_tenant(access, sources, tenant_options)
        parts = collection.parts()
        read = snapshot.parse_parts(parts, f"live:{entry.tenant}")
        result = engine.audit(read, baseline, checks, started_at=utc_now(), selected=selected)
    except Exception as exc:  # whatever breaks one tenant must not stop the others
        if isinstance(exc, AuditInputError):
            message = " / ".join(exc.lines())
        elif isinstance(exc, AuthError | ValueError | OSError):
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {redact(str(exc))}"
        return TenantRun(entry.name, "error", 2, error=(message.splitlines() or [""])[0][:300])
    folder = out_dir / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    jsonio.atomic_write(folder / "snapshot.json", parts)
    jsonio.atomic_write(folder / "report.json", json_report.render(result))
    jsonio.atomic_write(folder / "summary.md", markdown.render(result))
    late = ""
    if collection.missed:
        late = (
            f"the deadline of {collection.deadline:g} s passed before "
            f"{', '.join(collection.missed)} could be read"
        )
    return TenantRun(
        entry.name,
        "error" if late else result.status.value,
        2 if late else result.exit_code(fail_on),
        failed=result.count(Status.FAIL),
        errored=result.count(Status.ERROR),
        report=str(folder / "report.json"),
        error=late,
    )


def run(
    tenants: Sequence[FleetTenant],
    checks: Mapping[str, Check],
    selected: Sequence[str],
    sources: Sequence[str],
    out_dir: Path,
    fail_on: Severity,
    options: CollectOptions,
    jobs: int,
    base: Path,
    progress: Callable[[str], None] = lambda _t: None,
) -> list[TenantRun]:
    out_dir.mkdir(parents=True, exist_ok=True)

    def one(entry: FleetTenant) -> TenantRun:
        progress(f"{entry.name}: auditing {entry.tenant}")
        outcome = audit_tenant(entry, checks, selected, sources, out_dir, fail_on, options, base)
        progress(f"{entry.name}: {outcome.status}")
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = list(pool.map(one, tenants))
    summary = {
        "schema": "m365-mail-auditor/fleet-summary",
        "schemaVersion": "1.0",
        "tenants": [run.__dict__ for run in sorted(runs, key=lambda r: r.name)],
    }
    jsonio.atomic_write(out_dir / "summary.json", jsonio.dumps(summary))
    return sorted(runs, key=lambda r: r.name)


def exit_code(runs: Sequence[TenantRun]) -> int:
    """As for one tenant: a tenant that could not be judged in full (2) outweighs findings (1),
    whose reports are written all the same."""
    codes = {r.exit_code for r in runs}
    return 2 if 2 in codes else (1 if 1 in codes else 0)


def fleet(
    tenants_path: Path,
    checks: Mapping[str, Check],
    selected: Sequence[str],
    shard_spec: str | None,
    out_dir: Path,
    fail_on: Severity,
    options: CollectOptions,
    jobs: int,
    progress: Callable[[str], None],
) -> int:
    """The `fleet` command: audit each tenant of the fleet file (or of one shard of it)."""
    tenants = load(tenants_path)
    if shard_spec:
        try:
            index, count = (int(p) for p in shard_spec.split("/"))
            if not 1 <= index <= count:
                raise ValueError
        except ValueError:
            raise UsageError(f"--shard must be K/N with 1 <= K <= N, not {shard_spec!r}") from None
        tenants = shard(tenants, index, count)
    # Every check is known to the baselines' waivers; only the selected ones run.
    runs = run(
        tenants,
        checks,
        selected,
        required_sources(checks, selected),
        out_dir,
        fail_on,
        options,
        jobs,
        tenants_path.parent,
        progress,
    )
    rows = [[r.name, r.status.upper(), r.failed, r.errored, r.error or r.report] for r in runs]
    sys.stdout.write(
        terminal.grid(rows, headers=["tenant", "status", "failed", "errored", "report or error"])
        + "\n"
    )
    print(f"{PROG}: {len(runs)} tenants; summary in {out_dir / 'summary.json'}", file=sys.stderr)
    return exit_code(runs)
