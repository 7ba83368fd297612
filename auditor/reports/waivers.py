"""What every report says about the baseline's waivers: those to review (expired, or matching
no failing result of a check that judged) and those in force, with their reasons."""

from __future__ import annotations

from auditor.judge.model import AuditResult, Waiver, WaiverState


def to_review(audit: AuditResult) -> list[tuple[Waiver, str]]:
    notes = []
    for report in audit.waivers:
        if report.state is WaiverState.EXPIRED:
            notes.append((report.waiver, f"expired on {report.waiver.expires}, no longer waives"))
        elif report.state is WaiverState.UNUSED:
            notes.append((report.waiver, "matches no failing result: remove it from the baseline"))
    return notes


def in_force(audit: AuditResult) -> list[Waiver]:
    return [r.waiver for r in audit.waivers if r.state is WaiverState.ACTIVE]
