"""`doctor`: before the first audit (or after a change of grants), say whether every selected
check can run against this tenant, and for each thing missing, the fix and the checks it
blocks. Exit 0 only when nothing blocks a check; 2 otherwise."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from auditor import PROG
from auditor.collect import CollectOptions, LiveAccess, with_dependencies
from auditor.collect.doctor import Doctor, Probe
from auditor.judge.registry import Check, required_sources


def blocked_checks(probe: Probe, checks: Mapping[str, Check], selected: Sequence[str]) -> list[str]:
    hit = set(probe.sources)
    return [
        cid
        for cid in selected
        if hit & set(with_dependencies(checks[cid].spec.requires, always=False))
    ]


def _line(mark: str, text: str) -> str:
    return f"  {mark:<8} {text}"


def doctor(
    access: LiveAccess,
    checks: Mapping[str, Check],
    selected: Sequence[str],
    options: CollectOptions,
) -> int:
    probes = Doctor(access, options).examine(required_sources(checks, selected))
    who = f"app {access.client_id}" if access.client_id else "the system-assigned identity"
    print(f"{PROG} doctor: tenant {access.tenant}, {who}, {len(selected)} checks selected")
    blocked: set[str] = set()
    missing = 0
    for probe in probes:
        if probe.ok:
            print(_line("ok", f"{probe.what}: {probe.detail}" if probe.detail else probe.what))
            continue
        stops = blocked_checks(probe, checks, selected) if probe.blocking else []
        if stops:
            missing += 1
            blocked.update(stops)
        note = "" if stops or not probe.blocking else " (no selected check needs it)"
        print(_line("MISSING" if stops else "note", f"{probe.what}: {probe.detail}{note}"))
        if probe.fix:
            print(_line("", f"fix: {probe.fix}"))
        if stops:
            count = f"{len(stops)} check{'s' if len(stops) != 1 else ''}"
            print(_line("", f"blocks {count}: {', '.join(stops)}"))
    if missing:
        print(
            f"Not ready: {missing} thing{'s' if missing != 1 else ''} missing, blocking "
            f"{len(blocked)} of {len(selected)} checks."
        )
        return 2
    print(f"Ready: every one of the {len(selected)} selected checks can run.")
    sys.stdout.flush()
    return 0
