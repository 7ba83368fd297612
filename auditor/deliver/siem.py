"""Deliver OCSF events to an HTTP event collector (Splunk HEC style), in batches; every event
ends delivered once or kept on disk, never lost.

- Only a 2xx answer to the POST itself is a delivery (and, when the collector answers HEC's
  JSON, its `code` 0). A 307 or 308 is followed as a POST to the same host; any other redirect
  would turn the POST into a GET and is a failure.
- What the collector surely did not take (refused connection, 429, 503) is sent again; what it
  may have stored (a reset after the body went out, a timeout, 5xx) is not: it is spooled, and
  every event carries a stable id (`metadata.uid`) by which the receiving side can drop a copy.
- 413 splits the batch in halves until the collector takes them (a single event it refuses is
  spooled, the rest go on).
- The spool is one NDJSON file of OCSF events per run; `m365-audit siem flush` resends it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from auditor.collect.deadline import DeadlineExceeded
from auditor.collect.http import ApiError, HttpClient
from auditor.common import jsonio
from auditor.common.redact import redact
from auditor.common.timeutil import format_time, utc_now
from auditor.deliver.notify import LOCAL_HOSTS

BATCH = 500
MAX_REDIRECTS = 3
SPOOL_GLOB = "m365-audit-undelivered-*.ndjson"
CLAIMED = ".sending"


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int
    spool: Path | None
    error: str = ""


class Refused(Exception):
    """The collector did not take a batch; `too_large` when it said so (413)."""

    def __init__(self, message: str, too_large: bool = False):
        message = redact(" ".join(message.split()))  # the collector's own words may echo
        super().__init__(message)
        self.message = message
        self.too_large = too_large


def check_target(url: str, spool_dir: Path) -> None:
    """Before any audit: an address the events can go to and a folder they can wait in.
    Raises ValueError with one line."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("--siem-url must be an https:// address of the collector")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise ValueError(
            "--siem-url must be https:// (the collector's token would travel in clear; "
            "http:// only to this machine)"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "--siem-url holds a user name or password: give the collector's token in "
            "$M365_AUDIT_SIEM_TOKEN (or the variable --siem-token-env names) instead"
        )
    if not spool_dir.exists():
        raise ValueError(f"--siem-spool {spool_dir}: the folder does not exist")
    if not spool_dir.is_dir():
        raise ValueError(f"--siem-spool {spool_dir}: not a folder")
    if not os.access(spool_dir, os.W_OK | os.X_OK):
        raise ValueError(f"--siem-spool {spool_dir}: this user cannot write there")


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


def _answer_text(response: requests.Response) -> str:
    """HEC answers `{"text": "...", "code": N}`; anything else is named by its status."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or ""
    if isinstance(body, dict) and "text" in body:
        return f"{str(body['text'])[:200]} (HEC code {body.get('code')})"
    return response.reason or ""


def _accepted(response: requests.Response) -> bool:
    """A 2xx, unless the body is HEC's JSON with a code other than 0 (Success)."""
    if not 200 <= response.status_code < 300:
        return False
    if not response.content.strip():
        return True  # 204 No Content, or an empty 200
    try:
        body = response.json()
    except ValueError:
        return True  # 200 text/plain "OK"
    code = body.get("code", 0) if isinstance(body, dict) else 0
    return not isinstance(code, int) or isinstance(code, bool) or code == 0


def _post(http: HttpClient, url: str, body: bytes, headers: dict[str, str]) -> None:
    """POST one batch; return when the collector took it, else raise `Refused`."""
    target = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = http.post(target, body, headers, "SIEM")
        except (ApiError, DeadlineExceeded) as exc:
            raise Refused(str(exc)) from None
        except requests.RequestException as exc:
            raise Refused(type(exc).__name__) from None
        status = response.status_code
        if _accepted(response):
            return
        if status in (307, 308) and response.headers.get("Location"):
            moved = urljoin(target, response.headers["Location"])
            old, new = urlsplit(target), urlsplit(moved)
            if new.hostname != old.hostname or (old.scheme == "https" != new.scheme):
                raise Refused(f"HTTP {status}: the collector redirected to another host")
            target = moved
            continue
        if 300 <= status < 400:
            raise Refused(
                f"HTTP {status}: the collector redirected the POST (only 307 and 308 keep it "
                "a POST); set --siem-url to the collector's own address"
            )
        if status == 413:
            raise Refused(f"HTTP 413 {_answer_text(response)}".strip(), too_large=True)
        raise Refused(f"HTTP {status} {_answer_text(response)}".strip())
    raise Refused(f"more than {MAX_REDIRECTS} redirects")


def _send(
    http: HttpClient,
    url: str,
    headers: dict[str, str],
    batch: Sequence[dict[str, Any]],
    kept: list[dict[str, Any]],
) -> tuple[int, Refused | None]:
    """Send `batch`, halving it on 413; what the collector does not take goes to `kept`.
    Returns (events sent, the first failure) and stops at a failure that is not 413."""
    try:
        _post(http, url, "\n".join(_hec(e) for e in batch).encode(), headers)
    except Refused as exc:
        if exc.too_large and len(batch) > 1:
            half = len(batch) // 2
            sent, failure = _send(http, url, headers, batch[:half], kept)
            if failure and not failure.too_large:
                kept.extend(batch[half:])
                return sent, failure
            more, later = _send(http, url, headers, batch[half:], kept)
            return sent + more, failure or later
        kept.extend(batch)
        return 0, exc
    return len(batch), None


def _send_all(
    events: Sequence[dict[str, Any]], url: str, token: str, http: HttpClient
) -> tuple[int, list[dict[str, Any]], Refused | None]:
    headers = {"Authorization": f"Splunk {token}", "Content-Type": "application/json"}
    sent = 0
    kept: list[dict[str, Any]] = []
    first: Refused | None = None
    for start in range(0, len(events), BATCH):
        done, failure = _send(http, url, headers, events[start : start + BATCH], kept)
        sent += done
        if failure and not failure.too_large:
            kept.extend(events[start + BATCH :])  # the collector is failing: keep the rest
            return sent, kept, failure
        first = first or failure
    return sent, kept, first


def send(
    events: Sequence[dict[str, Any]], url: str, token: str, http: HttpClient
) -> tuple[int, list[dict[str, Any]], str]:
    """Send every event; return (sent, the events not delivered, the first failure)."""
    sent, kept, failure = _send_all(events, url, token, http)
    return sent, kept, failure.message if failure else ""


def _spool_text(events: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps(e, sort_keys=True) + "\n" for e in events)


def deliver(
    events: Sequence[dict[str, Any]],
    url: str,
    token: str,
    http: HttpClient,
    spool_dir: Path,
) -> Delivery:
    sent, kept, error = send(events, url, token, http)
    if not kept:
        return Delivery(sent, 0, None)
    stamp = format_time(utc_now()).replace(":", "")
    spool = spool_dir / f"m365-audit-undelivered-{stamp}-{os.getpid()}.ndjson"
    jsonio.atomic_write(spool, _spool_text(kept))
    return Delivery(sent, len(kept), spool, error)


class SpoolError(ValueError):
    """A spooled file that is not what this tool wrote: named with its line."""


def _account(event: dict[str, Any]) -> Any:
    cloud = event.get("cloud")
    account = cloud.get("account") if isinstance(cloud, dict) else None
    return account.get("uid") if isinstance(account, dict) else None


def read_spool(path: Path, name: Path | None = None) -> list[dict[str, Any]]:
    """The events of a spool file (`name` is what the messages call it)."""
    label = name or path
    events = []
    try:
        text = jsonio.read_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise SpoolError(f"{label}: not UTF-8 text") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = jsonio.loads(line)
        except ValueError:
            raise SpoolError(f"{label}:{number}: not a JSON line") from None
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("time"), int | float)
            or not isinstance(_account(event), str)
        ):
            raise SpoolError(f"{label}:{number}: not an OCSF event written by m365-audit")
        events.append(event)
    return events


@dataclass(frozen=True)
class Flushed:
    files: int
    sent: int
    kept: int
    error: str = ""
    claimed: int = 0  # files another flush holds (or left behind when it was killed)


def _claim(spool_dir: Path) -> Iterator[tuple[Path, Path]]:
    """Each spooled file, renamed first so that two flushes never send the same file."""
    for path in sorted(spool_dir.glob(SPOOL_GLOB)):
        claimed = path.with_name(path.name + CLAIMED)
        try:
            path.rename(claimed)
        except FileNotFoundError:
            continue  # another flush took it
        yield path, claimed


def flush(spool_dir: Path, url: str, token: str, http: HttpClient) -> Flushed:
    """Resend every spooled file; delete what was delivered, keep the rest in place."""
    files = sent = kept_count = 0
    error = ""
    for original, claimed in _claim(spool_dir):
        files += 1
        try:
            events = read_spool(claimed, original)
        except Exception:  # an unreadable file keeps its name and the flush stops
            claimed.rename(original)
            raise
        done, kept, failure = _send_all(events, url, token, http)
        sent += done
        if kept:  # what is left goes back under its own name, in one atomic step
            jsonio.atomic_write(claimed, _spool_text(kept))
            claimed.replace(original)
            kept_count += len(kept)
            error = error or (failure.message if failure else "")
        else:
            claimed.unlink()
        if failure and not failure.too_large:
            break  # the collector is failing: leave the other files for the next flush
    others = len(list(spool_dir.glob(SPOOL_GLOB + CLAIMED)))
    return Flushed(files, sent, kept_count, error, others)
