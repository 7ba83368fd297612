"""Fix first: the failing resources, each with every finding about it across checks (a rogue
connector is a CONN-001, CONN-002 and DOM-001 finding, and the blocklisted address it relays
for), worst first, with the one next action."""

from __future__ import annotations

import re
from dataclasses import dataclass

from auditor.judge.model import AuditResult, CheckOutcome, Result, Severity, Status

LIMIT = 10  # resources shown; the rest are counted


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    message: str


@dataclass(frozen=True)
class Item:
    resource: str
    severity: Severity
    findings: tuple[Finding, ...]
    action: str  # the first sentence of the worst finding's remediation


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


def items(audit: AuditResult) -> list[Item]:
    grouped: dict[str, list[tuple[CheckOutcome, Result]]] = {}
    for outcome in audit.outcomes:
        for result in outcome.results:
            if result.status is not Status.FAIL:
                continue
            for resource in (result.resource, *result.related):
                grouped.setdefault(resource, []).append((outcome, result))
    # A resource only related to others (a connector no check failed itself) still leads
    # when two findings point at it; one finding alone stays with its own resource.
    out = []
    for resource, found in grouped.items():
        own = any(r.resource == resource for _, r in found)
        if not own and len(found) < 2:
            continue
        found.sort(key=lambda f: (-f[0].result_severity(f[1]).rank, f[0].spec.id))
        worst_outcome, worst = found[0]
        out.append(
            Item(
                resource,
                worst_outcome.result_severity(worst),
                tuple(
                    Finding(
                        o.spec.id if r.resource == resource else f"{o.spec.id} ({r.resource})",
                        o.result_severity(r),
                        r.message,
                    )
                    for o, r in found
                ),
                _first_sentence(worst_outcome.spec.remediation),
            )
        )
    out.sort(key=lambda i: (-i.severity.rank, -len(i.findings), i.resource))
    return out


def shown(audit: AuditResult) -> tuple[list[Item], int]:
    every = items(audit)
    return every[:LIMIT], max(0, len(every) - LIMIT)
