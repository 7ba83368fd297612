"""The HTTP layer and the Graph and Exchange clients, with HTTP mocked by `responses`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses

from auditor.collect.exchange import ExchangeClient, IncompleteResult, strip_sidecars
from auditor.collect.graph import GraphClient, batch_failure
from auditor.collect.http import (
    ApiError,
    HttpClient,
    RetryPolicy,
    retry_after_seconds,
    wait_from_message,
)

GRAPH = "https://graph.test"
EXO = "https://exchange.test"


class Clock:
    """A clock that only moves when the client sleeps: retries cost no real time."""

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def http(clock):
    waits: list[str] = []
    client = HttpClient(
        RetryPolicy(max_attempts=4, deadline=100),
        on_wait=waits.append,
        sleep=clock.sleep,
        clock=clock,
    )
    client.waits = waits
    return client


class TestRetries:
    @responses.activate
    def test_retry_after_seconds_is_honoured(self, http, clock):
        url = f"{GRAPH}/x"
        responses.get(url, status=429, headers={"Retry-After": "7"})
        responses.get(url, json={"ok": True})
        assert http.request_json("GET", url) == (200, {"ok": True})
        assert clock.sleeps == [7.0]
        assert "retrying in 7.0s (attempt 2 of 4)" in http.waits[0]

    def test_retry_after_http_date(self):
        now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
        later = format_datetime(now + timedelta(seconds=30), usegmt=True)
        assert retry_after_seconds(later, now) == 30.0
        assert retry_after_seconds("soon") is None

    @responses.activate
    def test_exchange_wait_in_the_message_is_honoured(self, http, clock):
        url = f"{EXO}/x"
        body = {"error": {"code": "Throttled", "message": "Try again after 12 seconds."}}
        responses.post(url, status=429, json=body)
        responses.post(url, json={"value": []})
        http.request_json("POST", url, json_body={})
        assert clock.sleeps == [12.0]
        assert wait_from_message({"error": {"message": "no number here"}}) is None

    @responses.activate
    def test_backoff_without_any_hint_grows_and_is_bounded(self, http, clock):
        url = f"{GRAPH}/x"
        for _ in range(3):
            responses.get(url, status=503)
        responses.get(url, json={})
        http.request_json("GET", url)
        assert len(clock.sleeps) == 3
        assert all(0.5 <= s <= 4.0 for s in clock.sleeps)

    @responses.activate
    def test_gives_up_after_max_attempts(self, http):
        url = f"{GRAPH}/x"
        for _ in range(4):
            responses.get(url, status=504)
        with pytest.raises(ApiError) as caught:
            http.request_json("GET", url)
        assert caught.value.status == 504
        assert "gave up after 4 attempts" in caught.value.message
        assert len(responses.calls) == 4

    @responses.activate
    def test_deadline_stops_long_waits(self, clock):
        client = HttpClient(
            RetryPolicy(max_attempts=9, deadline=10), sleep=clock.sleep, clock=clock
        )
        url = f"{GRAPH}/x"
        responses.get(url, status=429, headers={"Retry-After": "30"})
        with pytest.raises(ApiError, match="gave up after 1 attempts"):
            client.request_json("GET", url)

    @responses.activate
    def test_a_wait_longer_than_the_request_may_take_ends_it_saying_so(self, http, clock):
        """Retry-After of an hour (or a date in 2099) is not cut to the client's own cap and
        retried early: the request stops, naming what the service asked (issue 16, 3)."""
        url = f"{GRAPH}/x"
        for value in ("3600", "Fri, 01 Jan 2099 00:00:00 GMT"):
            responses.get(url, status=429, headers={"Retry-After": value})
            with pytest.raises(ApiError) as caught:
                http.request_json("GET", url)
            assert "the service asked to wait" in caught.value.message
            assert "gave up after 1 attempts" in caught.value.message
        assert clock.sleeps == []  # no early retry

    @responses.activate
    def test_an_unreadable_retry_after_means_the_backoff(self, http, clock):
        url = f"{GRAPH}/x"
        responses.get(url, status=429, headers={"Retry-After": "²"})
        responses.get(url, json={"ok": True})
        assert http.request_json("GET", url) == (200, {"ok": True})
        assert retry_after_seconds("²") is None
        assert len(clock.sleeps) == 1 and clock.sleeps[0] <= 4.0

    @responses.activate
    def test_a_read_is_asked_again_after_a_server_error_or_garbage(self, http, clock):
        """500, 502 and a success that is not JSON are blips for a read (issue 16, 5)."""
        url = f"{GRAPH}/x"
        responses.get(url, status=500)
        responses.get(url, status=502)
        responses.get(url, body="<html>proxy error</html>", status=200)
        responses.get(url, json={"ok": True})
        assert http.request_json("GET", url) == (200, {"ok": True})
        assert len(clock.sleeps) == 3

    @responses.activate
    def test_a_write_is_not_repeated_after_a_server_error(self, http):
        url = f"{GRAPH}/x"
        responses.post(url, status=500)
        with pytest.raises(ApiError) as caught:
            http.request_json("POST", url, json_body={})
        assert caught.value.status == 500 and len(responses.calls) == 1
        responses.post(f"{EXO}/r", status=500)
        responses.post(f"{EXO}/r", json={"value": []})
        assert http.request_json("POST", f"{EXO}/r", json_body={}, idempotent=True)[0] == 200

    @responses.activate
    def test_connection_errors_are_retried(self, http):
        url = f"{GRAPH}/x"
        responses.get(url, body=requests.ConnectionError("reset"))
        responses.get(url, json={"fine": 1})
        assert http.request_json("GET", url)[1] == {"fine": 1}

    @responses.activate
    def test_other_errors_are_not_retried(self, http):
        url = f"{GRAPH}/x"
        responses.get(
            url,
            status=403,
            json={
                "error": {
                    "code": "Authorization_RequestDenied",
                    "message": "Insufficient privileges",
                }
            },
        )
        with pytest.raises(ApiError) as caught:
            http.request_json("GET", url)
        assert caught.value.status == 403
        assert caught.value.message == (
            "HTTP 403 Authorization_RequestDenied: Insufficient privileges"
        )
        assert len(responses.calls) == 1


class TestBodies:
    @responses.activate
    def test_nul_byte_body_is_a_clear_error(self, http):
        responses.post(f"{EXO}/x", status=403, body=b"\x00" * 8)
        with pytest.raises(ApiError, match="HTTP 403 a body of 8 NUL bytes, not JSON"):
            http.request_json("POST", f"{EXO}/x")

    @responses.activate
    def test_invalid_json_on_success_is_an_error(self, http):
        responses.get(f"{GRAPH}/x", body=b'{"value": [')
        with pytest.raises(ApiError, match="answered HTTP 200 with a body that is not JSON"):
            http.request_json("GET", f"{GRAPH}/x")

    @responses.activate
    def test_inner_exception_message_is_preferred(self, http):
        body = {
            "error": {
                "code": "BadRequest",
                "message": "outer",
                "innererror": {"internalexception": {"message": "the useful one"}},
            }
        }
        responses.post(f"{EXO}/x", status=400, json=body)
        with pytest.raises(ApiError, match="BadRequest: the useful one"):
            http.request_json("POST", f"{EXO}/x")

    @responses.activate
    def test_exchange_details_message_names_the_exception(self, http):
        """Exchange's `message` is often only "Invalid Operation"; `details` holds the cause
        as `|Type|text` (read before innererror, as CIPP-API does)."""
        body = {
            "error": {
                "code": "BadRequest",
                "message": "Invalid Operation",
                "details": [
                    {
                        "code": "Context",
                        "message": "|Microsoft.Exchange.Management.Tasks."
                        "ManagementObjectNotFoundException|The object 'x' couldn't be found.",
                    }
                ],
                "innererror": {"internalexception": {"message": "less specific"}},
            }
        }
        responses.post(f"{EXO}/x", status=400, json=body)
        with pytest.raises(ApiError) as caught:
            http.request_json("POST", f"{EXO}/x")
        assert caught.value.message == (
            "HTTP 400 BadRequest: ManagementObjectNotFoundException: The object 'x' couldn't "
            "be found."
        )

    @responses.activate
    def test_a_details_message_without_a_type_is_taken_as_it_is(self, http):
        body = {
            "error": {
                "code": "E",
                "message": "Invalid Operation",
                "details": [{"message": "plain"}],
            }
        }
        responses.post(f"{EXO}/x", status=400, json=body)
        with pytest.raises(ApiError, match=r"HTTP 400 E: plain$"):
            http.request_json("POST", f"{EXO}/x")

    @responses.activate
    def test_token_is_sent_and_never_in_errors(self, http):
        token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
        responses.get(
            f"{GRAPH}/x",
            status=400,
            json={"error": {"code": "Bad", "message": f"token {token} rejected"}},
        )
        with pytest.raises(ApiError) as caught:
            http.request_json("GET", f"{GRAPH}/x", token=token)
        assert responses.calls[0].request.headers["Authorization"] == f"Bearer {token}"
        assert token not in caught.value.message


def graph_client(http):
    return GraphClient(http, lambda: "tok", GRAPH)


class TestGraph:
    @responses.activate
    def test_pages_are_followed_and_headers_resent(self, http):
        first = f"{GRAPH}/v1.0/users"
        responses.get(first, json={"value": [{"id": 1}], "@odata.nextLink": f"{first}?$skip=1"})
        responses.get(f"{first}?$skip=1", json={"value": [{"id": 2}]})
        items = graph_client(http).get_all(
            "users", {"$select": "id"}, headers={"ConsistencyLevel": "eventual"}
        )
        assert items == [{"id": 1}, {"id": 2}]
        assert all(c.request.headers["ConsistencyLevel"] == "eventual" for c in responses.calls)
        assert "%24select=id" in responses.calls[0].request.url
        assert "select" not in responses.calls[1].request.url

    @responses.activate
    def test_a_repeating_next_link_is_an_error(self, http):
        url = f"{GRAPH}/v1.0/users"
        responses.get(url, json={"value": [], "@odata.nextLink": url})
        with pytest.raises(ApiError, match="paging does not end"):
            graph_client(http).get_all("users")

    @responses.activate
    def test_missing_value_list_is_an_error(self, http):
        responses.get(f"{GRAPH}/v1.0/users", json={"users": []})
        with pytest.raises(ApiError, match="without a 'value' list"):
            graph_client(http).get_all("users")

    @responses.activate
    def test_batch_splits_into_twenty_and_retries_429_per_request(self, http, clock):
        def answer(request):
            payload = json.loads(request.body)
            out = []
            for item in payload["requests"]:
                throttled = item["id"] == "r3" and not getattr(answer, "done", False)
                if throttled:
                    answer.done = True
                    out.append({"id": "r3", "status": 429, "headers": {"Retry-After": "2"}})
                elif item["id"] == "r4":
                    out.append({"id": "r4", "status": 404, "body": {"error": {"code": "NotFound"}}})
                else:
                    out.append({"id": item["id"], "status": 200, "body": {"n": item["url"]}})
            return 200, {}, json.dumps({"responses": out})

        responses.add_callback(responses.POST, f"{GRAPH}/v1.0/$batch", callback=answer)
        wanted = [(f"r{i}", f"/things/{i}") for i in range(25)]
        results = graph_client(http).batch(wanted)
        assert len(responses.calls) == 3  # 20 + 5, then r3 again
        assert [len(json.loads(c.request.body)["requests"]) for c in responses.calls] == [20, 5, 1]
        assert results["r3"] == {"n": "/things/3"}
        assert batch_failure(results["r4"]).status == 404
        assert clock.sleeps == [2.0]


def exchange_client(http):
    return ExchangeClient(http, lambda: "tok", EXO, "contoso.onmicrosoft.com")


INVOKE = f"{EXO}/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"


class TestExchange:
    @responses.activate
    def test_invoke_sends_the_cmdlet_and_strips_sidecars(self, http):
        responses.post(
            INVOKE,
            json={"value": [{"Name": "A", "Enabled": True, "Enabled@data.type": "System.Boolean"}]},
        )
        assert exchange_client(http).invoke("Get-InboundConnector") == [
            {"Name": "A", "Enabled": True}
        ]
        request = responses.calls[0].request
        assert json.loads(request.body) == {
            "CmdletInput": {"CmdletName": "Get-InboundConnector", "Parameters": {}}
        }
        assert request.headers["X-AnchorMailbox"].endswith("@contoso.onmicrosoft.com")

    @responses.activate
    def test_next_link_gets_the_same_post_body(self, http):
        responses.post(INVOKE, json={"value": [{"n": 1}], "@odata.nextLink": f"{INVOKE}?s=1"})
        responses.post(f"{INVOKE}?s=1", json={"value": [{"n": 2}]})
        rows = exchange_client(http).invoke("Get-Mailbox", {"ResultSize": "Unlimited"})
        assert rows == [{"n": 1}, {"n": 2}]
        bodies = [json.loads(c.request.body) for c in responses.calls]
        assert bodies[0] == bodies[1]

    @responses.activate
    def test_truncation_warning_without_next_link_is_incomplete(self, http):
        responses.post(
            INVOKE,
            json={
                "value": [{"n": 1}],
                "@adminapi.warnings": [
                    "There are more results available than currently displayed; output truncated."
                ],
            },
        )
        with pytest.raises(IncompleteResult, match="incomplete result \\(1 records\\)"):
            exchange_client(http).invoke("Get-Mailbox")

    @responses.activate
    def test_truncation_warning_with_next_link_continues(self, http):
        warning = ["More results available; output truncated."]
        responses.post(
            INVOKE,
            json={
                "value": [{"n": 1}],
                "@adminapi.warnings": warning,
                "@odata.nextLink": f"{INVOKE}?s=1",
            },
        )
        responses.post(f"{INVOKE}?s=1", json={"value": [{"n": 2}]})
        assert len(exchange_client(http).invoke("Get-Mailbox")) == 2

    @responses.activate
    def test_a_refused_replay_is_tried_once_more_then_continues(self, http):
        responses.post(INVOKE, json={"value": [{"n": 1}], "@odata.nextLink": f"{INVOKE}?s=1"})
        refused = {
            "error": {"code": "BadRequest", "message": "Expired or Invalid pagination request"}
        }
        responses.post(f"{INVOKE}?s=1", status=400, json=refused)
        responses.post(f"{INVOKE}?s=1", json={"value": [{"n": 2}]})
        assert exchange_client(http).invoke("Get-Mailbox") == [{"n": 1}, {"n": 2}]
        assert len(responses.calls) == 3

    @responses.activate
    def test_a_replay_refused_twice_fails_the_listing_naming_the_cmdlet(self, http):
        responses.post(INVOKE, json={"value": [{"n": 1}], "@odata.nextLink": f"{INVOKE}?s=1"})
        refused = {
            "error": {"code": "BadRequest", "message": "Expired or Invalid pagination request"}
        }
        responses.post(f"{INVOKE}?s=1", status=400, json=refused)
        with pytest.raises(ApiError) as caught:
            exchange_client(http).invoke("Get-Mailbox")
        assert caught.value.message == (
            "Get-Mailbox: the gateway refused to continue its paged answer after 1 records "
            "(HTTP 400 BadRequest: Expired or Invalid pagination request); a partial list is "
            "not used"
        )
        assert len(responses.calls) == 3  # the first page, the replay and one more try

    @responses.activate
    def test_a_400_on_the_first_page_is_not_retried(self, http):
        responses.post(INVOKE, status=400, json={"error": {"code": "BadRequest", "message": "no"}})
        with pytest.raises(ApiError, match="HTTP 400 BadRequest: no"):
            exchange_client(http).invoke("Get-Mailbox")
        assert len(responses.calls) == 1

    @responses.activate
    def test_a_next_link_that_comes_back_is_an_error(self, http):
        responses.post(INVOKE, json={"value": [{"n": 1}], "@odata.nextLink": f"{INVOKE}?s=1"})
        responses.post(
            f"{INVOKE}?s=1", json={"value": [{"n": 2}], "@odata.nextLink": f"{INVOKE}?s=1"}
        )
        with pytest.raises(ApiError, match="paging does not end"):
            exchange_client(http).invoke("Get-Mailbox")

    @responses.activate
    def test_call_hands_the_last_page_s_warnings_to_the_caller(self, http):
        warning = "There are more results, use the following command to get more."
        responses.post(INVOKE, json={"value": [{"n": 1}], "@adminapi.warnings": [warning]})
        answer = exchange_client(http).call("Get-MessageTraceV2", {"ResultSize": 1})
        assert answer.records == [{"n": 1}] and answer.warnings == (warning,)

    @responses.activate
    def test_value_of_non_objects_is_an_error(self, http):
        responses.post(INVOKE, json={"value": ["a", "b"]})
        with pytest.raises(ApiError, match="not all objects"):
            exchange_client(http).invoke("Get-AcceptedDomain")

    def test_strip_sidecars(self):
        assert strip_sidecars({"A": 1, "A@data.type": "x", "@odata.type": "y"}) == {"A": 1}
