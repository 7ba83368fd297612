"""The `m365-audit` command line: argument parsing and dispatch only. Each command's work is in
`auditor/commands/`, and each stage's in its own folder."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from auditor import PROG, __version__
from auditor.collect import (
    CLOUDS,
    DEFAULT_DEADLINE,
    AuthError,
    Certificate,
    ClientSecret,
    CollectOptions,
    Credential,
    DeviceCode,
    GitHubFederation,
    LiveAccess,
    ManagedIdentity,
    RetryPolicy,
    collect_tenant,
    resolve,
)
from auditor.collect.dnsquery import parse_server
from auditor.commands import (
    baseline,
    collect,
    diff,
    doctor,
    explain,
    fleet,
    inventory,
    run,
    setup,
)
from auditor.commands import siem as siem_cmd
from auditor.common.errors import AuditInputError, UsageError
from auditor.common.redact import redact, register
from auditor.common.timeutil import parse_time
from auditor.judge.model import Severity
from auditor.judge.registry import CheckDefinitionError, discover, select
from auditor.reports import RENDERERS

# Every option that a scheduled workflow sets also reads an environment variable.
ENV = {
    "tenant": "M365_AUDIT_TENANT",
    "client_id": "M365_AUDIT_CLIENT_ID",
    "certificate": "M365_AUDIT_CERTIFICATE",
    "send_x5c": "M365_AUDIT_SEND_X5C",
    "client_secret_env": "M365_AUDIT_CLIENT_SECRET_ENV",
    "federated": "M365_AUDIT_FEDERATED",
    "federated_audience": "M365_AUDIT_FEDERATED_AUDIENCE",
    "deadline": "M365_AUDIT_DEADLINE",
    "max_snapshot_age": "M365_AUDIT_MAX_SNAPSHOT_AGE",
    "cloud": "M365_AUDIT_CLOUD",
    "authority": "M365_AUDIT_AUTHORITY",
    "graph_url": "M365_AUDIT_GRAPH_URL",
    "exchange_url": "M365_AUDIT_EXCHANGE_URL",
    "trace_days": "M365_AUDIT_TRACE_DAYS",
    "baseline": "M365_AUDIT_BASELINE",
    "dns_server": "M365_AUDIT_DNS_SERVER",
    "dnsbl_zones": "M365_AUDIT_DNSBL_ZONES",
    "fail_on": "M365_AUDIT_FAIL_ON",
    "managed_identity": "M365_AUDIT_MANAGED_IDENTITY",
    "notify_webhook": "M365_AUDIT_NOTIFY_WEBHOOK",
    "notify_format": "M365_AUDIT_NOTIFY_FORMAT",
    "notify_on": "M365_AUDIT_NOTIFY_ON",
}


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV[name]) or default


def _add_live_options(parser: argparse.ArgumentParser) -> None:
    live = parser.add_argument_group(
        "tenant access (each option also reads the environment variable shown)"
    )
    live.add_argument(
        "--tenant", help=f"tenant id or domain [{ENV['tenant']}]"
    )  # None unless given: --demo and --snapshot refuse one given, not one from the environment
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
        "--federated-audience",
        default=_env("federated_audience"),
        metavar="AUDIENCE",
        help="audience of the GitHub OIDC token (default: the cloud's, api://AzureADTokenExchange "
        f"in the global cloud) [{ENV['federated_audience']}]",
    )
    live.add_argument(
        "--device-code", action="store_true", help="sign in as an admin at this terminal"
    )
    live.add_argument(
        "--managed-identity",
        action="store_true",
        default=bool(_env("managed_identity")),
        help="sign in as the Azure managed identity of this VM, Function, App Service or "
        "Automation account (no secret); --client-id then names a user-assigned one "
        f"[{ENV['managed_identity']}]",
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
        default=_env("trace_days", "7"),  # a string: argparse converts and checks it
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
    _add_deadline(live)
    live.add_argument(
        "-q", "--quiet", action="store_true", help="no progress on stderr, even at a terminal"
    )


def _add_only_checks(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check", action="append", default=[], metavar="ID", help="only what these checks need"
    )


def _add_look(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour the table: auto (default) when stdout is a terminal and $NO_COLOR is unset",
    )
    parser.add_argument(
        "--only",
        choices=["failed", "all"],
        default="failed",
        help="the table lists failing and errored results (default; passes are counted) or all",
    )


def _add_notify(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("notifications (a failed post never changes the result)")
    group.add_argument(
        "--notify-webhook",
        action="append",
        default=[],
        metavar="URL",
        help="post a summary to this Teams, Slack or JSON webhook (repeatable); the address is "
        f"a secret: prefer ${ENV['notify_webhook']} (addresses separated by spaces)",
    )
    group.add_argument(
        "--notify-format",
        choices=["auto", "teams", "slack", "json"],
        default=_env("notify_format", "auto"),
        help="the message's shape; auto (default) tells Teams and Slack by the address "
        f"[{ENV['notify_format']}]",
    )
    group.add_argument(
        "--notify-on",
        choices=["always", "failure", "change"],
        default=_env("notify_on", "failure"),
        help="post on every run, when the run is not a pass (default), or when findings "
        f"changed since --previous [{ENV['notify_on']}]",
    )


def _notify(args: argparse.Namespace) -> run.NotifyTarget | None:
    urls = tuple(args.notify_webhook) or tuple((_env("notify_webhook") or "").split())
    if not urls:
        return None
    for url in urls:
        register(url)
    link = None
    if os.environ.get("GITHUB_RUN_ID") and os.environ.get("GITHUB_REPOSITORY"):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        link = (
            f"{server}/{os.environ['GITHUB_REPOSITORY']}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
        )
    return run.NotifyTarget(urls, args.notify_format, args.notify_on, link)


def _look(args: argparse.Namespace) -> run.Look:
    return run.Look(color=args.color, only=args.only)


def _add_snapshot_age(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-snapshot-age",
        type=float,
        default=_env("max_snapshot_age", "7"),  # a string: argparse converts and checks it
        metavar="DAYS",
        help="warn, on stderr and in the report, when --snapshot was collected longer ago "
        f"than this (default 7) [{ENV['max_snapshot_age']}]",
    )


def _add_deadline(group: argparse._ActionsContainer) -> None:
    group.add_argument(
        "--deadline",
        type=float,
        default=_env("deadline", str(DEFAULT_DEADLINE)),  # converted and checked by argparse
        metavar="SECONDS",
        help="the whole collection, sign-in included, ends by then; what is not read is an "
        f"error and the run exits 2 (default {DEFAULT_DEADLINE:g}) [{ENV['deadline']}]",
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


class _Parser(argparse.ArgumentParser):
    """One line for a bad command line, with the nearest valid word when there is one, instead
    of a page of usage; exit 2 as argparse does."""

    def error(self, message: str) -> NoReturn:
        hint = self._nearest(message)
        print(f"{PROG}: {message}{hint} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(2)

    def _nearest(self, message: str) -> str:
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            found = difflib.get_close_matches(choice.group(1), options, n=1)
        else:
            unknown = re.search(r"unrecognized arguments: (\S+)", message)
            options = self._all_options()
            found = (
                difflib.get_close_matches(unknown.group(1).split("=")[0], options, n=1)
                if unknown
                else []
            )
        return f"; did you mean {found[0]!r}?" if found else ""

    def _all_options(self) -> list[str]:
        """Every option of this parser and its sub-commands: an unknown option is reported by
        the top-level parser, whatever command it was given to."""
        options = [o for o in self._option_string_actions if o not in ("-h", "--help")]
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    if isinstance(sub, _Parser):
                        options += sub._all_options()
        return sorted(set(options))


def _add_siem(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument(
        "--siem-url",
        default=os.environ.get("M365_AUDIT_SIEM_URL"),
        required=required and not os.environ.get("M365_AUDIT_SIEM_URL"),
        metavar="URL",
        help="post the results as OCSF events to this HTTP event collector (Splunk HEC style) "
        "[M365_AUDIT_SIEM_URL]",
    )
    parser.add_argument(
        "--siem-token-env",
        default="M365_AUDIT_SIEM_TOKEN",
        metavar="VAR",
        help="environment variable holding the collector's token (default M365_AUDIT_SIEM_TOKEN)",
    )
    parser.add_argument(
        "--siem-spool",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="where events that could not be delivered are kept (default: here)",
    )


def _siem(args: argparse.Namespace) -> run.SiemTarget | None:
    """The SIEM target, checked before any audit: address, spool folder and token."""
    if not args.siem_url:
        return None
    siem_cmd.check_target(args.siem_url, args.siem_spool)
    token = os.environ.get(args.siem_token_env)
    if not token:
        raise UsageError(f"--siem-url needs the collector's token in ${args.siem_token_env}")
    register(token)
    return run.SiemTarget(args.siem_url, token, args.siem_spool)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    _add_siem(run)
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
    _add_look(run)
    _add_notify(run)
    _add_snapshot_age(run)
    _add_live_options(run)

    doctor_cmd = sub.add_parser(
        "doctor",
        help="sign in and check that every permission, role, licence and resolver the "
        "selected checks need is in place",
    )
    _add_only_checks(doctor_cmd)
    _add_live_options(doctor_cmd)

    setup_cmd = sub.add_parser(
        "setup",
        help="print the permissions the selected checks need and an Azure CLI script that "
        "registers the app with them",
    )
    _add_only_checks(setup_cmd)
    setup_cmd.add_argument("--app-name", default="m365-mail-auditor", metavar="NAME")
    setup_cmd.add_argument(
        "--managed-identity",
        metavar="OBJECT_ID",
        help="equip this managed identity (its service principal's object id) instead of "
        "registering an app",
    )
    setup_cmd.add_argument(
        "--github-repo", metavar="ORG/REPO", help="add the federated credential for its workflow"
    )
    setup_cmd.add_argument(
        "--github-environment", metavar="NAME", help="the job's environment (else the branch)"
    )
    setup_cmd.add_argument("--github-branch", default="main", metavar="BRANCH")
    setup_cmd.add_argument("--cloud", choices=sorted(CLOUDS), default=_env("cloud", "global"))
    setup_cmd.add_argument("--format", choices=["script", "json"], default="script")

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
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write to FILE (atomically, owner-only) instead of stdout",
    )
    explain.add_argument(
        "--fail-on", choices=[s.value for s in Severity], default=_env("fail_on", "low")
    )
    _add_look(explain)
    _add_snapshot_age(explain)
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
    _add_deadline(fleet_cmd)
    fleet_cmd.add_argument("-q", "--quiet", action="store_true")

    siem_parser = sub.add_parser("siem", help="the SIEM spool")
    siem_sub = siem_parser.add_subparsers(dest="siem_command", required=True, metavar="COMMAND")
    flush = siem_sub.add_parser(
        "flush",
        help="resend the events a run could not deliver (the spool files), each exactly once",
    )
    _add_siem(flush, required=True)

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
    init.add_argument(
        "--approve-risky",
        action="store_true",
        help="also approve what the risk checks fail (a new connector, a wide range, `*` "
        "sender domains, an unverified domain), each with a note saying why it was risky",
    )
    return parser


def _credential(args: argparse.Namespace) -> Credential:
    if args.managed_identity:
        return ManagedIdentity(args.client_id)
    if args.certificate:
        return Certificate(Path(args.certificate), send_x5c=args.send_x5c)
    if args.federated == "github":
        return GitHubFederation(args.federated_audience)
    if args.device_code:
        return DeviceCode()
    if os.environ.get(args.client_secret_env):
        return ClientSecret(args.client_secret_env)
    if os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        return GitHubFederation(args.federated_audience)
    raise UsageError(
        "no credential: give --certificate, --federated github, --device-code, or set "
        f"${args.client_secret_env}"
    )


def _progress(args: argparse.Namespace) -> Callable[[str], None]:
    if args.quiet or not sys.stderr.isatty():
        return lambda _text: None
    return lambda text: print(f"{PROG}: {redact(text)}", file=sys.stderr, flush=True)


def _access(args: argparse.Namespace) -> tuple[LiveAccess, CollectOptions]:
    """The tenant, app and options a live command was given, checked."""
    if not _tenant(args) or not (args.client_id or args.managed_identity):
        raise UsageError("live collection needs --tenant and --client-id")
    if not 1 <= args.trace_days <= 90:
        raise UsageError("--trace-days must be 1 to 90 (message trace keeps 90 days)")
    try:
        trace_end = parse_time(args.trace_end) if args.trace_end else None
        cloud = resolve(args.cloud, args.authority, args.graph_url, args.exchange_url)
        if args.dns_server:
            parse_server(args.dns_server)  # checked now, not after sign-in
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.retries < 0 or args.timeout <= 0 or args.deadline <= 0:
        raise UsageError("--retries must be 0 or more, --timeout and --deadline above 0")
    retry = RetryPolicy(max_attempts=args.retries + 1, read_timeout=args.timeout)
    access = LiveAccess(_tenant(args), args.client_id or "", _credential(args), cloud, retry)
    options = CollectOptions(
        trace_days=args.trace_days,
        trace_end=trace_end,
        dns_server=args.dns_server,
        dnsbl_zones=tuple(args.dnsbl_zone or ("zen.spamhaus.org",)),
        dnsbl_max_addresses=args.dnsbl_max_addresses,
        deadline=args.deadline,
    )
    return access, options


def _live(args: argparse.Namespace) -> run.Collect:
    """Collection of a live tenant as the options ask; the options are checked when it runs,
    after the baseline has loaded."""

    def collect_sources(sources: Sequence[str]) -> dict:
        access, options = _access(args)
        return collect_tenant(access, sources, options, _progress(args))

    return collect_sources


def _tenant(args: argparse.Namespace) -> str | None:
    return args.tenant or _env("tenant")


def _target(args: argparse.Namespace) -> run.Target:
    if args.max_snapshot_age <= 0:
        raise UsageError("--max-snapshot-age must be above 0")
    offline = (
        "--demo audits the bundled demo tenant"
        if args.demo
        else "--snapshot audits a saved snapshot"
        if args.snapshot
        else None
    )
    if offline and args.tenant:
        raise UsageError(f"{offline}; --tenant is for a live tenant: give one of them")
    if offline and getattr(args, "save_snapshot", None):
        raise UsageError(f"{offline}; --save-snapshot keeps what a live run read")
    return run.Target(
        demo=args.demo,
        snapshot=args.snapshot,
        tenant=_tenant(args),
        collect=_live(args),
        save_snapshot=getattr(args, "save_snapshot", None),
        max_snapshot_age=args.max_snapshot_age,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    checks = discover()
    outputs = _outputs(args)  # a bad command line costs no collection
    siem = _siem(args)
    return run.run(
        _target(args),
        args.baseline,
        checks,
        args.check,
        outputs,
        Severity(args.fail_on),
        args.previous,
        siem,
        _look(args),
        _notify(args),
    )


def _cmd_collect(args: argparse.Namespace) -> int:
    checks = discover()
    return collect.collect(_live(args), checks, select(checks, args.check), args.output)


def _cmd_doctor(args: argparse.Namespace) -> int:
    checks = discover()
    selected = select(checks, args.check)
    access, options = _access(args)
    return doctor.doctor(access, checks, selected or list(checks), options)


def _cmd_setup(args: argparse.Namespace) -> int:
    checks = discover()
    target = setup.Target(
        app_name=args.app_name,
        managed_identity=args.managed_identity,
        github_repo=args.github_repo,
        github_environment=args.github_environment,
        github_branch=args.github_branch,
        cloud=args.cloud,
    )
    return setup.setup(checks, select(checks, args.check), target, args.format)


def _cmd_explain(args: argparse.Namespace) -> int:
    return explain.explain(
        args.text,
        _target(args),
        args.baseline,
        args.format,
        Severity(args.fail_on),
        args.output,
        _look(args),
    )


def _cmd_fleet(args: argparse.Namespace) -> int:
    checks = discover()
    if args.deadline <= 0:
        raise UsageError("--deadline must be above 0")
    options = CollectOptions(
        trace_days=args.trace_days,
        dns_server=args.dns_server,
        dnsbl_zones=tuple(args.dnsbl_zone or ("zen.spamhaus.org",)),
        deadline=args.deadline,
    )
    return fleet.fleet(
        args.tenants,
        checks,
        select(checks, args.check),
        args.shard,
        args.output_dir,
        Severity(args.fail_on),
        options,
        args.jobs,
        _progress(args),
    )


def _cmd_siem_flush(args: argparse.Namespace) -> int:
    target = _siem(args)
    if target is None:
        raise UsageError("siem flush needs --siem-url (or $M365_AUDIT_SIEM_URL)")
    return siem_cmd.flush(target.url, target.token, target.spool)


def _cmd_diff(args: argparse.Namespace) -> int:
    return diff.diff(args.old, args.new, args.format)


def _cmd_checks_list(args: argparse.Namespace) -> int:
    return inventory.checks_list(discover(), args.format)


def _cmd_permissions(args: argparse.Namespace) -> int:
    return inventory.permissions(discover(), args.format)


def _cmd_baseline_init(args: argparse.Namespace) -> int:
    return baseline.init(args.snapshot, args.output, args.force, discover(), args.approve_risky)


def _check_choices(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """argparse checks the choices of an option given, not of a default: a default read from
    the environment is checked here, naming the variable (one line, exit 2)."""
    actions = [a for a in parser._actions if a.choices and a.dest in ENV]
    for sub in parser._subparsers._group_actions if parser._subparsers else ():
        for child in sub.choices.values():
            actions += [a for a in child._actions if a.choices and a.dest in ENV]
    for action in actions:
        value = getattr(args, action.dest, None)
        if value is not None and value not in action.choices:
            parser.error(
                f"${ENV[action.dest]}={value!r} is not one of {', '.join(map(str, action.choices))}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_choices(parser, args)
    handlers = {
        "run": _cmd_run,
        "collect": _cmd_collect,
        "doctor": _cmd_doctor,
        "setup": _cmd_setup,
        "explain": _cmd_explain,
        "diff": _cmd_diff,
        "fleet": _cmd_fleet,
        "checks": _cmd_checks_list,
        "permissions": _cmd_permissions,
        "baseline": _cmd_baseline_init,
        "siem": _cmd_siem_flush,
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
    except KeyboardInterrupt:
        # Ctrl-C: one line and out at once, without waiting for requests in flight (every
        # file is written atomically, so nothing half-written is left).
        print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        os._exit(130)
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
