"""Sending limits: recipients counted as Exchange Online counts them, and LIM-001..003 on each
rule that passes and fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import responses

from auditor.collect.collectors import CollectContext
from auditor.collect.collectors.exchange_sources import limits_enforcement
from auditor.collect.collectors.message_trace import DAY, HOUR, TOP_SENDERS, peak, recipients
from auditor.collect.exchange import ExchangeClient
from auditor.collect.http import ApiError, HttpClient, RetryPolicy
from auditor.judge import Severity, Status
from auditor.judge.context import CheckContext
from auditor.judge.registry import discover
from checks.limits import licensed_limit, primary_address
from tests.helpers import accepted, by_resource, judge, make_baseline, make_snapshot
from tests.helpers import statuses as statuses_of

T0 = datetime(2026, 11, 19, 0, 0, tzinfo=UTC)
ACCEPTED = {
    "contoso.com": accepted("contoso.com"),
    "fabrikam.com": accepted("fabrikam.com", "InternalRelay", match_sub=True),
    "contoso.onmicrosoft.com": accepted("contoso.onmicrosoft.com"),
}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def row(sender, recipient, hours=0.0, status="Delivered", trace_id=None):
    return {
        "MessageTraceId": trace_id or f"{sender}/{recipient}/{hours}",
        "SenderAddress": sender,
        "RecipientAddress": recipient,
        "Received": at(hours).strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        "Status": status,
    }


class TestPeak:
    def test_a_rolling_window_not_calendar_days(self):
        # 3 before midnight and 3 after: no calendar day has more than 3, a rolling day has 6.
        times = [at(h) for h in (21, 22, 23, 25, 26, 27)]
        assert peak(times, DAY) == {"Recipients": 6, "PeakStart": "2026-11-19T21:00:00Z"}

    def test_the_window_excludes_its_end(self):
        assert peak([at(0), at(24)], DAY)["Recipients"] == 1
        assert peak([at(0), at(23.99)], DAY)["Recipients"] == 2

    def test_the_earliest_busiest_window_is_named(self):
        times = [at(0), at(0.5), at(10), at(10.5)]
        assert peak(times, HOUR) == {"Recipients": 2, "PeakStart": "2026-11-19T00:00:00Z"}

    def test_nothing_is_zero_with_no_start(self):
        assert peak([], DAY) == {"Recipients": 0, "PeakStart": None}


class TestRecipientCounting:
    def counts(self, rows):
        return recipients(rows, ACCEPTED)

    def test_external_is_what_no_accepted_domain_covers(self):
        got = self.counts(
            [
                row("a@contoso.com", "x@gmail.example"),
                row("a@contoso.com", "b@contoso.com"),
                row("a@contoso.com", "c@eu.fabrikam.com"),  # MatchSubDomains: internal
                row("a@contoso.com", "d@eu.contoso.com"),  # no MatchSubDomains: external
            ]
        )["ExternalRecipients"]
        assert got["Counted"] == 2

    def test_each_message_and_recipient_counts_and_the_group_row_does_not(self):
        rows = [row("a@contoso.com", f"m{i}@partner.example", trace_id="one") for i in range(5)]
        rows.append(row("a@contoso.com", "all@contoso.com", status="Expanded", trace_id="one"))
        got = self.counts(rows)["ExternalRecipients"]
        assert got["Counted"] == 5
        assert got["Excluded"]["ExpandedGroup"] == 1

    @pytest.mark.parametrize(
        ("sender", "reason"),
        [
            ("", "NullSender"),
            ("<>", "NullSender"),
            ("postmaster@contoso.com", "SystemSender"),
            ("MAILER-DAEMON@contoso.com", "SystemSender"),
            ("MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.com", "SystemSender"),
        ],
    )
    def test_bounces_and_system_mail_do_not_count(self, sender, reason):
        got = self.counts([row(sender, "x@gmail.example")])["ExternalRecipients"]
        assert got["Counted"] == 0
        assert got["Excluded"][reason] == 1

    def test_onmicrosoft_senders_are_counted_apart(self):
        rows = [row("scan@contoso.onmicrosoft.com", f"r{i}@x.example", hours=i) for i in range(3)]
        rows.append(row("a@contoso.com", "r@x.example"))
        got = self.counts(rows)["ExternalRecipients"]
        assert got["Counted"] == 4
        assert got["OnMicrosoft"]["Counted"] == 3
        assert got["OnMicrosoft"]["Senders"] == [
            {"Sender": "scan@contoso.onmicrosoft.com", "ExternalRecipients": 3}
        ]

    def test_senders_are_the_tenants_own_with_every_measure(self):
        rows = [row("Peggy@Contoso.com", f"r{i}@x.example", hours=i / 10) for i in range(30)]
        rows += [row("peggy@contoso.com", f"s{i}@contoso.com", hours=5) for i in range(4)]
        rows.append(row("stranger@spam.example", "r@x.example"))  # relayed, not ours
        (peggy,) = self.counts(rows)["Senders"]
        assert peggy["Sender"] == "peggy@contoso.com"
        assert (peggy["Recipients"], peggy["ExternalRecipients"]) == (34, 30)
        assert peggy["Peak24h"]["Recipients"] == 34
        assert peggy["PeakHourExternal"]["Recipients"] == 10
        assert peggy["PeakHourInternal"]["Recipients"] == 4

    def test_only_the_busiest_senders_are_kept(self):
        rows = [
            row(f"user{n}@contoso.com", f"r{i}@x.example", hours=i / 10)
            for n in range(60)
            for i in range(n % 7 + 1)
        ]
        senders = self.counts(rows)["Senders"]
        assert TOP_SENDERS <= len(senders) < 60
        kept = {s["Sender"] for s in senders}
        assert "user6@contoso.com" in kept  # 7 recipients: among the busiest
        assert "user0@contoso.com" not in kept  # 1 recipient

    def test_no_recipient_address_is_kept(self):
        got = self.counts([row("a@contoso.com", "secret.person@x.example")])
        assert "secret.person" not in repr(got)


def trace(*, senders=(), moera=0, moera_peak=0, external_peak=0, **extra):
    return {
        "StartDate": "2026-11-13T06:00:00Z",
        "EndDate": "2026-11-20T06:00:00Z",
        "Aggregates": [],
        "ExternalRecipients": {
            "Counted": external_peak,
            "Peak24h": {"Recipients": external_peak, "PeakStart": "2026-11-19T00:00:00Z"},
            "OnMicrosoft": {
                "Counted": moera,
                "Peak24h": {"Recipients": moera_peak, "PeakStart": "2026-11-19T00:00:00Z"},
                "Senders": [{"Sender": "scan@contoso.onmicrosoft.com", "ExternalRecipients": moera}]
                if moera
                else [],
            },
            "Excluded": {},
        },
        "Senders": list(senders),
        **extra,
    }


def old_trace():
    return {
        "StartDate": "2026-11-13T06:00:00Z",
        "EndDate": "2026-11-20T06:00:00Z",
        "Aggregates": [],
    }


def user(primary, proxies=(), mail=None):
    return {
        "id": primary,
        "userPrincipalName": primary,
        "mail": mail,
        "proxyAddresses": [f"SMTP:{primary}", *proxies] if primary else list(proxies),
    }


class TestOnMicrosoftLimit:
    def test_no_onmicrosoft_mail_and_no_such_mailbox_passes(self):
        outcome = judge(
            "LIM-001", {"exchange.messageTrace": trace(), "graph.users": [user("a@contoso.com")]}
        )
        assert outcome.status is Status.PASS

    def test_any_external_mail_from_onmicrosoft_fails(self):
        outcome = judge(
            "LIM-001",
            {"exchange.messageTrace": trace(moera=14, moera_peak=3), "graph.users": []},
        )
        (result,) = outcome.results
        assert result.status is Status.FAIL
        assert "3 of 100 (3 %)" in result.message
        assert "scan@contoso.onmicrosoft.com (14)" in result.message
        assert result.severity is None  # the check's own: high

    def test_at_the_limit_it_is_critical(self):
        outcome = judge(
            "LIM-001",
            {"exchange.messageTrace": trace(moera=240, moera_peak=100), "graph.users": []},
        )
        (result,) = outcome.results
        assert result.severity is Severity.CRITICAL
        assert "being refused (5.7.236)" in result.message

    def test_mailboxes_whose_primary_address_is_onmicrosoft_fail(self):
        users = [
            user("scanner@contoso.onmicrosoft.com"),
            user("a@contoso.com", ["smtp:a@contoso.onmicrosoft.com"]),  # only an alias
            user("DiscoverySearchMailbox{D919BA05}@contoso.onmicrosoft.com"),
            user("", mail=None),  # no mailbox
            {"id": "x", "userPrincipalName": "b@contoso.com", "mail": "b@contoso.onmicrosoft.com"},
        ]
        outcome = judge("LIM-001", {"exchange.messageTrace": trace(), "graph.users": users})
        assert statuses_of(outcome) == {
            "mailbox:b@contoso.onmicrosoft.com": "fail",
            "mailbox:scanner@contoso.onmicrosoft.com": "fail",
            "tenant:11111111-2222-3333-4444-555555555555": "pass",
        }

    def test_a_trace_without_recipient_counts_is_an_error_not_a_pass(self):
        outcome = judge("LIM-001", {"exchange.messageTrace": old_trace(), "graph.users": []})
        assert outcome.status is Status.ERROR
        assert "collect it again" in outcome.results[0].message

    def test_primary_address_prefers_the_upper_case_proxy(self):
        assert primary_address(user("A@Contoso.com", ["smtp:a@contoso.onmicrosoft.com"])) == (
            "a@contoso.com"
        )
        assert primary_address({"mail": "M@x.com"}) == "m@x.com"
        assert primary_address({}) is None


def subscription(sku, total, status="Enabled", trial=False, plan="EXCHANGE_S_ENTERPRISE"):
    return {
        "id": sku,
        "skuPartNumber": sku,
        "status": status,
        "isTrial": trial,
        "totalLicenses": total,
        "serviceStatus": [{"servicePlanName": plan}],
    }


def live(observed, threshold=16113, offered=True, **extra):
    limits = (
        []
        if observed is None
        else [{"ObservedValue": observed, "Threshold": threshold, "Verdict": "Allowed", **extra}]
    )
    return {"Offered": offered, "Limits": limits}


def terrl(limits, subscriptions=None, **trace_args):
    return judge(
        "LIM-002",
        {
            "exchange.limitsEnforcementStatus": limits,
            "exchange.messageTrace": trace(**trace_args),
            "graph.subscriptions": subscriptions or [subscription("SPE_E3", 40)],
        },
    )


class TestTenantExternalRecipientLimit:
    def test_the_limit_from_licences_follows_microsofts_formula(self):
        outcome = terrl(live(None, offered=False))
        (result,) = outcome.results
        assert result.evidence["limitFromLicences"] == 16113  # 500 x 40^0.7 + 9500

    def test_only_enabled_paid_mailbox_subscriptions_count(self):
        snapshot = make_snapshot(
            {
                "graph.subscriptions": [
                    subscription("SPE_E3", 40),
                    subscription("EXCHANGESTANDARD", 10, status="Warning"),
                    subscription("E5_TRIAL", 25, trial=True),
                    subscription("POWER_BI", 100, plan="BI_AZURE_P2"),
                ]
            }
        )
        spec = discover()["LIM-002"].spec
        ctx = CheckContext(spec, snapshot, make_baseline())
        limit, basis = licensed_limit(ctx)
        assert (limit, basis["paidMailboxLicences"]) == (16113, 40)

    def test_a_trial_only_tenant_has_5000(self):
        outcome = terrl(
            live(None, offered=False),
            subscriptions=[subscription("E5", 25, trial=True)],
            external_peak=4200,
        )
        (result,) = outcome.results
        assert result.evidence["limitFromLicences"] == 5000
        assert result.status is Status.FAIL and "4,200 of 5,000 (84 %)" in result.message

    @pytest.mark.parametrize(
        ("observed", "status", "severity"),
        [
            (12000, Status.PASS, None),
            (13374, Status.FAIL, Severity.MEDIUM),  # past 80 %: a warning
            (16113, Status.FAIL, Severity.CRITICAL),  # reached: mail bounces
        ],
    )
    def test_the_live_counter_is_judged_against_its_threshold(self, observed, status, severity):
        (result,) = terrl(live(observed)).results
        assert (result.status, result.severity) == (status, severity)
        assert "the live counter (Get-LimitsEnforcementStatus)" in result.message
        assert result.resource == "limit:TenantExternalRecipients"

    def test_without_the_live_counter_the_trace_is_an_estimate_said_so(self):
        (result,) = terrl(live(None, offered=False), external_peak=15000).results
        assert result.status is Status.FAIL
        assert "an estimate from message trace (the gateway does not offer" in result.message

    def test_a_counter_without_numbers_falls_back_to_the_estimate(self):
        limits = {"Offered": True, "Limits": [{"Verdict": "Allowed", "Threshold": None}]}
        (result,) = terrl(limits, external_peak=100).results
        assert result.status is Status.PASS
        assert "answered without a counter and threshold" in result.message

    def test_no_counter_and_an_old_trace_is_an_error(self):
        outcome = judge(
            "LIM-002",
            {
                "exchange.limitsEnforcementStatus": live(None, offered=False),
                "exchange.messageTrace": old_trace(),
                "graph.subscriptions": [],
            },
        )
        assert outcome.status is Status.ERROR


def sender(address, day=0, hour_external=0, hour_internal=0, day_external=0):
    def p(n):
        return {"Recipients": n, "PeakStart": "2026-11-19T12:00:00Z" if n else None}

    return {
        "Sender": address,
        "Recipients": day,
        "ExternalRecipients": day_external,
        "Peak24h": p(day),
        "Peak24hExternal": p(day_external),
        "PeakHourExternal": p(hour_external),
        "PeakHourInternal": p(hour_internal),
    }


def policy(name="Default", default=True, external=0, internal=0, day=0):
    return {
        "Name": name,
        "IsDefault": default,
        "RecipientLimitExternalPerHour": external,
        "RecipientLimitInternalPerHour": internal,
        "RecipientLimitPerDay": day,
    }


def per_mailbox(senders, policies=None):
    return judge(
        "LIM-003",
        {
            "exchange.messageTrace": trace(senders=senders),
            "exchange.outboundSpamPolicies": policies or [policy()],
        },
    )


class TestMailboxRecipientLimit:
    def test_the_mailbox_limit_warns_at_80_percent_and_is_critical_at_100(self):
        outcome = per_mailbox(
            [
                sender("calm@contoso.com", day=120),
                sender("busy@contoso.com", day=8400),
                sender("blocked@contoso.com", day=10000),
            ]
        )
        results = by_resource(outcome)
        assert results["sender:calm@contoso.com"].status is Status.PASS
        busy = results["sender:busy@contoso.com"]
        assert busy.status is Status.FAIL and busy.severity is None
        assert "approaching 8,400 of 10,000 (84 %)" in busy.message
        blocked = results["sender:blocked@contoso.com"]
        assert blocked.severity is Severity.CRITICAL and blocked.message.startswith("reached")

    def test_the_default_policys_own_limits_apply_when_set(self):
        strict = policy(external=400, internal=800, day=1000)
        outcome = per_mailbox(
            [
                sender("a@contoso.com", hour_external=350),  # 87 % of 400 an hour
                sender("b@contoso.com", hour_internal=100, day=500),
                sender("c@contoso.com", day=1000),  # the policy's day limit reached
            ],
            [strict, policy("Executives", default=False, external=10)],
        )
        assert statuses_of(outcome) == {
            "sender:a@contoso.com": "fail",
            "sender:b@contoso.com": "pass",
            "sender:c@contoso.com": "fail",
        }
        assert "external recipients in an hour (policy Default)" in (
            by_resource(outcome)["sender:a@contoso.com"].message
        )

    def test_a_zero_limit_is_the_services_own_not_zero(self):
        outcome = per_mailbox([sender("a@contoso.com", hour_external=900, day=900)])
        assert outcome.status is Status.PASS

    def test_an_old_trace_is_an_error(self):
        outcome = judge(
            "LIM-003",
            {"exchange.messageTrace": old_trace(), "exchange.outboundSpamPolicies": [policy()]},
        )
        assert outcome.status is Status.ERROR


class TestLimitsCounterCollector:
    """Get-LimitsEnforcementStatus through the gateway (responses-mocked)."""

    @staticmethod
    def context():
        http = HttpClient(RetryPolicy(max_attempts=1))
        exchange = ExchangeClient(http, lambda: "tok", "https://exchange.test", "tenant-guid")
        return CollectContext(graph=None, exchange=exchange, now=T0)

    def test_numbers_are_read_whether_or_not_they_are_strings(self):
        with responses.RequestsMock() as mock:
            mock.post(
                "https://exchange.test/adminapi/beta/tenant-guid/InvokeCommand",
                json={
                    "value": [
                        {
                            "ObservedValue": "13374",
                            "Threshold": 16113,
                            "Verdict": "Allowed",
                            "EnforcementEnabled": True,
                            "Extra": "dropped",
                        }
                    ]
                },
            )
            data = limits_enforcement(self.context())
        assert data == {
            "Offered": True,
            "Limits": [
                {
                    "ObservedValue": 13374,
                    "Threshold": 16113,
                    "Verdict": "Allowed",
                    "EnforcementEnabled": True,
                }
            ],
        }

    def test_a_gateway_that_does_not_know_the_cmdlet_offers_nothing(self):
        not_found = {
            "error": {
                "code": "BadRequest",
                "message": "Invalid Operation",
                "details": [
                    {
                        "message": "|System.Management.Automation.CommandNotFoundException|The "
                        "term 'Get-LimitsEnforcementStatus' is not recognized as a name of a "
                        "cmdlet."
                    }
                ],
            }
        }
        ctx = self.context()
        with responses.RequestsMock() as mock:
            mock.post(
                "https://exchange.test/adminapi/beta/tenant-guid/InvokeCommand",
                status=400,
                json=not_found,
            )
            assert limits_enforcement(ctx) == {"Offered": False, "Limits": []}
        assert ctx.notes == ["Get-LimitsEnforcementStatus is not offered by this gateway"]

    def test_any_other_failure_is_the_sources_error(self):
        with responses.RequestsMock() as mock:
            mock.post(
                "https://exchange.test/adminapi/beta/tenant-guid/InvokeCommand",
                status=403,
                body=b"\x00" * 12,
            )
            with pytest.raises(ApiError):
                limits_enforcement(self.context())
