"""Collectors and collection, with HTTP mocked by `responses`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import responses

from auditor import snapshot
from auditor.collect.catalogue import with_dependencies
from auditor.collect.clouds import resolve
from auditor.collect.collectors import CollectContext, normalise_time
from auditor.collect.collectors.message_trace import (
    RateLimiter,
    Seen,
    aggregate,
    continuation,
    message_trace,
    recipients,
    windows,
)
from auditor.collect.exchange import ExchangeClient
from auditor.collect.http import ApiError, HttpClient, RetryPolicy
from auditor.collect.runner import Collector, api_cause
from auditor.common import jsonio
from auditor.common.timeutil import parse_time
from auditor.snapshot import data_problem
from tests.unit.test_http import INVOKE, Clock

TENANT_ID = "11111111-2222-3333-4444-555555555555"

END = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
ACCEPTED = {
    "contoso.com": {"DomainName": "contoso.com"},
    "fabrikam.com": {"DomainName": "fabrikam.com", "MatchSubDomains": True},
}


def row(trace_id, sender, recipient, received="2026-11-19T10:00:00Z", ip="192.0.2.1"):
    return {
        "MessageTraceId": trace_id,
        "SenderAddress": sender,
        "RecipientAddress": recipient,
        "Received": received,
        "FromIP": ip,
        "Subject": "secret plans",
    }


class TestAggregation:
    def test_windows_are_at_most_ten_days_newest_first(self):
        spans = windows(END, 25)
        assert [(e - s).days for s, e in spans] == [10, 10, 5]
        assert spans[0][1] == END and spans[-1][0] == datetime(2026, 10, 26, 6, 0, tzinfo=UTC)

    def test_messages_are_counted_once_and_outbound_if_any_recipient_is_external(self):
        rows = [
            row("m1", "a@contoso.com", "x@gmail.com"),
            row("m1", "a@contoso.com", "b@contoso.com"),  # same message, second recipient
            row("m2", "a@contoso.com", "b@contoso.com", received="2026-11-18T10:00:00Z"),
            row("m3", "a@contoso.com", "c@shop.fabrikam.com"),  # MatchSubDomains: internal
            row("m4", "", "b@contoso.com"),  # a bounce: no sender
        ]
        aggregates, without_sender = aggregate(rows, ACCEPTED)
        assert without_sender == 1
        assert aggregates == [
            {
                "SenderDomain": "contoso.com",
                "FromIP": "192.0.2.1",
                "Outbound": False,
                "MessageCount": 2,
                "FirstReceived": "2026-11-18T10:00:00Z",
                "LastReceived": "2026-11-19T10:00:00Z",
            },
            {
                "SenderDomain": "contoso.com",
                "FromIP": "192.0.2.1",
                "Outbound": True,
                "MessageCount": 1,
                "FirstReceived": "2026-11-19T10:00:00Z",
                "LastReceived": "2026-11-19T10:00:00Z",
            },
        ]
        assert "secret plans" not in json.dumps(aggregates)

    def test_a_guid_is_one_message_however_cased_and_other_ids_stay_as_they_are(self):
        guid = "3890b888-7dfb-5d47-8dd5-b2744c0adfc4"
        rows = [
            row(guid, "a@contoso.com", "b@contoso.com"),
            row(guid.upper(), "a@contoso.com", "x@gmail.com"),  # the same message: outbound
            row("0123", "a@contoso.com", "b@contoso.com"),  # not GUIDs: two messages,
            row("123", "a@contoso.com", "b@contoso.com"),  # though equal as hex numbers
            row(guid.replace("-", ""), "a@contoso.com", "b@contoso.com"),  # not a GUID's form
        ]
        aggregates, _ = aggregate(rows, ACCEPTED)
        counts = {a["Outbound"]: a["MessageCount"] for a in aggregates}
        assert counts == {True: 1, False: 3}

    def test_peak_start_and_first_seen_keep_the_time_to_the_second(self):
        rows = [
            row("m1", "a@contoso.com", "x@gmail.com", received="2026-11-19T10:00:00.9999999Z"),
            row("m2", "a@contoso.com", "y@gmail.com", received="1969-12-31T23:59:59.5Z"),
        ]
        totals = recipients(rows, ACCEPTED)["ExternalRecipients"]
        assert totals["Peak24h"] == {"Recipients": 1, "PeakStart": "1969-12-31T23:59:59Z"}
        aggregates, _ = aggregate(rows, ACCEPTED)
        assert aggregates[0]["FirstReceived"] == "1969-12-31T23:59:59Z"
        assert aggregates[0]["LastReceived"] == "2026-11-19T10:00:00Z"

    def test_rate_limiter_waits_for_the_oldest_call_to_leave_the_period(self):
        clock = Clock()
        limiter = RateLimiter(limit=3, period=300, clock=clock, sleep=clock.sleep)
        for _ in range(3):
            limiter.acquire()
            clock.now += 10
        limiter.acquire()
        assert clock.sleeps == [270.0]
        clock.now += 300
        limiter.acquire()
        assert clock.sleeps == [270.0]


def trace_context(http, days=7):
    return CollectContext(
        graph=None,
        exchange=ExchangeClient(
            http, lambda: "tok", "https://exchange.test", "contoso.onmicrosoft.com"
        ),
        now=END,
        trace_days=days,
        dependencies={"exchange.acceptedDomains": list(ACCEPTED.values())},
    )


class TestMessageTracePaging:
    @responses.activate
    def test_full_pages_continue_from_the_last_row_and_overlaps_are_removed(self, monkeypatch):
        monkeypatch.setattr("auditor.collect.collectors.message_trace.PAGE_SIZE", 2)
        pages = [
            [
                row("m1", "a@contoso.com", "x@gmail.com", "2026-11-19T10:00:00Z"),
                row("m2", "a@contoso.com", "y@gmail.com", "2026-11-19T09:00:00Z"),
            ],
            [
                row("m2", "a@contoso.com", "y@gmail.com", "2026-11-19T09:00:00Z"),
                row("m3", "a@contoso.com", "z@gmail.com", "2026-11-19T08:00:00Z"),
            ],
            [row("m3", "a@contoso.com", "z@gmail.com", "2026-11-19T08:00:00Z")],
        ]
        for page in pages:
            responses.post(INVOKE, json={"value": page})
        clock = Clock()
        http = HttpClient(sleep=clock.sleep, clock=clock)
        data = message_trace(trace_context(http), RateLimiter(clock=clock, sleep=clock.sleep))
        assert data["Aggregates"][0]["MessageCount"] == 3
        params = [json.loads(c.request.body)["CmdletInput"]["Parameters"] for c in responses.calls]
        assert params[0] == {
            "StartDate": "2026-11-13T06:00:00Z",
            "EndDate": "2026-11-20T06:00:00Z",
            "ResultSize": 2,
        }
        assert params[1]["EndDate"] == "2026-11-19T09:00:00Z"
        assert params[1]["StartingRecipientAddress"] == "y@gmail.com"
        assert data["StartDate"] == "2026-11-13T06:00:00Z"

    @responses.activate
    def test_a_page_of_only_old_rows_is_an_error_not_a_loop(self, monkeypatch):
        monkeypatch.setattr("auditor.collect.collectors.message_trace.PAGE_SIZE", 1)
        same = [row("m1", "a@contoso.com", "x@gmail.com")]
        responses.post(INVOKE, json={"value": same})
        responses.post(INVOKE, json={"value": same})
        clock = Clock()
        http = HttpClient(sleep=clock.sleep, clock=clock)
        with pytest.raises(ApiError, match="paging stalled"):
            message_trace(trace_context(http), RateLimiter(clock=clock, sleep=clock.sleep))


MORE = (
    "There are more results, use the following command to get more. Get-MessageTraceV2 "
    '-StartDate "2026-11-13T06:00:00Z" -EndDate "{end}" -StartingRecipientAddress "{to}" '
    "-ResultSize {size}"
)


def trace_params():
    return [json.loads(c.request.body)["CmdletInput"]["Parameters"] for c in responses.calls]


def run_trace(http_clock=None):
    clock = http_clock or Clock()
    http = HttpClient(sleep=clock.sleep, clock=clock)
    return message_trace(trace_context(http), RateLimiter(clock=clock, sleep=clock.sleep))


class TestMessageTraceContinuation:
    """Get-MessageTraceV2 has no nextLink: a full answer carries a warning naming the next
    query, which continues at the last row's Received (seven decimals) and recipient."""

    @responses.activate
    def test_the_warning_is_followed_at_the_row_s_full_precision(self, monkeypatch):
        monkeypatch.setattr("auditor.collect.collectors.message_trace.PAGE_SIZE", 2)
        boundary = row("m2", "a@contoso.com", "b@gmail.com", "2026-11-19T09:00:00.0480000Z")
        first = [
            row("m1", "a@contoso.com", "x@gmail.com", "2026-11-19T10:00:00.1000000Z"),
            boundary,
        ]
        # Same second as the boundary, later recipient: lost if EndDate were rounded.
        twin = row("m3", "a@contoso.com", "c@gmail.com", "2026-11-19T09:00:00.0480000Z")
        warning = MORE.format(end="2026-11-19T09:00:00Z", to="b@gmail.com", size=2)
        responses.post(INVOKE, json={"value": first, "@adminapi.warnings": [warning]})
        responses.post(INVOKE, json={"value": [boundary, twin]})
        responses.post(INVOKE, json={"value": [twin]})
        data = run_trace()
        params = trace_params()
        assert params[1]["EndDate"] == "2026-11-19T09:00:00.0480000Z"
        assert params[1]["StartingRecipientAddress"] == "b@gmail.com"
        assert data["Rows"] == 3  # the repeated boundary row counted once
        assert data["Aggregates"][0]["MessageCount"] == 3

    @responses.activate
    def test_the_warning_continues_even_below_a_full_page(self):
        warning = MORE.format(end="2026-11-19T09:00:00Z", to="b@gmail.com", size=5000)
        page = [row("m1", "a@contoso.com", "b@gmail.com", "2026-11-19T09:00:00.5000000Z")]
        responses.post(INVOKE, json={"value": page, "@adminapi.warnings": [warning]})
        responses.post(INVOKE, json={"value": [*page, row("m2", "a@contoso.com", "z@x.org")]})
        assert run_trace()["Rows"] == 2
        assert len(responses.calls) == 2

    @responses.activate
    def test_a_warning_naming_another_second_is_the_service_s_word(self):
        warning = MORE.format(end="2026-11-19T08:59:00Z", to="q@gmail.com", size=5000)
        page = [row("m1", "a@contoso.com", "b@gmail.com", "2026-11-19T09:00:00.5000000Z")]
        responses.post(INVOKE, json={"value": page, "@adminapi.warnings": [warning]})
        responses.post(INVOKE, json={"value": [row("m2", "a@contoso.com", "q@gmail.com")]})
        run_trace()
        assert trace_params()[1]["EndDate"] == "2026-11-19T08:59:00Z"
        assert trace_params()[1]["StartingRecipientAddress"] == "q@gmail.com"

    @responses.activate
    def test_more_results_promised_but_none_given_is_an_error(self):
        warning = MORE.format(end="2026-11-19T09:00:00Z", to="b@gmail.com", size=5000)
        responses.post(INVOKE, json={"value": [], "@adminapi.warnings": [warning]})
        with pytest.raises(ApiError, match="said there were more results but returned none"):
            run_trace()

    @responses.activate
    def test_another_truncation_warning_is_an_error(self):
        warning = "WARNING: The output has been truncated."
        responses.post(
            INVOKE,
            json={
                "value": [row("m1", "a@contoso.com", "b@x.org")],
                "@adminapi.warnings": [warning],
            },
        )
        with pytest.raises(ApiError, match="incomplete result: WARNING: The output has been"):
            run_trace()

    def test_the_continuation_is_read_from_the_warning(self):
        warning = MORE.format(end="2026-11-19T09:00:00Z", to="b@gmail.com", size=5000)
        assert continuation((warning,)) == {
            "StartDate": "2026-11-13T06:00:00Z",
            "EndDate": "2026-11-19T09:00:00Z",
            "StartingRecipientAddress": "b@gmail.com",
        }
        assert continuation(("Some other warning",)) is None


class TestCollection:
    def test_dependencies_come_first(self):
        order = with_dependencies(["graph.userRegistrationDetails", "exchange.messageTrace"])
        assert order.index("graph.groupMembers") < order.index("graph.userRegistrationDetails")
        assert order.index("exchange.acceptedDomains") < order.index("exchange.messageTrace")
        assert "graph.organization" in order

    def test_garbage_data_is_named_by_path(self):
        problem = data_problem(
            "exchange.inboundConnectors", [{"Name": "A", "Enabled": True, "ConnectorType": "X"}]
        )
        assert problem.startswith("the API answered data of the wrong shape at $[0].ConnectorType")

    def test_forbidden_names_permission_and_licence(self):
        cause = api_cause("graph.userRegistrationDetails", ApiError(403, "HTTP 403 x"), False)
        assert cause == {
            "kind": "permission",
            "summary": "Microsoft Graph refused access: HTTP 403 x",
            "fix": "grant the app the Microsoft Graph application permission AuditLog.Read.All "
            "with admin consent (the tenant needs Entra ID P1)",
        }
        assert api_cause("graph.domains", ApiError(500, "HTTP 500"), False) == {
            "kind": "service",
            "summary": "HTTP 500",
        }

    def test_a_licence_refusal_is_a_licence_cause(self):
        refusal = ApiError(403, "HTTP 403 Tenant is not licensed for this feature")
        cause = api_cause("graph.userRegistrationDetails", refusal, False)
        assert cause["kind"] == "licence"
        assert cause["fix"].startswith("the tenant needs Entra ID P1")

    def test_exchange_refusals_tell_the_role_from_the_grant(self):
        # Without a directory role the gateway answers 403 (a body of NUL bytes); without the
        # application permission, 401 (docs/fake-tenant.md).
        no_role = api_cause("exchange.acceptedDomains", ApiError(403, "HTTP 403"), False)
        assert no_role["fix"] == (
            "assign the Entra role Global Reader to the app's service principal"
        )
        no_grant = api_cause("exchange.acceptedDomains", ApiError(401, "HTTP 401"), False)
        assert "Exchange.ManageAsApp" in no_grant["fix"]
        signed_in = api_cause("exchange.acceptedDomains", ApiError(403, "HTTP 403"), True)
        assert signed_in["fix"].startswith("sign in as an admin who holds")

    @responses.activate
    def test_one_failing_source_does_not_stop_the_others(self):
        class Tokens:
            def token(self, scope):
                return "tok"

        cloud = resolve("global", "https://login.test", "https://graph.test", "https://exo.test")
        responses.get(
            "https://graph.test/v1.0/organization",
            json={"value": [{"id": TENANT_ID, "displayName": "Contoso"}]},
        )
        responses.get(
            "https://graph.test/v1.0/domains",
            status=403,
            json={"error": {"code": "Authorization_RequestDenied", "message": "no"}},
        )
        # The gateway takes the tenant's GUID, not its domain: read from Graph, as the opaque
        # token here carries no `tid`.
        invoke = f"https://exo.test/adminapi/beta/{TENANT_ID}/InvokeCommand"
        responses.post(invoke, json={"value": [{"DomainName": "contoso.com", "Default": True}]})
        http = HttpClient(RetryPolicy(max_attempts=1))
        collector = Collector("contoso.com", cloud, Tokens(), http)
        document = collector.collect(["graph.domains", "exchange.acceptedDomains"])
        # Every entry, failed or not, was encoded as it came in, as the whole would be.
        assert set(collector.encoded) == set(document["sources"])
        assert snapshot.text(document, collector.encoded) == jsonio.dumps(document)
        sources = document["sources"]
        assert sources["graph.domains"]["status"] == "error"
        assert sources["graph.domains"]["error"].endswith(
            "grant the app the Microsoft Graph application permission Domain.Read.All with "
            "admin consent"
        )
        assert sources["graph.domains"]["cause"]["kind"] == "permission"
        assert sources["exchange.acceptedDomains"]["status"] == "ok"
        exchange_call = next(c for c in responses.calls if c.request.url == invoke)
        anchor = exchange_call.request.headers["X-AnchorMailbox"]
        assert anchor == f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{TENANT_ID}"
        assert document["tenant"] == {
            "id": TENANT_ID,
            "cloud": "global",
            "displayName": "Contoso",
            "defaultDomain": "contoso.com",
        }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-03-14T09:12:44.1234567Z", "2023-03-14T09:12:44Z"),
        ("/Date(1678785164000)/", "2023-03-14T09:12:44Z"),
        (None, None),
        ("not a date", "not a date"),
    ],
)
def test_exchange_times_are_normalised(value, expected):
    assert normalise_time(value) == expected


def test_an_unexpected_collector_failure_is_that_source_s_error(monkeypatch):
    from auditor.collect import catalogue as sources

    class Tokens:
        def token(self, scope):
            return "tok"

    def broken(ctx):
        raise KeyError("DomainName")

    catalogue = sources.CATALOGUE
    monkeypatch.setitem(
        catalogue,
        "exchange.remoteDomains",
        replace(catalogue["exchange.remoteDomains"], collect=broken),
    )
    monkeypatch.setitem(
        catalogue,
        "graph.organization",
        replace(catalogue["graph.organization"], collect=lambda ctx: [{"id": "t"}]),
    )
    cloud = resolve("global")
    document = Collector(TENANT_ID, cloud, Tokens(), HttpClient()).collect(
        ["exchange.remoteDomains"]
    )
    record = document["sources"]["exchange.remoteDomains"]
    assert record == {
        "status": "error",
        "collectedAt": record["collectedAt"],
        "error": "exchange.remoteDomains: collector failed: KeyError: 'DomainName'",
        "cause": {"kind": "collector", "summary": "collector failed: KeyError: 'DomainName'"},
    }
    assert document["sources"]["graph.organization"]["status"] == "ok"


class TestTraceRowsSeen:
    """Only the rows a later answer can repeat are remembered (issue 15: trace memory)."""

    def test_a_continuation_repeats_the_last_instant_and_is_counted_once(self):
        t = [parse_time(f"2026-11-20T10:00:0{i}Z") for i in range(4)]
        seen = Seen(edges=())
        page = [("a", t[3]), ("b", t[2]), ("c", t[1]), ("d", t[1])]
        assert [seen.first_time(k, w) for k, w in page] == [True] * 4
        seen.page_done(page, next_end=t[1])
        assert seen.previous == {"c", "d"}  # nothing newer is held
        assert [seen.first_time(k, w) for k, w in [("d", t[1]), ("e", t[1]), ("f", t[0])]] == [
            False,
            True,
            True,
        ]

    def test_a_row_at_the_instant_two_windows_share_is_counted_once(self):
        edge = parse_time("2026-11-10T00:00:00Z")
        seen = Seen(edges=[edge])
        assert seen.first_time("x", edge)
        seen.page_done([("x", edge)], next_end=edge)
        seen.page_done([], next_end=edge)  # another window's pages in between
        assert not seen.first_time("x", edge)
        assert seen.at_edges == {"x"}
