"""`checks list` and `permissions`: what the tool checks and what access each source needs,
from the check registry and the source catalogue (the README's permission table is this
command's output; a test keeps the two equal)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

from auditor.collect import ALWAYS, CATALOGUE, describe, with_dependencies
from auditor.judge.registry import Check
from auditor.reports import terminal

PERMISSION_HEADERS = ["source", "API", "application permission / role", "licence", "checks"]


def _source_dict(name: str) -> dict[str, str]:
    info = describe(name)
    return {"name": name, "api": info.api, "permission": info.permission, "licence": info.licence}


def checks_list(checks: Mapping[str, Check], fmt: str) -> int:
    if fmt == "json":
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
    rows = []
    for c in checks.values():
        for i, name in enumerate(c.spec.requires):
            info = describe(name)
            head = (c.spec.id, c.spec.severity.value, c.spec.title) if i == 0 else ("", "", "")
            licence = f" ({info.licence})" if info.licence else ""
            rows.append([*head, name, f"{info.permission}{licence}"])
    headers = ["check", "severity", "title", "source", "permission (licence)"]
    sys.stdout.write(terminal.grid(rows, headers=headers, tablefmt="simple") + "\n")
    return 0


def permission_rows(checks: Mapping[str, Check]) -> list[list[str]]:
    """One row per source: what the README's permission table shows."""
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


def permissions(checks: Mapping[str, Check], fmt: str) -> int:
    rows = permission_rows(checks)
    if fmt == "json":
        listing = [dict(zip(PERMISSION_HEADERS, row, strict=True)) for row in rows]
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        return 0
    tablefmt = "github" if fmt == "markdown" else "simple"
    sys.stdout.write(terminal.grid(rows, headers=PERMISSION_HEADERS, tablefmt=tablefmt) + "\n")
    return 0
