"""Sign-in routes around MFA: SIGN-001 SMTP AUTH, SIGN-002 legacy authentication, SIGN-003
shared mailboxes; each rule that passes and fails, and the collectors behind them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import responses

from auditor.collect.collectors import CollectContext
from auditor.collect.collectors.exchange_sources import (
    shared_mailboxes,
    smtp_auth_mailboxes,
    transport_config,
)
from auditor.collect.exchange import ExchangeClient
from auditor.collect.http import ApiError, HttpClient, RetryPolicy
from auditor.judge import Status
from auditor.judge.engine import audit
from auditor.judge.registry import discover
from tests.helpers import judge, make_baseline, make_snapshot
from tests.helpers import statuses as statuses_of

TENANT = "tenant:11111111-2222-3333-4444-555555555555"
INVOKE = "https://exchange.test/adminapi/beta/tenant-guid/InvokeCommand"


class TestSmtpAuth:
    def run(self, disabled, mailboxes=()):
        return judge(
            "SIGN-001",
            {
                "exchange.transportConfig": {"SmtpClientAuthenticationDisabled": disabled},
                "exchange.smtpAuthMailboxes": [
                    {"PrimarySmtpAddress": m, "SmtpClientAuthenticationDisabled": False}
                    for m in mailboxes
                ],
            },
        )

    def test_off_everywhere_passes(self):
        assert self.run(True).status is Status.PASS

    def test_on_for_the_organisation_fails(self):
        outcome = self.run(False)
        assert statuses_of(outcome) == {TENANT: "fail"}

    def test_a_mailbox_that_turns_it_on_fails_whatever_the_organisation_says(self):
        outcome = self.run(True, ["Scanner@Contoso.com"])
        assert statuses_of(outcome) == {TENANT: "pass", "mailbox:scanner@contoso.com": "fail"}

    def test_a_waiver_in_the_baseline_covers_one_mailbox(self):
        waiver = {
            "check": "SIGN-001",
            "resource": "mailbox:scanner@contoso.com",
            "reason": "CHG-12: moving the scanner to OAuth",
            "expires": "2099-01-01",
        }
        snapshot = make_snapshot(
            {
                "exchange.transportConfig": {"SmtpClientAuthenticationDisabled": True},
                "exchange.smtpAuthMailboxes": [
                    {
                        "PrimarySmtpAddress": "scanner@contoso.com",
                        "SmtpClientAuthenticationDisabled": False,
                    }
                ],
            }
        )
        result = audit(
            snapshot,
            make_baseline(waivers=[waiver]),
            discover(),
            datetime(2026, 11, 25, tzinfo=UTC),
            selected=["SIGN-001"],
        )
        assert result.outcomes[0].status is Status.WAIVED


def policy(
    name="Block legacy",
    state="enabled",
    users=None,
    clients=("exchangeActiveSync", "other"),
    grant=("block",),
    **conditions,
):
    return {
        "id": name,
        "displayName": name,
        "state": state,
        "conditions": {
            "users": {"includeUsers": ["All"], **(users or {})},
            "applications": {"includeApplications": ["All"], "excludeApplications": []},
            "clientAppTypes": list(clients),
            **conditions,
        },
        "grantControls": {"operator": "OR", "builtInControls": list(grant)},
    }


USERS = [
    {"id": "u-bg", "userPrincipalName": "bg@contoso.com"},
    {"id": "u-scan", "userPrincipalName": "scanner@contoso.com"},
]


def legacy(policies, defaults=False, **baseline):
    return judge(
        "SIGN-002",
        {
            "graph.conditionalAccessPolicies": list(policies),
            "graph.securityDefaults": {"id": "x", "isEnabled": defaults},
            "graph.users": USERS,
        },
        **baseline,
    )


BREAK_GLASS = {"breakGlassAccounts": [{"userPrincipalName": "bg@contoso.com", "reason": "safe"}]}


class TestLegacyAuthentication:
    def test_security_defaults_block_it(self):
        assert legacy([], defaults=True).status is Status.PASS

    def test_a_policy_for_all_users_blocking_both_client_types_passes(self):
        assert legacy([policy()]).status is Status.PASS

    def test_excluding_only_the_break_glass_account_passes(self):
        outcome = legacy([policy(users={"excludeUsers": ["u-bg"]})], **BREAK_GLASS)
        assert outcome.status is Status.PASS

    def test_excluding_anyone_else_fails_naming_them(self):
        outcome = legacy([policy(users={"excludeUsers": ["u-scan", "u-bg"]})], **BREAK_GLASS)
        (result,) = outcome.results
        assert result.status is Status.FAIL
        assert "excludes scanner@contoso.com," in result.message
        assert "bg@contoso.com" not in result.message

    @pytest.mark.parametrize(
        ("bad", "why"),
        [
            (policy(state="enabledForReportingButNotEnforced"), "its state is enabledFor"),
            (policy(users={"includeUsers": ["u-scan"]}), "does not include all users"),
            (policy(clients=("exchangeActiveSync",)), "client app types other"),
            (
                policy(locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}),
                "only from some locations",
            ),
        ],
    )
    def test_a_policy_that_does_not_block_for_everyone_fails_saying_why(self, bad, why):
        (result,) = legacy([bad]).results
        assert result.status is Status.FAIL
        assert why in result.message

    def test_no_policy_at_all_fails(self):
        (result,) = legacy([policy(grant=("mfa",))]).results
        assert result.status is Status.FAIL
        assert result.message.startswith("no enabled Conditional Access policy blocks")


class TestSharedMailboxSignIn:
    def run(self, enabled):
        return judge(
            "SIGN-003",
            {
                "exchange.sharedMailboxes": [
                    {"PrimarySmtpAddress": "info@contoso.com", "ExternalDirectoryObjectId": "u1"}
                ],
                "graph.users": [
                    {"id": "u1", "userPrincipalName": "info@contoso.com", "accountEnabled": enabled}
                ],
            },
        )

    def test_a_blocked_account_passes(self):
        assert self.run(False).status is Status.PASS

    def test_an_account_that_can_sign_in_fails(self):
        (result,) = self.run(True).results
        assert result.status is Status.FAIL and "can sign in" in result.message

    def test_unknown_sign_in_state_is_an_error(self):
        assert self.run(None).status is Status.ERROR

    def test_a_mailbox_without_its_account_is_an_error(self):
        outcome = judge(
            "SIGN-003",
            {
                "exchange.sharedMailboxes": [
                    {"PrimarySmtpAddress": "x@contoso.com", "ExternalDirectoryObjectId": "gone"}
                ],
                "graph.users": [],
            },
        )
        assert outcome.status is Status.ERROR


def context():
    http = HttpClient(RetryPolicy(max_attempts=1))
    exchange = ExchangeClient(http, lambda: "tok", "https://exchange.test", "tenant-guid")
    return CollectContext(graph=None, exchange=exchange, now=datetime(2026, 11, 20, tzinfo=UTC))


def cmdlet_of(call) -> dict:
    return json.loads(call.request.body)["CmdletInput"]


class TestCollectors:
    @responses.activate
    def test_smtp_auth_is_read_with_the_servers_filter(self):
        responses.post(
            INVOKE,
            json={
                "value": [
                    {"PrimarySmtpAddress": "a@c.com", "SmtpClientAuthenticationDisabled": False}
                ]
            },
        )
        assert smtp_auth_mailboxes(context()) == [
            {"PrimarySmtpAddress": "a@c.com", "SmtpClientAuthenticationDisabled": False}
        ]
        sent = cmdlet_of(responses.calls[0])
        assert sent["Parameters"]["Filter"] == "SmtpClientAuthenticationDisabled -eq $false"

    @responses.activate
    def test_a_refused_filter_reads_every_mailbox_and_judges_here(self):
        refused = {
            "error": {
                "code": "BadRequest",
                "message": "Invalid Operation",
                "details": [
                    {"message": "|InvalidFilterException|the property can't be used in filters"}
                ],
            }
        }
        responses.post(INVOKE, status=400, json=refused)
        responses.post(
            INVOKE,
            json={
                "value": [
                    {"PrimarySmtpAddress": "on@c.com", "SmtpClientAuthenticationDisabled": False},
                    {"PrimarySmtpAddress": "org@c.com", "SmtpClientAuthenticationDisabled": None},
                    {"PrimarySmtpAddress": "off@c.com", "SmtpClientAuthenticationDisabled": True},
                ]
            },
        )
        ctx = context()
        assert [m["PrimarySmtpAddress"] for m in smtp_auth_mailboxes(ctx)] == ["on@c.com"]
        assert "Filter" not in cmdlet_of(responses.calls[1])["Parameters"]
        assert ctx.notes == ["the gateway refused the SMTP AUTH filter: every mailbox was read"]

    @responses.activate
    def test_another_failure_is_the_sources_error(self):
        responses.post(INVOKE, status=403, body=b"\x00" * 4)
        with pytest.raises(ApiError):
            smtp_auth_mailboxes(context())

    @responses.activate
    def test_transport_config_must_be_one_record(self):
        responses.post(INVOKE, json={"value": []})
        with pytest.raises(ApiError, match="not one"):
            transport_config(context())

    @responses.activate
    def test_shared_mailboxes_use_the_cmdlets_own_parameter(self):
        responses.post(
            INVOKE,
            json={
                "value": [
                    {
                        "PrimarySmtpAddress": "info@c.com",
                        "RecipientTypeDetails": "SharedMailbox",
                        "ExternalDirectoryObjectId": "u1",
                        "DisplayName": "dropped",
                    }
                ]
            },
        )
        assert shared_mailboxes(context()) == [
            {
                "PrimarySmtpAddress": "info@c.com",
                "RecipientTypeDetails": "SharedMailbox",
                "ExternalDirectoryObjectId": "u1",
            }
        ]
        assert cmdlet_of(responses.calls[0])["Parameters"]["RecipientTypeDetails"] == (
            "SharedMailbox"
        )
