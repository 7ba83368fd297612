"""The check contract's first import path, kept so plugins written against it still load.
New code imports `auditor.judge`."""

from auditor.judge.model import (
    AuditResult,
    CheckOutcome,
    CheckSpec,
    Result,
    Severity,
    Status,
    Tenant,
    Waiver,
    WaiverReport,
    WaiverState,
)

__all__ = [
    "AuditResult",
    "CheckOutcome",
    "CheckSpec",
    "Result",
    "Severity",
    "Status",
    "Tenant",
    "Waiver",
    "WaiverReport",
    "WaiverState",
]
