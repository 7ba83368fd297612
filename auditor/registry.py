"""The check contract's first import path, kept so plugins written against it still load.
New code imports `auditor.judge`."""

from auditor.judge.registry import (
    ENTRY_POINT_GROUP,
    Check,
    CheckDefinitionError,
    check,
    checks_in_module,
    discover,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Check",
    "CheckDefinitionError",
    "check",
    "checks_in_module",
    "discover",
]
