"""Exchange Online's admin REST gateway (InvokeCommand): cmdlets without PowerShell.

What the real gateway does, as public clients that call it against live tenants report
(sources in docs/fake-tenant.md):

- the URL and the `X-AnchorMailbox` header carry the tenant's GUID: a domain gets 401;
- a listing longer than a page comes with `@odata.nextLink`, fetched by POSTing the same body
  to it. One public client had that replay refused (400 "Expired or Invalid pagination
  request"): the replay is tried once more, then the source fails naming the cmdlet. A partial
  list is never taken for the whole;
- warnings come in `@adminapi.warnings`. A warning that a listing was cut short, with no page
  to follow, makes the listing incomplete: an error. Get-MessageTraceV2's continuation is such
  a warning too; `call` hands warnings to the message-trace collector, which follows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from auditor.collect.http import ApiError, HttpClient

MAX_PAGES = 10_000
TRUNCATION_WORDS = ("truncat", "more results", "resultsize", "result size", "incomplete")
APP_ANCHOR = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"


class IncompleteResult(ApiError):
    """The gateway said it returned only part of the data and offered no way to the rest."""


def strip_sidecars(record: Mapping[str, Any]) -> dict[str, Any]:
    """Drop `Field@data.type` and other annotation keys: they describe, they are not data."""
    return {k: v for k, v in record.items() if "@" not in k}


def is_truncation(warning: str) -> bool:
    lowered = warning.lower()
    return any(word in lowered for word in TRUNCATION_WORDS)


def refuse_empty_with_warning(cmdlet: str, answer: Answer) -> None:
    """No records and a warning is not "none": the caller may lack access to the objects, or
    the result may be partial."""
    if not answer.records and answer.warnings:
        raise IncompleteResult(
            200,
            f"{cmdlet} answered no records, with a warning (not taken as none): "
            f"{answer.warnings[0][:200]}",
        )


@dataclass(frozen=True)
class Answer:
    """Every record of one cmdlet's answer, and the warnings of its last page."""

    records: list[dict[str, Any]]
    warnings: tuple[str, ...]


class ExchangeClient:
    def __init__(
        self,
        http: HttpClient,
        token: Callable[[], str],
        base_url: str,
        tenant_id: str,
        anchor: str | None = None,
        renew: Callable[[str], str] | None = None,
    ):
        self.http = http
        self._token = token
        self._renew = renew  # a new token after a 401 to this one
        self.tenant_id = tenant_id
        self.anchor = anchor or f"{APP_ANCHOR}{tenant_id}"
        self.url = f"{base_url.rstrip('/')}/adminapi/beta/{tenant_id}/InvokeCommand"

    def call(
        self, cmdlet: str, parameters: Mapping[str, Any] | None = None, label: str = ""
    ) -> Answer:
        """One cmdlet, every page of its answer (following nextLink), and the last page's
        warnings for the caller to judge."""
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters or {})}}
        headers = {
            "X-ResponseFormat": "json",
            "Prefer": "odata.maxpagesize=1000",
            "X-AnchorMailbox": self.anchor,
        }
        url: str | None = self.url
        records: list[dict[str, Any]] = []
        links: set[str] = set()  # every nextLink followed: one that comes back never ends
        warnings: tuple[str, ...] = ()
        replayed_again = False
        while url:
            try:
                # The nextLink is replayed with the same POST body, as the module itself does.
                _, answer = self.http.request_json(
                    "POST",
                    url,
                    token=self._token(),
                    renew=self._renew,
                    json_body=body,
                    headers=headers,
                    label=label or cmdlet,
                    idempotent=True,  # Get- cmdlets read
                )
            except ApiError as exc:
                if url not in links or exc.status != 400:
                    raise
                if not replayed_again:
                    replayed_again = True
                    continue
                raise ApiError(
                    400,
                    f"{cmdlet}: the gateway refused to continue its paged answer after "
                    f"{len(records)} records ({exc.message}); a partial list is not used",
                ) from None
            replayed_again = False
            value = answer.get("value") if isinstance(answer, Mapping) else None
            if not isinstance(value, list):
                raise ApiError(200, f"{cmdlet} answered without a 'value' list")
            if not all(isinstance(v, Mapping) for v in value):
                raise ApiError(200, f"{cmdlet} answered with a 'value' that is not all objects")
            records.extend(strip_sidecars(v) for v in value)
            warnings = tuple(str(w) for w in answer.get("@adminapi.warnings") or ())
            link = answer.get("@odata.nextLink")
            url = link if isinstance(link, str) and link else None
            if url is not None:
                if url in links or len(links) >= MAX_PAGES:
                    raise ApiError(200, f"{cmdlet}: paging does not end (nextLink repeats)")
                links.add(url)
        return Answer(records, warnings)

    def invoke(
        self, cmdlet: str, parameters: Mapping[str, Any] | None = None, label: str = ""
    ) -> list[dict[str, Any]]:
        """Every record of a listing; a listing the gateway says it cut short is an error, and
        so is an empty one that comes with a warning: "none" must not be read from an answer
        that says something went wrong (no access to the objects, a partial result)."""
        answer = self.call(cmdlet, parameters, label)
        refuse_empty_with_warning(cmdlet, answer)
        truncated = [w for w in answer.warnings if is_truncation(w)]
        if truncated:
            raise IncompleteResult(
                200,
                f"{cmdlet} returned an incomplete result ({len(answer.records)} records): "
                f"{truncated[0][:200]}",
            )
        return answer.records
