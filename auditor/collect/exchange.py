"""Exchange Online's admin REST gateway (InvokeCommand): cmdlets without PowerShell."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from auditor.collect.http import ApiError, HttpClient

MAX_PAGES = 10_000
_TRUNCATION_WORDS = ("truncat", "more results", "resultsize", "result size", "incomplete")
ANCHOR_MAILBOX = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"


class IncompleteResult(ApiError):
    """The gateway said it returned only part of the data and offered no way to the rest."""


def strip_sidecars(record: Mapping[str, Any]) -> dict[str, Any]:
    """Drop `Field@data.type` and other annotation keys: they describe, they are not data."""
    return {k: v for k, v in record.items() if "@" not in k}


class ExchangeClient:
    def __init__(self, http: HttpClient, token: Callable[[], str], base_url: str, tenant: str):
        self.http = http
        self._token = token
        self.tenant = tenant
        self.url = f"{base_url.rstrip('/')}/adminapi/beta/{tenant}/InvokeCommand"

    def invoke(
        self, cmdlet: str, parameters: Mapping[str, Any] | None = None, label: str = ""
    ) -> list[dict[str, Any]]:
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters or {})}}
        headers = {
            "X-ResponseFormat": "json",
            "Prefer": "odata.maxpagesize=1000",
            "X-AnchorMailbox": f"{ANCHOR_MAILBOX}{self.tenant}",
        }
        url: str | None = self.url
        records: list[dict[str, Any]] = []
        pages = 0
        while url:
            pages += 1
            if pages > MAX_PAGES:
                raise ApiError(200, f"{cmdlet}: paging does not end")
            # The nextLink is replayed with the same POST body, as the module itself does.
            _, answer = self.http.request_json(
                "POST",
                url,
                token=self._token(),
                json_body=body,
                headers=headers,
                label=label or cmdlet,
            )
            if not isinstance(answer, Mapping) or not isinstance(answer.get("value"), list):
                raise ApiError(200, f"{cmdlet} answered without a 'value' list")
            if not all(isinstance(v, Mapping) for v in answer["value"]):
                raise ApiError(200, f"{cmdlet} answered with a 'value' that is not all objects")
            records.extend(strip_sidecars(v) for v in answer["value"])
            url = answer.get("@odata.nextLink")
            warnings = [str(w) for w in answer.get("@adminapi.warnings") or ()]
            truncated = [w for w in warnings if any(t in w.lower() for t in _TRUNCATION_WORDS)]
            if truncated and not url:
                raise IncompleteResult(
                    200,
                    f"{cmdlet} returned an incomplete result ({len(records)} records): "
                    f"{truncated[0][:200]}",
                )
        return records
