"""One HTTP layer for Graph and Exchange: timeouts, bounded retries, clear errors.

Retries 429, 503, 504 and dropped connections, honouring `Retry-After` (seconds or an HTTP
date) and, for Exchange, a wait given inside the error message; otherwise exponential backoff
with full jitter. Every attempt has a timeout and every request an overall deadline. Errors
are one redacted line: never a token, never a traceback.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from auditor import __version__
from auditor.collect.deadline import NO_DEADLINE, Deadline, DeadlineExceeded
from auditor.common import jsonio
from auditor.common.redact import redact

# A write is sent again only when the server said it did not take it: 429 and 503 refuse the
# request; 504 means a gateway stopped waiting for a server that may still have done it.
WRITE_RETRIED_STATUSES = frozenset({429, 503})
# A read can simply ask again, after any server error too.
READ_RETRIED_STATUSES = WRITE_RETRIED_STATUSES | {500, 502, 504}
_MESSAGE_WAIT = re.compile(r"(?i)\b(?:after|in|wait)\s+(\d{1,4})\s*(?:seconds?|secs?|s)\b")


class ApiError(Exception):
    """An API answered with an error, garbage, or not at all. `status` is None when no HTTP
    answer came back."""

    def __init__(self, status: int | None, message: str):
        self.status = status
        self.message = redact(" ".join(message.split()))
        super().__init__(self.message)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    deadline: float = 300.0  # seconds for one request, retries and waits included
    connect_timeout: float = 10.0
    read_timeout: float = 120.0


WaitReporter = Callable[[str], None]


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to float
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # unreadable: the caller's own backoff applies
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def wait_from_message(body: Any) -> float | None:
    """Exchange's throttling answers carry no Retry-After; the wait is in the message text."""
    error = body.get("error") if isinstance(body, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else None
    if isinstance(message, str):
        match = _MESSAGE_WAIT.search(message)
        if match:
            return float(match.group(1))
    return None


_TYPED_DETAIL = re.compile(r"^\|([\w.]+)\|(.*)$", re.S)


def _detail_message(error: Mapping[str, Any]) -> str | None:
    """Exchange puts the real cause in `details[0].message` as `|Exception.Type|text`."""
    details = error.get("details")
    first = details[0] if isinstance(details, list) and details else None
    message = first.get("message") if isinstance(first, Mapping) else None
    if not isinstance(message, str) or not message.strip():
        return None
    typed = _TYPED_DETAIL.match(message.strip())
    if typed:
        return f"{typed.group(1).rsplit('.', 1)[-1]}: {typed.group(2).strip()}"
    return message.strip()


def describe_error_body(body: Any) -> str:
    """The useful sentence of a Graph or Exchange error document. Exchange's `message` is often
    only "Invalid Operation": the cause is in `details[0].message` or in
    `innererror.internalexception.message`, read in that order (as CIPP-API does)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("error"), Mapping):
        return ""
    error = body["error"]
    inner = error.get("innererror")
    internal = inner.get("internalexception") if isinstance(inner, Mapping) else None
    internal_message = internal.get("message") if isinstance(internal, Mapping) else None
    message = _detail_message(error) or internal_message or error.get("message")
    code = error.get("code")
    text = ": ".join(str(p) for p in (code, message) if p)
    return text[:300]


class HttpClient:
    def __init__(
        self,
        policy: RetryPolicy | None = None,
        on_wait: WaitReporter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        pool_size: int = 8,
        deadline: Deadline = NO_DEADLINE,
    ):
        self.policy = policy or RetryPolicy()
        self.deadline = deadline
        self.on_wait = on_wait
        self.sleep = sleep
        self.clock = clock
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = f"m365-mail-auditor/{__version__}"
        self._lock = threading.Lock()
        self.requests_sent = 0

    def wait(self, seconds: float, what: str) -> None:
        """Sleep, unless the deadline comes first: then the work is over."""
        if seconds >= self.deadline.remaining():
            raise DeadlineExceeded(self.deadline.message(what))
        self.sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.max_delay, self.policy.base_delay * 2 ** (attempt - 1))
        return random.uniform(self.policy.base_delay / 2, ceiling)

    def request_json(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        label: str = "",
        allow_statuses: frozenset[int] = frozenset(),
        expect_json: bool = True,
        idempotent: bool | None = None,
        renew: Callable[[str], str] | None = None,
    ) -> tuple[int, Any]:
        """Send one request, retrying what is worth retrying; return (status, parsed JSON).
        Statuses in `allow_statuses` come back instead of raising. With `expect_json` False a
        success may answer anything (a chat webhook answers `ok` or nothing): its body is
        then None. A read (`idempotent`, by default a GET) is also retried on 500 and 502, on
        a body cut short and on a success that is not JSON: one blip must not fail a source.
        A 401 to a `token` is answered once by `renew(token)`, a new token, and the request
        sent again: a token can expire or be revoked before its time."""
        reads = method == "GET" if idempotent is None else idempotent
        label = label or f"{method} {urlsplit(url).path}"
        send_headers = {"Accept": "application/json", **(headers or {})}
        if token:
            send_headers["Authorization"] = f"Bearer {token}"
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            response = self._send(
                method,
                url,
                reads,
                label,
                attempt,
                started,
                params=params,
                json=json_body,
                data=data,
                headers=send_headers,
            )
            if response is None:
                continue
            status = response.status_code
            if status == 401 and token and renew is not None:
                fresh = self._renewed(renew, token)
                renew = None  # once
                if fresh != token:
                    token = fresh
                    send_headers["Authorization"] = f"Bearer {token}"
                    continue
            if not expect_json and status < 400:
                return status, None
            body = _try_json(response.content)  # parsed once: pages can be large
            if reads and status < 300 and body is _NOT_JSON:
                self._wait_or_raise(
                    label,
                    attempt,
                    started,
                    min(self._backoff(attempt), self.policy.max_delay),
                    status,
                    f"answered HTTP {status} with {_describe_raw(response.content)}",
                )
                continue
            return status, self._parse(response, body, allow_statuses)

    @staticmethod
    def _renewed(renew: Callable[[str], str], stale: str) -> str:
        try:
            return renew(stale)
        except Exception as exc:  # the sign-in's own error, already one redacted line
            raise ApiError(
                401, f"the service refused the token and a new one could not be had: {exc}"
            ) from None

    def post(
        self, url: str, data: bytes, headers: Mapping[str, str], label: str
    ) -> requests.Response:
        """POST once, without following redirects, and return whatever answered. Only what
        the server surely did not act on is sent again: a refused connection, 429 and 503.
        A reset or a timeout after the body went out, 500, 502 and 504 raise `ApiError`
        (`ambiguous`): the server may have stored it, and a resend would duplicate it."""
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            response = self._send(
                "POST",
                url,
                False,
                label,
                attempt,
                started,
                data=data,
                headers=dict(headers),
                allow_redirects=False,
            )
            if response is not None:
                return response

    def _send(
        self,
        method: str,
        url: str,
        reads: bool,
        label: str,
        attempt: int,
        started: float,
        **kwargs: Any,
    ) -> requests.Response | None:
        """One attempt. None when it failed in a way worth another attempt (after the wait,
        which has been done); `ApiError` when it failed in a way that is not."""
        self.deadline.check(label)
        with self._lock:
            self.requests_sent += 1
        netloc = urlsplit(url).netloc
        try:
            response = self.session.request(
                method,
                url,
                timeout=(
                    self.deadline.bound(self.policy.connect_timeout),
                    self.deadline.bound(self.policy.read_timeout),
                ),
                **kwargs,
            )
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            reason = f"{netloc} {_failure(exc)}"
            if not reads and _maybe_received(exc):
                # A write the server may have done is not sent again.
                raise ApiError(
                    None, f"{reason} after the request was sent; not sent again"
                ) from None
            self._wait_or_raise(label, attempt, started, self._backoff(attempt), None, reason)
            return None
        status = response.status_code
        if status in (READ_RETRIED_STATUSES if reads else WRITE_RETRIED_STATUSES):
            body = _try_json(response.content)
            detail = describe_error_body(body) or response.reason or ""
            reason = f"HTTP {status} {detail}".strip()
            asked = retry_after_seconds(response.headers.get("Retry-After"))
            if asked is None:
                asked = wait_from_message(body)
            if asked is not None:
                # The service said how long: wait that long, or stop (when the request's
                # or the run's deadline cannot hold it), never retry early.
                delay = asked
                reason += f"; the service asked to wait {asked:.0f} s"
            else:
                delay = min(self._backoff(attempt), self.policy.max_delay)
            self._wait_or_raise(label, attempt, started, delay, status, reason)
            return None
        return response

    def _wait_or_raise(
        self,
        label: str,
        attempt: int,
        started: float,
        delay: float,
        status: int | None,
        reason: str,
    ) -> None:
        spent = self.clock() - started
        # The request's own bounds first: a wait it cannot afford ends it, saying why.
        if attempt >= self.policy.max_attempts or spent + delay > self.policy.deadline:
            raise ApiError(status, f"{reason} (gave up after {attempt} attempts, {spent:.0f}s)")
        if delay >= self.deadline.remaining():
            raise DeadlineExceeded(f"{self.deadline.message(label)} ({reason})")
        if self.on_wait:
            self.on_wait(
                f"{label}: {reason}; retrying in {delay:.1f}s "
                f"(attempt {attempt + 1} of {self.policy.max_attempts})"
            )
        self.sleep(delay)

    def _parse(self, response: requests.Response, body: Any, allow_statuses: frozenset[int]) -> Any:
        status = response.status_code
        raw = response.content
        if status >= 400 and status not in allow_statuses:
            detail = describe_error_body(body)
            if not detail:
                detail = _describe_raw(raw) or response.reason or ""
            raise ApiError(status, f"HTTP {status} {detail}".strip())
        if body is _NOT_JSON:
            raise ApiError(status, f"answered HTTP {status} with {_describe_raw(raw)}")
        return body


_NOT_JSON = object()


def _try_json(raw: bytes) -> Any:
    if not raw or not raw.strip(b"\x00 \r\n\t"):
        return _NOT_JSON
    try:
        return jsonio.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _NOT_JSON


def _failure(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "cut the answer short"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return "connection failed"


def _maybe_received(exc: Exception) -> bool:
    """Whether the server may have received the request: not when the connection was never
    made (refused, unresolvable, connect timeout), possibly in every other case."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, urllib3.exceptions.MaxRetryError):
        cause = cause.reason
    return not isinstance(
        cause, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ProxyError
    )


def _describe_raw(raw: bytes) -> str:
    if not raw:
        return "an empty body, not JSON"
    if not raw.strip(b"\x00"):
        return f"a body of {len(raw)} NUL bytes, not JSON"
    return f"a body that is not JSON ({len(raw)} bytes)"
