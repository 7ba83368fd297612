"""`baseline init`: write a baseline that approves what a snapshot shows, for the admins to
review and commit; but not what the risk checks fail (an attacker's fresh connector is also
"what the snapshot shows"): those are left out and listed, or kept with --approve-risky, each
with a note that says why it was risky."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import baselines
from auditor import PROG, snapshot
from auditor.common import jsonio
from auditor.common.errors import UsageError
from auditor.common.timeutil import utc_now
from auditor.judge import baseline as baseline_mod
from auditor.judge import engine
from auditor.judge.model import AuditResult, Status
from auditor.judge.registry import Check

_LABELS = {
    "acceptedDomains": ("accepted domain", "accepted domains"),
    "inboundConnectors": ("inbound connector", "inbound connectors"),
    "outboundConnectors": ("outbound connector", "outbound connectors"),
}


def risks(result: AuditResult, document: Mapping[str, Any]) -> dict[tuple[str, str], list[str]]:
    """(section, name) -> why approving that item is risky, or why its risk is unknown."""
    outcomes = {o.spec.id: o for o in result.outcomes}
    found: dict[tuple[str, str], list[str]] = {}
    for section, risk_checks in baseline_mod.RISK_CHECKS.items():
        key = baseline_mod.SECTION_KEYS[section]
        for entry in document.get(section, []):
            name = str(entry[key])
            for risk in risk_checks:
                outcome = outcomes.get(risk.check)
                if outcome is None:
                    continue  # a plugin build without this check
                resource = f"{risk.prefix}{name}".lower()
                mine = next((r for r in outcome.results if r.resource.lower() == resource), None)
                if mine is not None and mine.status is Status.FAIL:
                    found.setdefault((section, name), []).append(f"{risk.check}: {mine.message}")
                elif risk.required and (
                    (outcome.status is Status.ERROR and not outcome.results)
                    or (mine is not None and mine.status is Status.ERROR)
                ):
                    why = mine.message if mine is not None else outcome.reason
                    found.setdefault((section, name), []).append(
                        f"not checked for risk: {risk.check} could not judge it ({why})"
                    )
    return found


def init(
    snapshot_path: Path,
    output: Path,
    force: bool,
    checks: Mapping[str, Check],
    approve_risky: bool = False,
) -> int:
    if output.exists() and not force:
        raise UsageError(f"{output} exists; pass --force to overwrite it")
    read = snapshot.load(snapshot_path)
    template = jsonio.parse_json(baselines.RECOMMENDED.read_bytes(), str(baselines.RECOMMENDED))
    document, missing = baseline_mod.approve_snapshot(read, template)

    # Judge the snapshot against the draft: what a risk check still fails is not approved.
    draft = baseline_mod.parse(jsonio.dumps(document).encode("utf-8"), str(output))
    wanted = sorted({r.check for rs in baseline_mod.RISK_CHECKS.values() for r in rs} & set(checks))
    result = engine.audit(read, draft, checks, started_at=utc_now(), selected=wanted)
    risky = risks(result, document)
    for (section, name), reasons in sorted(risky.items()):
        key = baseline_mod.SECTION_KEYS[section]
        if approve_risky:
            for entry in document[section]:
                if entry[key] == name:
                    entry["note"] = "approved with --approve-risky although " + "; ".join(reasons)
        else:
            document[section] = [e for e in document[section] if e[key] != name]

    text = jsonio.dumps(document)
    # What we write must load: a baseline init that produces an invalid file is our bug.
    baseline_mod.parse(text.encode("utf-8"), str(output))
    jsonio.atomic_write(output, text)
    for name in missing:
        print(
            f"{PROG}: {snapshot_path}: $.sources['{name}']: not collected, so nothing from it "
            "was approved",
            file=sys.stderr,
        )
    verb = "approved although risky" if approve_risky else "left out (risky)"
    for (section, name), reasons in sorted(risky.items()):
        one = _LABELS[section][0]
        print(f"{PROG}: {verb}: {one} {name}: {'; '.join(reasons)}", file=sys.stderr)
    print(f"{PROG}: {_summary(document, risky, approve_risky)}", file=sys.stderr)
    print(f"{PROG}: wrote {output}: review it before you commit it", file=sys.stderr)
    return 0


def _summary(
    document: Mapping[str, Any], risky: Mapping[tuple[str, str], list[str]], approve_risky: bool
) -> str:
    def counted(section: str, count: int) -> str:
        one, many = _LABELS[section]
        return f"{count} {one if count == 1 else many}"

    approved = [
        counted(s, len(document[s]))
        for s in ("acceptedDomains", "inboundConnectors", "outboundConnectors")
        if s in document
    ]
    text = f"approved {', '.join(approved) or 'nothing'}"
    if risky:
        per_section = {s: sum(1 for k in risky if k[0] == s) for s in _LABELS}
        listed = ", ".join(counted(s, n) for s, n in per_section.items() if n)
        if approve_risky:
            text += f" (of them risky, with a note: {listed})"
        else:
            text += f"; left out {listed} (listed above; --approve-risky to approve them)"
    return text + "; no break-glass account (name yours by hand)"
