"""Deliver OCSF events to an HTTP event collector (Splunk HEC style), in batches, with
retries; what could not be delivered is kept on disk, never dropped."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.collect.http import ApiError, HttpClient
from auditor.common import jsonio
from auditor.common.timeutil import format_time, utc_now

BATCH = 500


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int
    spool: Path | None
    error: str = ""


def _hec(event: dict[str, Any]) -> str:
    return json.dumps(
        {
            "time": event["time"] / 1000,
            "host": event["cloud"]["account"]["uid"],
            "source": "m365-mail-auditor",
            "sourcetype": "ocsf:compliance_finding",
            "event": event,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def deliver(
    events: Sequence[dict[str, Any]],
    url: str,
    token: str,
    http: HttpClient,
    spool_dir: Path,
) -> Delivery:
    sent = 0
    for start in range(0, len(events), BATCH):
        batch = events[start : start + BATCH]
        body = "\n".join(_hec(e) for e in batch).encode()
        try:
            http.request_json(
                "POST",
                url,
                data=body,
                headers={"Authorization": f"Splunk {token}", "Content-Type": "application/json"},
                label="SIEM",
            )
        except ApiError as exc:
            rest = events[start:]
            stamp = format_time(utc_now()).replace(":", "")
            spool = spool_dir / f"m365-audit-undelivered-{stamp}-{os.getpid()}.ndjson"
            jsonio.atomic_write(spool, "".join(json.dumps(e, sort_keys=True) + "\n" for e in rest))
            return Delivery(sent, len(rest), spool, exc.message)
        sent += len(batch)
    return Delivery(sent, 0, None)
