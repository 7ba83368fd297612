"""The `m365-audit` command line: thin; every decision lives in the modules it calls."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import baselines
from auditor import __version__, engine, jsonio
from auditor import baseline as baseline_mod
from auditor import snapshot as snapshot_mod
from auditor.errors import AuditInputError
from auditor.model import Severity
from auditor.registry import CheckDefinitionError, discover
from auditor.reports import RENDERERS
from auditor.sources import describe
from auditor.timeutil import utc_now

PROG = "m365-audit"
DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_SNAPSHOT = DEMO_DIR / "snapshot.json"
DEMO_BASELINE = DEMO_DIR / "baseline.json"


class UsageError(Exception):
    """A command line that makes no sense; exit 2 like argparse's own errors."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Audit a Microsoft 365 tenant's mail configuration before Exchange "
        "Online blocks it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="audit a snapshot against a baseline")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--demo", action="store_true", help="audit the bundled demo tenant")
    source.add_argument("--snapshot", type=Path, metavar="FILE", help="a saved snapshot")
    run.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="the approved state (default: the demo's with --demo, "
        "else baselines/recommended.json)",
    )
    run.add_argument("--format", choices=sorted(RENDERERS), default="table")
    run.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here, not stdout")
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
        default="low",
        help="lowest severity of a failure that makes the exit code 1 (default: low)",
    )

    checks = sub.add_parser("checks", help="the available checks")
    checks_sub = checks.add_subparsers(dest="checks_command", required=True, metavar="COMMAND")
    listing = checks_sub.add_parser("list", help="every check with its sources and permissions")
    listing.add_argument("--format", choices=["table", "json"], default="table")

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


def _cmd_run(args: argparse.Namespace) -> int:
    checks = discover()
    unknown = [cid for cid in args.check if cid not in checks]
    if unknown:
        raise UsageError(f"unknown check id {', '.join(unknown)} (see '{PROG} checks list')")

    if args.demo:
        snapshot_path = DEMO_SNAPSHOT
        baseline_path = args.baseline or DEMO_BASELINE
    else:
        snapshot_path = args.snapshot
        baseline_path = args.baseline or baselines.RECOMMENDED
        if args.baseline is None:
            print(
                f"{PROG}: no --baseline given: judging against the recommended baseline, "
                "which approves no domains or connectors",
                file=sys.stderr,
            )
    baseline = baseline_mod.load(baseline_path)
    baseline.require_known_checks(checks)
    snapshot = snapshot_mod.load(snapshot_path)
    if args.demo:
        snapshot = _relabel(snapshot, "demo:snapshot.json")
    result = engine.audit(
        snapshot,
        baseline,
        checks,
        started_at=utc_now(),
        selected=args.check,
        baseline_label="demo:baseline.json" if args.demo and not args.baseline else "",
    )
    _emit(RENDERERS[args.format](result), args.output)
    return result.exit_code(Severity(args.fail_on))


def _relabel(snapshot: snapshot_mod.Snapshot, label: str) -> snapshot_mod.Snapshot:
    # The installed path differs between machines; the report names the demo the same everywhere.
    from dataclasses import replace

    return replace(snapshot, label=label)


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
                "sources": [
                    {
                        "name": s,
                        "api": describe(s).api,
                        "permission": describe(s).permission,
                        "licence": describe(s).licence,
                    }
                    for s in c.spec.requires
                ],
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
        "checks": _cmd_checks_list,
        "baseline": _cmd_baseline_init,
    }
    try:
        return handlers[args.command](args)
    except AuditInputError as exc:
        for line in exc.lines():
            print(f"{PROG}: {line}", file=sys.stderr)
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
            f"{PROG}: internal error: {type(exc).__name__}: {exc} "
            "(set M365_AUDIT_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 2
