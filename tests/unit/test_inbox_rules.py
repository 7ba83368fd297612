"""OUT-003: the inbox rules of restricted users, and the collector that reads only theirs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import responses

from auditor.collect.collectors import CollectContext
from auditor.collect.collectors.exchange_sources import (
    MAX_RESTRICTED_MAILBOXES,
    restricted_inbox_rules,
)
from auditor.collect.exchange import ExchangeClient
from auditor.collect.http import ApiError, HttpClient, RetryPolicy
from auditor.judge import Status
from checks.outbound import rule_destinations
from tests.helpers import accepted, judge
from tests.helpers import statuses as statuses_of

INVOKE = "https://exchange.test/adminapi/beta/tenant-guid/InvokeCommand"
DOMAINS = [accepted("contoso.com")]


def rule(name, **fields):
    return {"Name": name, "Enabled": True, **fields}


def judged(entries):
    return judge(
        "OUT-003",
        {"exchange.restrictedInboxRules": entries, "exchange.acceptedDomains": DOMAINS},
    )


class TestRules:
    def test_no_restricted_user_passes(self):
        assert statuses_of(judged([])) == {"tenant:11111111-2222-3333-4444-555555555555": "pass"}

    @pytest.mark.parametrize(
        ("fields", "said"),
        [
            ({"ForwardTo": ['"X" [SMTP:x@evil.example]']}, "forwards to x@evil.example (outside"),
            ({"RedirectTo": ["[SMTP:boss@contoso.com]"]}, "redirects to boss@contoso.com (inside"),
            ({"ForwardAsAttachmentTo": ["y@evil.example"]}, "forwards as attachment to y@evil"),
            ({"DeleteMessage": True}, "deletes the messages"),
            ({"SoftDeleteMessage": True}, "deletes the messages"),
            (
                {"MoveToFolder": "Inbox\\RSS Feeds", "MarkAsRead": True},
                "moves messages to Inbox\\RSS Feeds and marks them read",
            ),
            ({"MoveToFolder": "Conversation History"}, "out of sight"),
        ],
    )
    def test_each_attacker_habit_fails(self, fields, said):
        outcome = judged([{"Mailbox": "p@contoso.com", "Rules": [rule(".", **fields)]}])
        (result,) = outcome.results
        assert result.status is Status.FAIL and result.resource == "inboxRule:p@contoso.com/."
        assert said in result.message

    def test_ordinary_rules_pass(self):
        rules = [
            rule("Newsletters", MoveToFolder="Newsletters", MarkAsRead=True),
            rule("Flag boss", ForwardTo=[]),
        ]
        outcome = judged([{"Mailbox": "p@contoso.com", "Rules": rules}])
        (result,) = outcome.results
        assert result.status is Status.PASS and "2 inbox rules" in result.message

    def test_a_disabled_rule_still_counts_and_says_so(self):
        outcome = judged(
            [{"Mailbox": "p@contoso.com", "Rules": [rule("x", Enabled=False, DeleteMessage=True)]}]
        )
        assert "(disabled)" in outcome.results[0].message

    def test_a_mailbox_that_could_not_be_read_is_an_error(self):
        outcome = judged([{"Mailbox": "gone@contoso.com", "Error": "couldn't be found"}])
        assert outcome.status is Status.ERROR

    def test_destinations_are_read_from_exchanges_recipient_strings(self):
        assert rule_destinations(['"Peg" [SMTP:Peg@X.example]', "plain@y.example"]) == [
            "peg@x.example",
            "plain@y.example",
        ]


def context(blocked):
    http = HttpClient(RetryPolicy(max_attempts=1))
    exchange = ExchangeClient(http, lambda: "tok", "https://exchange.test", "tenant-guid")
    return CollectContext(
        graph=None,
        exchange=exchange,
        now=datetime(2026, 11, 20, tzinfo=UTC),
        dependencies={"exchange.blockedSenders": [{"SenderAddress": b} for b in blocked]},
    )


class TestCollector:
    @responses.activate
    def test_only_the_restricted_users_mailboxes_are_read(self):
        responses.post(
            INVOKE,
            json={
                "value": [
                    {
                        "Name": ".",
                        "ForwardTo": '"X" [SMTP:x@evil.example]',  # one value: a bare string
                        "Description": "If the message includes 'invoice'",
                    }
                ]
            },
        )
        rules = restricted_inbox_rules(context(["Peggy@Contoso.com"]))
        assert rules == [
            {
                "Mailbox": "peggy@contoso.com",
                "Rules": [{"Name": ".", "ForwardTo": ['"X" [SMTP:x@evil.example]']}],
            }
        ]
        sent = json.loads(responses.calls[0].request.body)["CmdletInput"]
        assert sent == {
            "CmdletName": "Get-InboxRule",
            "Parameters": {"Mailbox": "peggy@contoso.com"},
        }

    @responses.activate
    def test_a_mailbox_that_is_not_found_keeps_its_error_and_the_others_are_read(self):
        not_found = {
            "error": {
                "code": "BadRequest",
                "message": "Invalid Operation",
                "details": [{"message": "|ManagementObjectNotFoundException|couldn't be found"}],
            }
        }
        responses.post(INVOKE, status=400, json=not_found)
        responses.post(INVOKE, json={"value": []})
        rules = restricted_inbox_rules(context(["a@contoso.com", "b@contoso.com"]))
        assert "couldn't be found" in rules[0]["Error"]
        assert rules[1] == {"Mailbox": "b@contoso.com", "Rules": []}

    @responses.activate
    def test_a_refusal_of_the_app_is_the_sources_error(self):
        responses.post(INVOKE, status=403, body=b"\x00" * 4)
        with pytest.raises(ApiError):
            restricted_inbox_rules(context(["a@contoso.com"]))

    @responses.activate
    def test_the_number_of_mailboxes_read_is_bounded(self):
        responses.post(INVOKE, json={"value": []})
        ctx = context([f"u{i}@contoso.com" for i in range(MAX_RESTRICTED_MAILBOXES + 5)])
        assert len(restricted_inbox_rules(ctx)) == MAX_RESTRICTED_MAILBOXES
        assert len(responses.calls) == MAX_RESTRICTED_MAILBOXES
        assert "the rules of the first 50 were read" in ctx.notes[0]
