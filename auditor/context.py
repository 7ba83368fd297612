"""The check contract's first import path, kept so plugins written against it still load.
New code imports `auditor.judge`."""

from auditor.judge.context import CheckContext, UndeclaredSourceError

__all__ = ["CheckContext", "UndeclaredSourceError"]
