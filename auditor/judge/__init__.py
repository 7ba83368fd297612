"""Judging: the snapshot and the admin's baseline in, one result per examined resource out.

This module is the interface a check is written against (`from auditor.judge import ...`):
the `@check` decorator, the `CheckContext` it receives and the `Result` it yields. The rest of
the folder runs checks: `baseline` loads what the admins approved, `registry` finds the checks,
`engine` runs them and applies waivers, `model` is the result every report renders.
"""

from auditor.judge.baseline import INBOUND_CONNECTOR_PROPERTIES, OUTBOUND_CONNECTOR_PROPERTIES
from auditor.judge.context import CheckContext
from auditor.judge.model import Result, Severity, Status
from auditor.judge.registry import check

__all__ = [
    "INBOUND_CONNECTOR_PROPERTIES",
    "OUTBOUND_CONNECTOR_PROPERTIES",
    "CheckContext",
    "Result",
    "Severity",
    "Status",
    "check",
]
