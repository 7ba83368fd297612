"""What a check sees: read-only snapshot sources it declared, the baseline, the clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.judge.baseline import Baseline
from auditor.judge.model import CheckSpec
from auditor.snapshot import Snapshot, Tenant

BUILT_IN = "checks."  # the package of the project's own checks


class UndeclaredSourceError(Exception):
    """A check read a source it did not list in `requires`: its error handling would lie."""


@dataclass(frozen=True)
class CheckContext:
    spec: CheckSpec
    snapshot: Snapshot
    baseline: Baseline

    def source(self, name: str) -> Any:
        """The data of a required source; the engine has made sure it is present and ok."""
        if name not in self.spec.requires:
            raise UndeclaredSourceError(f"{self.spec.id} reads {name!r} without requiring it")
        if self.spec.module.startswith(BUILT_IN):
            # The project's checks get the data as read: a test runs each on the demo
            # snapshot and fails if one changes it. Anyone else's get a read-only view.
            return self.snapshot.sources[name].data
        return self.snapshot.frozen(name)

    @property
    def now(self) -> datetime:
        """The collection time: 'recent' means recent when the snapshot was taken, so an
        audit of an old snapshot gives the same answer as it did then."""
        return self.snapshot.collected_at

    @property
    def thresholds(self) -> Mapping[str, int]:
        return self.baseline.thresholds

    @property
    def tenant(self) -> Tenant:
        return self.snapshot.tenant
