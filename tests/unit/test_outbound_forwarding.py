"""OUT-001, OUT-002, FWD-001, FWD-002, CONN-003, SUB-001, ADM-002: each rule passing and failing."""

import pytest

from auditor.judge.model import Severity, Status
from tests.helpers import TENANT, accepted, by_resource, judge, mailbox, statuses


def good_policy(**changes):
    policy = {
        "Name": "Default",
        "IsDefault": True,
        "RecipientLimitExternalPerHour": 400,
        "RecipientLimitInternalPerHour": 800,
        "RecipientLimitPerDay": 1000,
        "ActionWhenThresholdReached": "BlockUser",
        "AutoForwardingMode": "Off",
        "NotifyOutboundSpamRecipients": ["soc@example.com"],
    }
    return policy | changes


LIMITS = {
    "outboundRecipientLimitExternalPerHour": 500,
    "outboundRecipientLimitInternalPerHour": 1000,
    "outboundRecipientLimitPerDay": 1000,
}


def out001(*policies, limits=LIMITS):
    return judge("OUT-001", {"exchange.outboundSpamPolicies": list(policies)}, thresholds=limits)


class TestOutboundSpamPolicy:
    def test_strict_policy_passes(self):
        assert statuses(out001(good_policy())) == {"policy:Default": "pass"}

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"NotifyOutboundSpamRecipients": []}, "nobody is notified"),
            ({"ActionWhenThresholdReached": "Alert"}, "ActionWhenThresholdReached is Alert"),
            ({"RecipientLimitExternalPerHour": 0}, "0 (the service default), looser than 500"),
            ({"RecipientLimitPerDay": 5000}, "RecipientLimitPerDay is 5000, looser than 1000"),
            ({"AutoForwardingMode": "Automatic"}, "AutoForwardingMode is Automatic"),
            ({"AutoForwardingMode": "On"}, "external automatic forwarding is allowed"),
        ],
    )
    def test_each_weakness_fails(self, change, message):
        result = out001(good_policy(**change)).results[0]
        assert result.status is Status.FAIL
        assert message in result.message

    def test_limits_are_not_judged_without_a_baseline_value(self):
        outcome = out001(good_policy(RecipientLimitPerDay=0), limits={})
        assert outcome.results[0].status is Status.PASS

    def test_block_for_today_is_a_blocking_action(self):
        outcome = out001(good_policy(ActionWhenThresholdReached="BlockUserForToday"))
        assert outcome.results[0].status is Status.PASS


class TestRestrictedSenders:
    def test_no_restricted_user_passes(self):
        outcome = judge("OUT-002", {"exchange.blockedSenders": []})
        assert statuses(outcome) == {f"tenant:{TENANT}": "pass"}

    def test_each_restricted_user_fails_with_recovery_advice(self):
        entry = {
            "SenderAddress": "Bob@Example.com",
            "Reason": "OutboundSpamLast24Hours",
            "CreatedDatetime": "2026-11-19T22:00:00Z",
        }
        result = judge("OUT-002", {"exchange.blockedSenders": [entry]}).results[0]
        assert result.resource == "user:bob@example.com"
        assert result.status is Status.FAIL
        assert "recover it before you unblock it" in result.message


def fwd001(remote=(), mailboxes=(), **baseline):
    return judge(
        "FWD-001",
        {
            "exchange.remoteDomains": list(remote),
            "exchange.forwardingMailboxes": list(mailboxes),
            "exchange.acceptedDomains": [accepted("example.com")],
        },
        **baseline,
    )


def remote(name, domain, forward):
    return {"Name": name, "DomainName": domain, "AutoForwardEnabled": forward}


class TestExternalForwarding:
    def test_default_remote_domain_allowing_forwarding_fails(self):
        outcome = fwd001([remote("Default", "*", True)])
        assert "to any external domain" in outcome.results[0].message
        assert outcome.results[0].status is Status.FAIL

    def test_remote_domain_with_forwarding_off_passes(self):
        assert statuses(fwd001([remote("Default", "*", False)])) == {"remoteDomain:Default": "pass"}

    def test_named_remote_domain_fails_unless_the_baseline_allows_it(self):
        partner = remote("Partner", "partner.example", True)
        assert fwd001([partner]).results[0].status is Status.FAIL
        allowed = fwd001([partner], forwarding={"allowedDomains": ["partner.example"]})
        assert allowed.results[0].status is Status.PASS

    def test_mailbox_forwarding_outside_fails(self):
        box = mailbox("a@example.com") | {"ForwardingSmtpAddress": "smtp:me@home.example"}
        result = fwd001(mailboxes=[box]).results[0]
        assert result.resource == "mailbox:a@example.com"
        assert result.status is Status.FAIL
        assert "me@home.example outside the organisation" in result.message

    def test_allowed_address_passes(self):
        box = mailbox("a@example.com") | {"ForwardingSmtpAddress": "smtp:me@home.example"}
        outcome = fwd001(mailboxes=[box], forwarding={"allowedAddresses": ["me@home.example"]})
        assert outcome.results[0].status is Status.PASS

    def test_internal_forwarding_passes_and_mailboxes_without_forwarding_are_skipped(self):
        boxes = [
            mailbox("a@example.com") | {"ForwardingSmtpAddress": "smtp:b@example.com"},
            mailbox("c@example.com") | {"ForwardingAddress": "Sales Team"},
            mailbox("d@example.com"),
        ]
        assert statuses(fwd001(mailboxes=boxes)) == {
            "mailbox:a@example.com": "pass",
            "mailbox:c@example.com": "pass",
        }


def rule(name="Rule", **props):
    return {"Name": name, "State": "Enabled", "Mode": "Enforce"} | props


def fwd002(*rules, **baseline):
    return judge(
        "FWD-002",
        {
            "exchange.transportRules": list(rules),
            "exchange.acceptedDomains": [accepted("example.com")],
        },
        **baseline,
    )


class TestRiskyTransportRules:
    def test_harmless_rule_passes(self):
        assert fwd002(rule(Actions=["ApplyHtmlDisclaimer"])).results[0].status is Status.PASS

    @pytest.mark.parametrize(
        ("props", "message"),
        [
            ({"SetSCL": -1}, "sets SCL -1"),
            ({"SetSCL": 2, "FromScope": "NotInOrganization"}, "sets SCL 2 for external senders"),
            ({"RedirectMessageTo": ["x@evil.example"]}, "RedirectMessageTo sends mail outside"),
            ({"BlindCopyTo": ["x@evil.example"]}, "BlindCopyTo sends mail outside"),
            ({"RouteMessageOutboundConnector": "Rogue"}, "outbound connector Rogue, not in the"),
        ],
    )
    def test_each_risk_fails_when_enabled(self, props, message):
        result = fwd002(rule(**props)).results[0]
        assert result.status is Status.FAIL
        assert message in result.message

    def test_scl_for_internal_senders_and_internal_copies_pass(self):
        outcome = fwd002(rule(SetSCL=2, BlindCopyTo=["audit@example.com"]))
        assert outcome.results[0].status is Status.PASS

    def test_approved_outbound_connector_passes(self):
        outcome = fwd002(
            rule(RouteMessageOutboundConnector="Partner"), outboundConnectors=[{"Name": "partner"}]
        )
        assert outcome.results[0].status is Status.PASS

    @pytest.mark.parametrize("props", [{"State": "Disabled"}, {"Mode": "Audit"}])
    def test_rules_not_in_force_are_reported_as_info(self, props):
        outcome = fwd002(rule(SetSCL=-1, **props))
        result = outcome.results[0]
        assert result.status is Status.PASS
        assert outcome.result_severity(result) is Severity.INFO
        assert "if turned on it sets SCL -1" in result.message


def outbound_connector(name="Smart", **props):
    base = {
        "Name": name,
        "Enabled": True,
        "ConnectorType": "Partner",
        "UseMXRecord": False,
        "SmartHosts": ["relay.example.net"],
        "RecipientDomains": ["*"],
        "TlsSettings": "CertificateValidation",
        "TlsDomain": None,
    }
    return base | props


def conn003(connectors, approved):
    return judge(
        "CONN-003", {"exchange.outboundConnectors": connectors}, outboundConnectors=approved
    )


class TestOutboundConnectors:
    def test_matching_connector_passes(self):
        record = outbound_connector()
        approved = {k: v for k, v in record.items()}
        assert statuses(conn003([record], [approved])) == {"connector:Smart": "pass"}

    def test_unknown_connector_fails(self):
        result = conn003([outbound_connector()], []).results[0]
        assert "not in the baseline: sends mail for * via relay.example.net" in result.message

    def test_unapproved_smart_host_fails(self):
        record = outbound_connector(SmartHosts=["relay.example.net", "evil.example"])
        approved = outbound_connector()
        result = conn003([record], [approved]).results[0]
        assert "smart host evil.example is not in the baseline" in result.message

    @pytest.mark.parametrize("tls", [None, "EncryptionOnly"])
    def test_weak_tls_fails(self, tls):
        record = outbound_connector(TlsSettings=tls)
        result = conn003([record], [{"Name": "Smart"}]).results[0]
        assert result.status is Status.FAIL
        assert "certificate is not verified" in result.message

    def test_missing_and_drifted_connectors_fail(self):
        outcome = conn003(
            [outbound_connector(UseMXRecord=True)],
            [{"Name": "Smart", "UseMXRecord": False}, {"Name": "Gone"}],
        )
        assert statuses(outcome) == {"connector:Gone": "fail", "connector:Smart": "fail"}
        assert (
            "UseMXRecord: expected false, found true"
            in by_resource(outcome)["connector:Smart"].message
        )


def subscription(
    status="Enabled", next_date="2027-06-30T00:00:00Z", plans=("EXCHANGE_S_STANDARD",), **extra
):
    return {
        "id": "s1",
        "skuPartNumber": "EXCHANGESTANDARD",
        "status": status,
        "nextLifecycleDateTime": next_date,
        "serviceStatus": [{"servicePlanName": p} for p in plans],
    } | extra


def sku(enabled=10, warning=0, consumed=5, status="Enabled", plans=("EXCHANGE_S_STANDARD",)):
    return {
        "skuId": "k1",
        "skuPartNumber": "EXCHANGESTANDARD",
        "capabilityStatus": status,
        "prepaidUnits": {"enabled": enabled, "warning": warning},
        "consumedUnits": consumed,
        "servicePlans": [{"servicePlanName": p} for p in plans],
    }


def sub001(subs=(), skus=(), **baseline):
    return judge(
        "SUB-001",
        {"graph.subscriptions": list(subs), "graph.subscribedSkus": list(skus)},
        **baseline,
    )


class TestSubscriptions:
    def test_active_subscription_and_sku_pass(self):
        outcome = sub001([subscription()], [sku()])
        assert statuses(outcome) == {
            "subscription:EXCHANGESTANDARD/s1": "pass",
            "sku:EXCHANGESTANDARD": "pass",
        }

    @pytest.mark.parametrize("status", ["Warning", "Suspended", "LockedOut"])
    def test_troubled_status_fails(self, status):
        result = sub001([subscription(status=status)]).results[0]
        assert result.status is Status.FAIL
        assert f"status {status}" in result.message

    def test_lifecycle_date_within_the_threshold_fails(self):
        soon = sub001([subscription(next_date="2026-12-10T00:00:00Z")])  # 20 days after
        assert "20 days after collection" in soon.results[0].message
        later = sub001(
            [subscription(next_date="2026-12-10T00:00:00Z")],
            thresholds={"subscriptionExpiryDays": 10},
        )
        assert later.results[0].status is Status.PASS

    def test_subscriptions_without_a_mailbox_plan_are_not_judged(self):
        outcome = sub001([subscription(status="Suspended", plans=("EXCHANGE_S_FOUNDATION",))])
        assert outcome.results == ()

    def test_more_licences_assigned_than_enabled_fails(self):
        result = sub001(skus=[sku(enabled=0, warning=10, consumed=8, status="Warning")]).results[0]
        assert "8 licences assigned but only 0 enabled (10 more in the grace period)" in (
            result.message
        )


def ca_policy(state="enabled", **users):
    return {
        "id": "p1",
        "displayName": "All users MFA",
        "state": state,
        "conditions": {
            "users": {"includeUsers": ["All"], **users},
            "applications": {"includeApplications": ["All"]},
            "clientAppTypes": ["all"],
        },
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
    }


def adm002(policies=(), defaults=False, assignments=(), **baseline):
    return judge(
        "ADM-002",
        {
            "graph.conditionalAccessPolicies": list(policies),
            "graph.securityDefaults": {"isEnabled": defaults},
            "graph.roleAssignments": list(assignments),
        },
        **baseline,
    )


class TestMfaPosture:
    def test_security_defaults_pass(self):
        assert adm002(defaults=True).results[0].status is Status.PASS

    def test_enforced_all_users_policy_passes(self):
        result = adm002([ca_policy()]).results[0]
        assert result.status is Status.PASS
        assert "All users MFA" in result.message

    def test_report_only_policy_fails_and_is_named(self):
        result = adm002([ca_policy(state="enabledForReportingButNotEnforced")]).results[0]
        assert result.status is Status.FAIL
        assert "report-only, so not enforced: All users MFA" in result.message

    def test_exclusions_other_than_break_glass_fail(self):
        bg = {
            "@odata.type": "#microsoft.graph.user",
            "id": "u-bg",
            "userPrincipalName": "bg@example.com",
        }
        assignment = {"roleDefinitionId": "x", "principalId": "u-bg", "principal": bg}
        excluded = adm002(
            [ca_policy(excludeUsers=["u-bg", "u-other"])],
            assignments=[assignment],
            breakGlassAccounts=[
                {"userPrincipalName": "bg@example.com", "reason": "emergency access"}
            ],
        )
        assert excluded.results[0].status is Status.FAIL
        assert "not break-glass accounts: user u-other" in excluded.results[0].message
        only_bg = adm002(
            [ca_policy(excludeUsers=["u-bg"])],
            assignments=[assignment],
            breakGlassAccounts=[
                {"userPrincipalName": "bg@example.com", "reason": "emergency access"}
            ],
        )
        assert only_bg.results[0].status is Status.PASS

    def test_no_policy_at_all_fails(self):
        assert adm002().results[0].status is Status.FAIL
