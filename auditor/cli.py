"""The `m365-audit` command line: thin; every decision lives in the modules it calls."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import baselines
from auditor import __version__, drift, engine, fleet, jsonio
from auditor import baseline as baseline_mod
from auditor import snapshot as snapshot_mod
from auditor.auth import (
    AuthError,
    Certificate,
    ClientSecret,
    Credential,
    DeviceCode,
    GitHubFederation,
    TokenSource,
)
from auditor.clouds import CLOUDS, resolve
from auditor.collect import CollectOptions, Collector
from auditor.errors import AuditInputError
from auditor.explain import recognise
from auditor.explain import render as render_explanation
from auditor.http import HttpClient, RetryPolicy
from auditor.model import Severity
from auditor.redact import redact, register
from auditor.registry import Check, CheckDefinitionError, discover
from auditor.reports import RENDERERS, json_report, ocsf
from auditor.reports.changes import render_text as render_changes
from auditor.siem import deliver
from auditor.sources import ALWAYS, CATALOGUE, describe, with_dependencies
from auditor.timeutil import parse_time, utc_now

PROG = "m365-audit"
DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_SNAPSHOT = DEMO_DIR / "snapshot.json"
DEMO_BASELINE = DEMO_DIR / "baseline.json"

# Every option that a scheduled workflow sets also reads an environment variable.
ENV = {
    "tenant": "M365_AUDIT_TENANT",
    "client_id": "M365_AUDIT_CLIENT_ID",
    "certificate": "M365_AUDIT_CERTIFICATE",
    "send_x5c": "M365_AUDIT_SEND_X5C",
    "client_secret_env": "M365_AUDIT_CLIENT_SECRET_ENV",
    "federated": "M365_AUDIT_FEDERATED",
    "cloud": "M365_AUDIT_CLOUD",
    "authority": "M365_AUDIT_AUTHORITY",
    "graph_url": "M365_AUDIT_GRAPH_URL",
    "exchange_url": "M365_AUDIT_EXCHANGE_URL",
    "trace_days": "M365_AUDIT_TRACE_DAYS",
    "baseline": "M365_AUDIT_BASELINE",
    "dns_server": "M365_AUDIT_DNS_SERVER",
    "dnsbl_zones": "M365_AUDIT_DNSBL_ZONES",
    "fail_on": "M365_AUDIT_FAIL_ON",
}


class UsageError(Exception):
    """A command line that makes no sense; exit 2 like argparse's own errors."""


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV[name]) or default


def _add_live_options(parser: argparse.ArgumentParser) -> None:
    live = parser.add_argument_group(
        "tenant access (each option also reads the environment variable shown)"
    )
    live.add_argument(
        "--tenant", default=_env("tenant"), help=f"tenant id or domain [{ENV['tenant']}]"
    )
    live.add_argument(
        "--client-id",
        default=_env("client_id"),
        help=f"the app registration's client id [{ENV['client_id']}]",
    )
    live.add_argument(
        "--certificate",
        type=Path,
        default=_env("certificate"),
        metavar="FILE",
        help="PEM with private key and certificate, or a PFX; its password is read from "
        f"M365_AUDIT_CERTIFICATE_PASSWORD [{ENV['certificate']}]",
    )
    live.add_argument(
        "--send-x5c",
        action="store_true",
        default=bool(_env("send_x5c")),
        help=f"send the certificate chain (subject-name/issuer auth) [{ENV['send_x5c']}]",
    )
    live.add_argument(
        "--client-secret-env",
        default=_env("client_secret_env", "M365_AUDIT_CLIENT_SECRET"),
        metavar="VAR",
        help="read the client secret from this environment variable (never from the command "
        "line) [default: M365_AUDIT_CLIENT_SECRET]",
    )
    live.add_argument(
        "--federated",
        choices=["github"],
        default=_env("federated"),
        help="workload identity federation: GitHub Actions' OIDC token, no secret at all "
        f"(auto-detected in a workflow with id-token: write) [{ENV['federated']}]",
    )
    live.add_argument(
        "--device-code", action="store_true", help="sign in as an admin at this terminal"
    )
    live.add_argument(
        "--cloud", choices=sorted(CLOUDS), default=_env("cloud", "global"), help=f"[{ENV['cloud']}]"
    )
    live.add_argument("--authority", default=_env("authority"), help=f"[{ENV['authority']}]")
    live.add_argument("--graph-url", default=_env("graph_url"), help=f"[{ENV['graph_url']}]")
    live.add_argument(
        "--exchange-url", default=_env("exchange_url"), help=f"[{ENV['exchange_url']}]"
    )
    live.add_argument(
        "--trace-days",
        type=int,
        default=int(_env("trace_days", "7") or 7),
        help=f"days of message trace to read, 1 to 90 (default 7) [{ENV['trace_days']}]",
    )
    live.add_argument(
        "--trace-end",
        metavar="TIME",
        help="end of the message trace period, ISO 8601 (default: now)",
    )
    live.add_argument(
        "--dns-server",
        default=_env("dns_server"),
        metavar="IP[:PORT]",
        help="resolver for DNS and blocklist lookups (default: the system's; blocklists "
        f"refuse public resolvers) [{ENV['dns_server']}]",
    )
    live.add_argument(
        "--dnsbl-zone",
        action="append",
        default=[z for z in (_env("dnsbl_zones") or "").split(",") if z],
        metavar="ZONE",
        help="blocklist zone to query (repeatable; default zen.spamhaus.org, or a Spamhaus DQS "
        f"zone) [{ENV['dnsbl_zones']}, comma-separated]",
    )
    live.add_argument(
        "--dnsbl-max-addresses",
        type=int,
        default=16,
        metavar="N",
        help="expand connector ranges up to N addresses for blocklist lookups (default 16); "
        "larger ranges are checked through the senders seen in message trace",
    )
    live.add_argument(
        "--retries",
        type=int,
        default=5,
        help="retries of a throttled or failed request before its source is an error (default 5)",
    )
    live.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for one answer (default 120)",
    )
    live.add_argument(
        "-q", "--quiet", action="store_true", help="no progress on stderr, even at a terminal"
    )


class _FormatAction(argparse.Action):
    """`--format` may repeat; each opens an entry that the next `-o` completes."""

    def __call__(self, parser, namespace, value, option_string=None):
        outputs = list(getattr(namespace, self.dest, None) or [])
        if outputs and outputs[-1][0] is None:
            outputs[-1] = (value, outputs[-1][1])  # `-o FILE --format F`
        else:
            outputs.append((value, None))
        setattr(namespace, self.dest, outputs)


class _OutputAction(argparse.Action):
    def __call__(self, parser, namespace, value, option_string=None):
        outputs = list(getattr(namespace, self.dest, None) or [])
        if outputs and outputs[-1][1] is None:
            outputs[-1] = (outputs[-1][0], Path(value))
        else:
            outputs.append((None, Path(value)))
        setattr(namespace, self.dest, outputs)


def _outputs(args: argparse.Namespace) -> list[tuple[str, Path | None]]:
    outputs = [(fmt or "table", path) for fmt, path in (args.outputs or [("table", None)])]
    if sum(1 for _, path in outputs if path is None) > 1:
        raise UsageError("only one format can go to stdout: give the others -o FILE")
    return outputs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Audit a Microsoft 365 tenant's mail configuration before Exchange "
        "Online blocks it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="audit the demo, a saved snapshot, or a live tenant against a baseline"
    )
    run.add_argument("--demo", action="store_true", help="audit the bundled demo tenant")
    run.add_argument("--snapshot", type=Path, metavar="FILE", help="a saved snapshot")
    run.add_argument(
        "--baseline",
        type=Path,
        default=_env("baseline"),
        metavar="FILE",
        help="the approved state (default: the demo's with --demo, "
        f"else baselines/recommended.json) [{ENV['baseline']}]",
    )
    run.add_argument(
        "--format",
        dest="outputs",
        action=_FormatAction,
        choices=sorted(RENDERERS),
        help="report format (default table); repeat it, each with its own -o, for several",
    )
    run.add_argument(
        "-o",
        "--output",
        dest="outputs",
        action=_OutputAction,
        metavar="FILE",
        help="write the format given just before to FILE, not stdout",
    )
    run.add_argument(
        "--previous",
        type=Path,
        metavar="REPORT",
        help="a JSON report of an earlier run: every output then says what is new, resolved "
        "or changed since",
    )
    run.add_argument(
        "--siem-url",
        default=os.environ.get("M365_AUDIT_SIEM_URL"),
        metavar="URL",
        help="post the results as OCSF events to this HTTP event collector (Splunk HEC style) "
        "[M365_AUDIT_SIEM_URL]",
    )
    run.add_argument(
        "--siem-token-env",
        default="M365_AUDIT_SIEM_TOKEN",
        metavar="VAR",
        help="environment variable holding the collector's token (default M365_AUDIT_SIEM_TOKEN)",
    )
    run.add_argument(
        "--siem-spool",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="where events that could not be delivered are kept (default: here)",
    )
    run.add_argument(
        "--save-snapshot", type=Path, metavar="FILE", help="live runs: also keep the snapshot"
    )
    run.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="ID",
        help="run only this check (repeatable); wins over the baseline's enabled: false",
    )
    run.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        default=_env("fail_on", "low"),
        help="lowest severity of a failure that makes the exit code 1 (default: low) "
        f"[{ENV['fail_on']}]",
    )
    _add_live_options(run)

    collect = sub.add_parser("collect", help="read a live tenant into a snapshot file")
    collect.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    collect.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="ID",
        help="collect only what these checks need (default: every source)",
    )
    _add_live_options(collect)

    explain = sub.add_parser(
        "explain", help="what a bounce (NDR) means, its causes, and the checks that find them"
    )
    explain.add_argument("text", help='the NDR line, or just its code: "5.7.750"')
    explain.add_argument("--demo", action="store_true", help="run those checks on the demo")
    explain.add_argument("--snapshot", type=Path, metavar="FILE", help="run them on a snapshot")
    explain.add_argument("--baseline", type=Path, default=_env("baseline"), metavar="FILE")
    explain.add_argument("--format", choices=sorted(RENDERERS), default="table")
    explain.add_argument(
        "--fail-on", choices=[s.value for s in Severity], default=_env("fail_on", "low")
    )
    _add_live_options(explain)

    checks = sub.add_parser("checks", help="the available checks")
    checks_sub = checks.add_subparsers(dest="checks_command", required=True, metavar="COMMAND")
    listing = checks_sub.add_parser("list", help="every check with its sources and permissions")
    listing.add_argument("--format", choices=["table", "json"], default="table")

    fleet_cmd = sub.add_parser("fleet", help="audit many tenants, one report each")
    fleet_cmd.add_argument(
        "--tenants",
        type=Path,
        required=True,
        metavar="FILE",
        help="the fleet file (schema: auditor/schemas/fleet.schema.json)",
    )
    fleet_cmd.add_argument("--jobs", type=int, default=4, help="tenants audited at once (4)")
    fleet_cmd.add_argument("--shard", metavar="K/N", help="audit only shard K of N (1-based)")
    fleet_cmd.add_argument("--output-dir", type=Path, default=Path("m365-audit-fleet"))
    fleet_cmd.add_argument("--check", action="append", default=[], metavar="ID")
    fleet_cmd.add_argument(
        "--fail-on", choices=[s.value for s in Severity], default=_env("fail_on", "low")
    )
    fleet_cmd.add_argument("--trace-days", type=int, default=7)
    fleet_cmd.add_argument("--dns-server", default=_env("dns_server"), metavar="IP[:PORT]")
    fleet_cmd.add_argument("--dnsbl-zone", action="append", default=[], metavar="ZONE")
    fleet_cmd.add_argument("-q", "--quiet", action="store_true")

    diff = sub.add_parser(
        "diff", help="what changed between two reports (findings) or two snapshots (configuration)"
    )
    diff.add_argument("old", type=Path, metavar="OLD")
    diff.add_argument("new", type=Path, metavar="NEW")
    diff.add_argument("--format", choices=["table", "json"], default="table")

    permissions = sub.add_parser(
        "permissions", help="what access each source needs (the README's table)"
    )
    permissions.add_argument("--format", choices=["table", "markdown", "json"], default="table")

    base = sub.add_parser("baseline", help="create baselines")
    base_sub = base.add_subparsers(dest="baseline_command", required=True, metavar="COMMAND")
    init = base_sub.add_parser("init", help="write a baseline that approves a snapshot's state")
    init.add_argument("--snapshot", type=Path, required=True, metavar="FILE")
    init.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    return parser


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        jsonio.atomic_write(output, text)


def _selected(checks: dict[str, Check], wanted: Sequence[str]) -> list[str]:
    unknown = [cid for cid in wanted if cid not in checks]
    if unknown:
        raise UsageError(f"unknown check id {', '.join(unknown)} (see '{PROG} checks list')")
    return list(wanted)


def _credential(args: argparse.Namespace) -> Credential:
    if args.certificate:
        return Certificate(Path(args.certificate), send_x5c=args.send_x5c)
    if args.federated == "github":
        return GitHubFederation()
    if args.device_code:
        return DeviceCode()
    if os.environ.get(args.client_secret_env):
        return ClientSecret(args.client_secret_env)
    if os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        return GitHubFederation()
    raise UsageError(
        "no credential: give --certificate, --federated github, --device-code, or set "
        f"${args.client_secret_env}"
    )


def _progress(args: argparse.Namespace) -> Callable[[str], None]:
    if args.quiet or not sys.stderr.isatty():
        return lambda _text: None
    return lambda text: print(f"{PROG}: {redact(text)}", file=sys.stderr, flush=True)


def _collect_live(args: argparse.Namespace, sources: Sequence[str]) -> dict:
    if not args.tenant or not args.client_id:
        raise UsageError("live collection needs --tenant and --client-id")
    if not 1 <= args.trace_days <= 90:
        raise UsageError("--trace-days must be 1 to 90 (message trace keeps 90 days)")
    try:
        trace_end = parse_time(args.trace_end) if args.trace_end else None
        cloud = resolve(args.cloud, args.authority, args.graph_url, args.exchange_url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.retries < 0 or args.timeout <= 0:
        raise UsageError("--retries must be 0 or more and --timeout above 0")
    progress = _progress(args)
    policy = RetryPolicy(max_attempts=args.retries + 1, read_timeout=args.timeout)
    http = HttpClient(policy, on_wait=progress)
    tokens = TokenSource(cloud, args.tenant, args.client_id, _credential(args))
    collector = Collector(
        args.tenant,
        cloud,
        tokens,
        http,
        CollectOptions(
            trace_days=args.trace_days,
            trace_end=trace_end,
            dns_server=args.dns_server,
            dnsbl_zones=tuple(args.dnsbl_zone or ("zen.spamhaus.org",)),
            dnsbl_max_addresses=args.dnsbl_max_addresses,
        ),
        progress,
    )
    return collector.collect(sources)


def _sources_for(checks: dict[str, Check], selected: Sequence[str]) -> list[str]:
    chosen = [checks[c] for c in selected] if selected else list(checks.values())
    return sorted({s for c in chosen for s in c.spec.requires})


def _cmd_collect(args: argparse.Namespace) -> int:
    checks = discover()
    selected = _selected(checks, args.check)
    # Without --check, a full snapshot: every catalogued source, so that `baseline init` and
    # later audits of this file have everything to work with.
    sources = (
        _sources_for(checks, selected)
        if selected
        else sorted(set(CATALOGUE) | set(_sources_for(checks, ())))
    )
    document = _collect_live(args, sources)
    jsonio.atomic_write(args.output, jsonio.dumps(document))
    failed = [n for n, r in document["sources"].items() if r["status"] != "ok"]
    for name in failed:
        print(f"{PROG}: {document['sources'][name]['error']}", file=sys.stderr)
    print(
        f"{PROG}: wrote {args.output}: {len(document['sources']) - len(failed)} sources ok, "
        f"{len(failed)} failed",
        file=sys.stderr,
    )
    return 2 if len(failed) == len(document["sources"]) else 0


def _cmd_run(args: argparse.Namespace) -> int:
    checks = discover()
    outputs = _outputs(args)  # a bad command line costs no collection
    previous = drift.load_document(args.previous) if args.previous else None
    result = _audit(args, checks, _selected(checks, args.check))
    if previous is not None:
        current = json_report.document(result)
        result = replace(result, changes=drift.changes(previous, current, str(args.previous)))
    for fmt, path in outputs:
        _emit(RENDERERS[fmt](result), path)
    code = result.exit_code(Severity(args.fail_on))
    if args.siem_url and not _send_to_siem(args, result):
        return code or 2
    return code


def _send_to_siem(args: argparse.Namespace, result) -> bool:
    token = os.environ.get(args.siem_token_env)
    if not token:
        raise UsageError(f"--siem-url needs the collector's token in ${args.siem_token_env}")
    register(token)
    delivery = deliver(
        ocsf.events(result),
        args.siem_url,
        token,
        HttpClient(RetryPolicy(max_attempts=4, deadline=120)),
        args.siem_spool,
    )
    if delivery.failed:
        print(
            f"{PROG}: SIEM delivery failed after {delivery.sent} events ({delivery.error}); "
            f"{delivery.failed} events kept in {delivery.spool}",
            file=sys.stderr,
        )
        return False
    print(f"{PROG}: sent {delivery.sent} events to the SIEM", file=sys.stderr)
    return True


def _audit(args: argparse.Namespace, checks: dict[str, Check], selected: Sequence[str]):
    """Load (or collect) and judge, as `run` and `explain` both do."""
    modes = [m for m, on in (("--demo", args.demo), ("--snapshot", args.snapshot)) if on]
    if len(modes) > 1:
        raise UsageError("give one of --demo and --snapshot")
    live = not modes
    if live and not args.tenant:
        raise UsageError("give --demo, --snapshot FILE, or --tenant (with credentials)")

    if args.demo:
        baseline_path = args.baseline or DEMO_BASELINE
    else:
        baseline_path = args.baseline or baselines.RECOMMENDED
        if args.baseline is None:
            print(
                f"{PROG}: no --baseline given: judging against the recommended baseline, "
                "which approves no domains or connectors",
                file=sys.stderr,
            )
    # The baseline is checked before anything is collected: a typo costs no API calls.
    baseline = baseline_mod.load(Path(baseline_path))
    baseline.require_known_checks(checks)

    if live:
        document = _collect_live(args, _sources_for(checks, selected))
        text = jsonio.dumps(document)
        if getattr(args, "save_snapshot", None):
            jsonio.atomic_write(args.save_snapshot, text)
        snapshot = snapshot_mod.parse(text.encode("utf-8"), f"live:{args.tenant}")
    elif args.demo:
        # The installed path differs between machines; name the demo the same everywhere.
        snapshot = replace(snapshot_mod.load(DEMO_SNAPSHOT), label="demo:snapshot.json")
    else:
        snapshot = snapshot_mod.load(args.snapshot)

    return engine.audit(
        snapshot,
        baseline,
        checks,
        started_at=utc_now(),
        selected=selected,
        baseline_label="demo:baseline.json" if args.demo and not args.baseline else "",
    )


def _cmd_explain(args: argparse.Namespace) -> int:
    family = recognise(args.text)
    if family is None:
        print(
            f"{PROG}: not recognised: {args.text[:120]!r} is not an NDR this tool knows "
            "(try the enhanced status code alone, e.g. 5.7.750)",
            file=sys.stderr,
        )
        return 2
    checks = discover()
    sys.stdout.write(render_explanation(family, {k: c.spec.title for k, c in checks.items()}))
    if not (args.demo or args.snapshot or args.tenant):
        return 0
    installed = [cid for cid in family.checks if cid in checks]
    result = _audit(args, checks, installed)
    sys.stdout.write("\nWhat these checks find in this tenant:\n\n")
    sys.stdout.write(RENDERERS[args.format](result))
    return result.exit_code(Severity(args.fail_on))


def _cmd_fleet(args: argparse.Namespace) -> int:
    checks = discover()
    selected = _selected(checks, args.check)
    tenants = fleet.load(args.tenants)
    if args.shard:
        try:
            index, count = (int(p) for p in args.shard.split("/"))
            if not 1 <= index <= count:
                raise ValueError
        except ValueError:
            raise UsageError(f"--shard must be K/N with 1 <= K <= N, not {args.shard!r}") from None
        tenants = fleet.shard(tenants, index, count)
    if selected:
        checks = {cid: checks[cid] for cid in selected}
    options = CollectOptions(
        trace_days=args.trace_days,
        dns_server=args.dns_server,
        dnsbl_zones=tuple(args.dnsbl_zone or ("zen.spamhaus.org",)),
    )
    runs = fleet.run(
        tenants,
        checks,
        _sources_for(checks, ()),
        args.output_dir,
        Severity(args.fail_on),
        options,
        args.jobs,
        args.tenants.parent,
        _progress(args),
    )
    from tabulate import tabulate

    rows = [[r.name, r.status.upper(), r.failed, r.errored, r.error or r.report] for r in runs]
    sys.stdout.write(
        tabulate(rows, headers=["tenant", "status", "failed", "errored", "report or error"]) + "\n"
    )
    print(
        f"{PROG}: {len(runs)} tenants; summary in {args.output_dir / 'summary.json'}",
        file=sys.stderr,
    )
    return fleet.exit_code(runs)


def _cmd_diff(args: argparse.Namespace) -> int:
    old, new = drift.load_document(args.old), drift.load_document(args.new)
    diff = drift.changes(old, new, str(args.old))
    if args.format == "json":
        sys.stdout.write(jsonio.dumps(diff))
    else:
        sys.stdout.write(render_changes(diff))
    return 1 if drift.count(diff) else 0


def _cmd_checks_list(args: argparse.Namespace) -> int:
    checks = discover()
    if args.format == "json":
        listing = [
            {
                "id": c.spec.id,
                "slug": c.spec.slug,
                "title": c.spec.title,
                "severity": c.spec.severity.value,
                "ndr": list(c.spec.ndr),
                "module": c.spec.module,
                "sources": [_source_dict(s) for s in c.spec.requires],
            }
            for c in checks.values()
        ]
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        return 0
    from tabulate import tabulate

    rows = []
    for c in checks.values():
        for i, name in enumerate(c.spec.requires):
            info = describe(name)
            head = (c.spec.id, c.spec.severity.value, c.spec.title) if i == 0 else ("", "", "")
            licence = f" ({info.licence})" if info.licence else ""
            rows.append([*head, name, f"{info.permission}{licence}"])
    headers = ["check", "severity", "title", "source", "permission (licence)"]
    sys.stdout.write(tabulate(rows, headers=headers, tablefmt="simple") + "\n")
    return 0


def _source_dict(name: str) -> dict[str, str]:
    info = describe(name)
    return {"name": name, "api": info.api, "permission": info.permission, "licence": info.licence}


def permission_rows() -> list[list[str]]:
    """One row per source: what the README's permission table shows."""
    checks = discover()
    used_by: dict[str, list[str]] = {}
    for c in checks.values():
        for name in with_dependencies(c.spec.requires, always=False):
            used_by.setdefault(name, []).append(c.spec.id)
    for name in ALWAYS:
        used_by.setdefault(name, ["every live run (tenant id and name)"])
    return [
        [
            name,
            info.api,
            info.permission,
            info.licence or "-",
            ", ".join(used_by.get(name, ["collect and baseline init only"])),
        ]
        for name, info in CATALOGUE.items()
    ]


PERMISSION_HEADERS = ["source", "API", "application permission / role", "licence", "checks"]


def _cmd_permissions(args: argparse.Namespace) -> int:
    rows = permission_rows()
    if args.format == "json":
        listing = [dict(zip(PERMISSION_HEADERS, row, strict=True)) for row in rows]
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        return 0
    from tabulate import tabulate

    fmt = "github" if args.format == "markdown" else "simple"
    sys.stdout.write(tabulate(rows, headers=PERMISSION_HEADERS, tablefmt=fmt) + "\n")
    return 0


def _cmd_baseline_init(args: argparse.Namespace) -> int:
    if args.output.exists() and not args.force:
        raise UsageError(f"{args.output} exists; pass --force to overwrite it")
    snapshot = snapshot_mod.load(args.snapshot)
    template = jsonio.parse_json(baselines.RECOMMENDED.read_bytes(), str(baselines.RECOMMENDED))
    document, missing = baseline_mod.approve_snapshot(snapshot, template)
    text = jsonio.dumps(document)
    # What we write must load: a baseline init that produces an invalid file is our bug.
    baseline_mod.parse(text.encode("utf-8"), str(args.output))
    jsonio.atomic_write(args.output, text)
    for name in missing:
        print(
            f"{PROG}: {args.snapshot}: $.sources['{name}']: not collected, so nothing from it "
            "was approved",
            file=sys.stderr,
        )
    print(f"{PROG}: wrote {args.output}: review it before you commit it", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {
        "run": _cmd_run,
        "collect": _cmd_collect,
        "explain": _cmd_explain,
        "diff": _cmd_diff,
        "fleet": _cmd_fleet,
        "checks": _cmd_checks_list,
        "permissions": _cmd_permissions,
        "baseline": _cmd_baseline_init,
    }
    try:
        return handlers[args.command](args)
    except AuditInputError as exc:
        for line in exc.lines():
            print(f"{PROG}: {line}", file=sys.stderr)
        return 2
    except AuthError as exc:
        print(f"{PROG}: authentication failed: {exc}", file=sys.stderr)
        return 2
    except (UsageError, CheckDefinitionError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `m365-audit run | head` closed the pipe early: not an error of the audit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{PROG}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("M365_AUDIT_DEBUG"):
            raise
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {redact(str(exc))} "
            "(set M365_AUDIT_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 2
