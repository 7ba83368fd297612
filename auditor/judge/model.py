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

    def result_severity(self, result: Result) -> Severity:
        return result.severity or self.severity

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)


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

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def resources_examined(self) -> int:
        return sum(len(o.results) for o in self.outcomes)

    @property
    def status(self) -> Status:
        statuses = {o.status for o in self.outcomes}
        for s in (Status.FAIL, Status.ERROR, Status.WAIVED):
            if s in statuses:
                return s
        return Status.PASS

    def exit_code(self, fail_on: Severity) -> int:
        """0 all pass (waived counts), 1 a failure at or above fail_on, else 2 on any error."""
        for outcome in self.outcomes:
            for result in outcome.results:
                if (
                    result.status is Status.FAIL
                    and outcome.result_severity(result).rank >= fail_on.rank
                ):
                    return 1
        if any(o.status is Status.ERROR or o.count(Status.ERROR) for o in self.outcomes):
            return 2
        return 0
