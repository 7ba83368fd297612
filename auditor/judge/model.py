"""The result model every report renders: frozen, sorted, JSON-ready."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from auditor.snapshot import Tenant


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    WAIVED = "waived"


class AuditStatus(StrEnum):
    """The run as a whole. `fail` means complete with findings; `incomplete` that some check
    or resource could not be judged (whatever else failed); `error` that nothing could be."""

    PASS = "pass"
    WAIVED = "waived"
    FAIL = "fail"
    INCOMPLETE = "incomplete"
    ERROR = "error"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = list(Severity)


@dataclass(frozen=True)
class Result:
    """What a check found about one resource (a domain, a connector, an admin)."""

    resource: str
    status: Status
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    # A check may raise one result above its own severity (an unknown *enabled* on-premises
    # connector is worse than an unknown disabled one).
    severity: Severity | None = None
    waiver: Waiver | None = None
    # Other resources this finding is about (the connector an address sends through), so that
    # reports can put one problem's findings together.
    related: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckSpec:
    id: str
    slug: str
    title: str
    severity: Severity
    requires: tuple[str, ...]
    ndr: tuple[str, ...]
    remediation: str
    module: str = ""


@dataclass(frozen=True)
class Waiver:
    check: str
    resource: str
    reason: str
    expires: str  # YYYY-MM-DD, the last day the waiver applies
    json_path: str


class WaiverState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    UNUSED = "unused"
    # Its check did not run, or could not judge its resource: nothing to advise either way.
    UNJUDGED = "unjudged"


@dataclass(frozen=True)
class WaiverReport:
    waiver: Waiver
    state: WaiverState


@dataclass(frozen=True)
class CheckOutcome:
    spec: CheckSpec
    severity: Severity  # after the baseline's override
    status: Status
    results: tuple[Result, ...]
    reason: str = ""  # why the check as a whole is `error`
    fix: str = ""  # how to fix that error (a permission, licence or option), when known
    blocked_by: tuple[str, ...] = ()  # the failed or missing sources that stopped it

    def result_severity(self, result: Result) -> Severity:
        return result.severity or self.severity

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)


@dataclass(frozen=True)
class RootCause:
    """One reason for errors, said once: the sources it stopped and the checks that could not
    judge because of it."""

    kind: str
    summary: str
    fix: str
    sources: tuple[str, ...]
    checks: tuple[str, ...]


@dataclass(frozen=True)
class AuditResult:
    tool_version: str
    tenant: Tenant
    collected_at: str
    started_at: str
    snapshot_source: str
    snapshot_sha256: str
    baseline_path: str
    baseline_sha256: str
    outcomes: tuple[CheckOutcome, ...]
    waivers: tuple[WaiverReport, ...]
    disabled_checks: tuple[str, ...]
    changes: Mapping[str, Any] | None = None  # against a previous report (run --previous)
    causes: tuple[RootCause, ...] = ()  # why checks errored, each cause once
    warnings: tuple[str, ...] = ()  # about the inputs (a stale snapshot), for every report
    baseline_document: Mapping[str, Any] | None = None  # kept so a later run can re-judge

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def resources_examined(self) -> int:
        return sum(len(o.results) for o in self.outcomes)

    @property
    def unjudged(self) -> int:
        """Checks that could not judge at all, plus resources a running check could not."""
        return sum(
            1 if o.status is Status.ERROR and not o.results else o.count(Status.ERROR)
            for o in self.outcomes
        )

    @property
    def status(self) -> AuditStatus:
        judged_any = any(
            o.status is not Status.ERROR or any(r.status is not Status.ERROR for r in o.results)
            for o in self.outcomes
        )
        if not judged_any:
            return AuditStatus.ERROR  # nothing judged (or no check ran): no verdict at all
        if self.unjudged:
            return AuditStatus.INCOMPLETE
        statuses = {o.status for o in self.outcomes}
        if Status.FAIL in statuses:
            return AuditStatus.FAIL
        if Status.WAIVED in statuses:
            return AuditStatus.WAIVED
        return AuditStatus.PASS

    def exit_code(self, fail_on: Severity) -> int:
        """0 pass or waived (or failures all below fail_on); 1 a complete audit with a failure
        at or above fail_on; 2 an incomplete audit or one that judged nothing, whatever it
        found: its failures are in the report, but its silence cannot be trusted."""
        if self.status in (AuditStatus.INCOMPLETE, AuditStatus.ERROR):
            return 2
        for outcome in self.outcomes:
            for result in outcome.results:
                if (
                    result.status is Status.FAIL
                    and outcome.result_severity(result).rank >= fail_on.rank
                ):
                    return 1
        return 0
