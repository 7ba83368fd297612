"""Microsoft Graph v1.0: paged reads and JSON batching."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from auditor.collect.http import ApiError, HttpClient, retry_after_seconds

MAX_PAGES = 10_000
BATCH_LIMIT = 20  # Graph's own limit per $batch request
# $batch requests in flight at once: Graph's throttling guidance counts each request inside a
# batch against the limits, so a few batches at a time, not all of them.
BATCH_CONCURRENCY = 4


# (id, relative url) for a GET; (id, relative url, JSON body) for a POST.
BatchRequest = tuple[str, str] | tuple[str, str, Any]


class GraphClient:
    def __init__(
        self,
        http: HttpClient,
        token: Callable[[], str],
        base_url: str,
        renew: Callable[[str], str] | None = None,
    ):
        self.http = http
        self._token = token
        self._renew = renew  # a new token after a 401 to this one
        self.base = f"{base_url.rstrip('/')}/v1.0"

    def get(self, path: str, params: Mapping[str, str] | None = None, label: str = "") -> Any:
        _, body = self.http.request_json(
            "GET",
            f"{self.base}/{path.lstrip('/')}",
            token=self._token(),
            renew=self._renew,
            params=params,
            label=label,
        )
        if not isinstance(body, Mapping):
            raise ApiError(200, f"GET {path} answered with {type(body).__name__}, not an object")
        return body

    def get_all(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        label: str = "",
    ) -> list[dict[str, Any]]:
        """Every item of a collection, following `@odata.nextLink` to the end."""
        url: str | None = path if path.startswith("https://") else f"{self.base}/{path.lstrip('/')}"
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        while url:
            if url in seen or len(seen) >= MAX_PAGES:
                raise ApiError(200, f"GET {path}: paging does not end (nextLink repeats)")
            seen.add(url)
            # The server does not carry request headers over to the next page: resend them.
            _, body = self.http.request_json(
                "GET",
                url,
                token=self._token(),
                renew=self._renew,
                params=params,
                headers=headers,
                label=label,
            )
            items.extend(_value(body, path))
            url = body.get("@odata.nextLink")
            params = None  # the nextLink holds the query already
        return items

    def batch(self, requests: Sequence[BatchRequest], label: str = "") -> dict[str, Any]:
        """Several requests through `$batch`: (id, relative url) is a GET, (id, relative url,
        body) a POST of that JSON body; the answer's body of each, by id. Batches of 20 go
        out BATCH_CONCURRENCY at a time. A 429 inside a batch is retried for that request
        alone; any other error raises."""
        pending: dict[str, BatchRequest] = {r[0]: r for r in requests}
        results: dict[str, Any] = {}
        rounds = 0
        while pending:
            rounds += 1
            ids = list(pending)
            chunks = [ids[i : i + BATCH_LIMIT] for i in range(0, len(ids), BATCH_LIMIT)]

            def send(chunk: list[str], batch: dict[str, BatchRequest] = pending) -> Any:
                payload = {"requests": [_batch_item(batch[rid]) for rid in chunk]}
                _, body = self.http.request_json(
                    "POST",
                    f"{self.base}/$batch",
                    token=self._token(),
                    renew=self._renew,
                    json_body=payload,
                    label=label or "POST $batch",
                    idempotent=True,  # batches of reads
                )
                return body

            if len(chunks) == 1:
                bodies = [send(chunks[0])]
            else:
                with ThreadPoolExecutor(max_workers=min(BATCH_CONCURRENCY, len(chunks))) as pool:
                    bodies = list(pool.map(send, chunks))
            retry: dict[str, BatchRequest] = {}
            wait = 0.0
            for chunk, body in zip(chunks, bodies, strict=True):
                responses = body.get("responses") if isinstance(body, Mapping) else None
                if not isinstance(responses, list):
                    raise ApiError(200, "$batch answered without a 'responses' list")
                answered = set()
                for item in responses:
                    rid = str(item.get("id"))
                    answered.add(rid)
                    status = int(item.get("status", 0))
                    if status == 429 and rounds < self.http.policy.max_attempts:
                        retry[rid] = pending[rid]
                        headers = item.get("headers") or {}
                        wait = max(wait, retry_after_seconds(headers.get("Retry-After")) or 1.0)
                    elif 200 <= status < 300:
                        results[rid] = item.get("body")
                    else:
                        results[rid] = _BatchFailure(status, item.get("body"))
                missing = set(chunk) - answered
                if missing:
                    raise ApiError(200, f"$batch left {len(missing)} requests unanswered")
            pending = retry
            if pending:
                if self.http.on_wait:
                    self.http.on_wait(
                        f"{label or '$batch'}: 429 for {len(pending)} requests, "
                        f"retrying in {wait:.1f}s"
                    )
                self.http.wait(min(wait, self.http.policy.max_delay), label or "$batch")
        return results


def _batch_item(request: BatchRequest) -> dict[str, Any]:
    if len(request) == 2:
        return {"id": request[0], "method": "GET", "url": request[1]}
    return {
        "id": request[0],
        "method": "POST",
        "url": request[1],
        "body": request[2],
        "headers": {"Content-Type": "application/json"},
    }


class _BatchFailure:
    def __init__(self, status: int, body: Any):
        self.status = status
        self.body = body


def batch_failure(value: Any) -> _BatchFailure | None:
    return value if isinstance(value, _BatchFailure) else None


def _value(body: Any, path: str) -> list[dict[str, Any]]:
    value = body.get("value") if isinstance(body, Mapping) else None
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ApiError(200, f"GET {path} answered without a 'value' list of objects")
    return value
