"""CONN-001 and CONN-002: one test per rule, passing and failing."""

import pytest

from auditor.judge.baseline import INBOUND_CONNECTOR_PROPERTIES
from auditor.judge.model import Severity, Status
from tests.helpers import by_resource, inbound, judge, statuses


def conn001(connectors, approved):
    return judge("CONN-001", {"exchange.inboundConnectors": connectors}, inboundConnectors=approved)


def approved_copy(record, **changes):
    keep = ("Name", *INBOUND_CONNECTOR_PROPERTIES)
    return {k: record[k] for k in keep} | changes


class TestInboundConnectorDrift:
    def test_matching_connector_passes(self):
        record = inbound("Hybrid")
        outcome = conn001([record], [approved_copy(record)])
        assert statuses(outcome) == {"connector:Hybrid": "pass"}
        assert "10 properties compared" in outcome.results[0].message

    def test_unknown_enabled_on_premises_connector_is_critical(self):
        outcome = conn001([inbound("Rogue", SenderIPAddresses=["198.51.100.0/24"])], [])
        result = outcome.results[0]
        assert result.status is Status.FAIL
        assert outcome.result_severity(result) is Severity.CRITICAL
        assert "not in the baseline" in result.message and "198.51.100.0/24" in result.message

    @pytest.mark.parametrize(
        "props", [{"ConnectorType": "Partner"}, {"Enabled": False}], ids=["partner", "disabled"]
    )
    def test_other_unknown_connectors_fail_at_the_check_severity(self, props):
        outcome = conn001([inbound("Other", **props)], [])
        result = outcome.results[0]
        assert result.status is Status.FAIL
        assert outcome.result_severity(result) is Severity.HIGH

    def test_approved_connector_missing_from_tenant_fails(self):
        outcome = conn001([], [{"Name": "Partner - Gone", "Enabled": True}])
        assert statuses(outcome) == {"connector:Partner - Gone": "fail"}
        assert "not in the tenant" in outcome.results[0].message

    @pytest.mark.parametrize(
        ("prop", "tenant_value", "baseline_value"),
        [
            ("Enabled", False, True),
            ("ConnectorType", "Partner", "OnPremises"),
            ("SenderIPAddresses", ["203.0.113.10", "192.0.2.1"], ["203.0.113.10"]),
            ("SenderDomains", ["smtp:*;1"], ["smtp:example.com;1"]),
            ("RequireTls", False, True),
            ("TlsSenderCertificateName", "evil.example.net", "mail.example.com"),
            ("RestrictDomainsToIPAddresses", False, True),
            ("RestrictDomainsToCertificate", True, False),
            ("TreatMessagesAsInternal", True, False),
            ("CloudServicesMailEnabled", True, False),
        ],
    )
    def test_each_property_drift_fails_with_expected_and_found(
        self, prop, tenant_value, baseline_value
    ):
        record = inbound("Hybrid", **{prop: tenant_value})
        outcome = conn001([record], [approved_copy(record, **{prop: baseline_value})])
        result = outcome.results[0]
        assert result.status is Status.FAIL
        assert result.message.startswith(f"{prop}: expected ")
        assert result.evidence["drift"] == {
            prop: {"expected": baseline_value, "found": tenant_value}
        }

    def test_equivalent_spellings_are_not_drift(self):
        record = inbound(
            "Hybrid",
            SenderIPAddresses=["203.0.113.10", "192.0.2.0/24"],
            SenderDomains=["smtp:Example.com;1"],
            TlsSenderCertificateName="Mail.Example.com",
            TreatMessagesAsInternal=None,
        )
        approved = approved_copy(
            record,
            Name="hybrid",
            SenderIPAddresses=["192.0.2.0/24", "203.0.113.10/32"],
            SenderDomains=["example.com"],
            TlsSenderCertificateName="mail.example.com",
            TreatMessagesAsInternal=False,
        )
        assert statuses(conn001([record], [approved])) == {"connector:Hybrid": "pass"}

    def test_properties_left_out_of_the_baseline_are_not_compared(self):
        record = inbound("Hybrid", RequireTls=False, SenderIPAddresses=["192.0.2.1"])
        outcome = conn001([record], [{"Name": "Hybrid", "Enabled": True}])
        assert statuses(outcome) == {"connector:Hybrid": "pass"}


def conn002(connectors, **baseline):
    return judge("CONN-002", {"exchange.inboundConnectors": connectors}, **baseline)


class TestRiskyInboundConnectors:
    def test_narrow_old_connector_passes(self):
        outcome = conn002([inbound("Hybrid", SenderIPAddresses=["203.0.113.10", "203.0.113.11"])])
        assert statuses(outcome) == {"connector:Hybrid": "pass"}
        assert "restricted to 2 addresses by IP" in outcome.results[0].message

    def test_range_over_threshold_fails_and_range_at_threshold_passes(self):
        wide = conn002([inbound("Wide", SenderIPAddresses=["203.0.113.0/26"])])
        assert "covers 64 addresses (the baseline allows 32)" in wide.results[0].message
        edge = conn002([inbound("Edge", SenderIPAddresses=["203.0.113.0/27"])])
        assert edge.results[0].status is Status.PASS

    def test_threshold_comes_from_the_baseline(self):
        outcome = conn002(
            [inbound("Wide", SenderIPAddresses=["203.0.113.0/26"])],
            thresholds={"maxConnectorIpRangeAddresses": 64},
        )
        assert outcome.results[0].status is Status.PASS

    def test_dash_ranges_are_measured(self):
        outcome = conn002([inbound("Range", SenderIPAddresses=["192.0.2.1-192.0.2.100"])])
        assert "covers 100 addresses" in outcome.results[0].message

    def test_on_premises_connector_without_ip_or_certificate_fails(self):
        outcome = conn002([inbound("Open", SenderIPAddresses=[])])
        assert "restricted neither by IP address nor by certificate" in outcome.results[0].message

    def test_on_premises_connector_identified_by_certificate_passes(self):
        outcome = conn002(
            [inbound("Cert", SenderIPAddresses=[], TlsSenderCertificateName="mail.example.com")]
        )
        assert outcome.results[0].status is Status.PASS
        assert "certificate mail.example.com" in outcome.results[0].message

    def test_wildcard_sender_domains_need_ip_restriction(self):
        loose = conn002([inbound("Loose", SenderDomains=["smtp:*;1"])])
        assert "SenderDomains * without RestrictDomainsToIPAddresses" in loose.results[0].message
        tight = conn002(
            [inbound("Tight", SenderDomains=["smtp:*;1"], RestrictDomainsToIPAddresses=True)]
        )
        assert tight.results[0].status is Status.PASS

    def test_treat_as_internal_fails_only_on_an_open_connector(self):
        open_one = conn002(
            [inbound("Open", SenderIPAddresses=["198.51.100.0/24"], TreatMessagesAsInternal=True)]
        )
        assert "TreatMessagesAsInternal on a connector open to many senders" in (
            open_one.results[0].message
        )
        narrow = conn002([inbound("Narrow", TreatMessagesAsInternal=True)])
        assert narrow.results[0].status is Status.PASS

    def test_recently_created_connector_fails(self):
        outcome = conn002([inbound("New", WhenCreatedUTC="2026-11-17T06:00:00Z")])
        assert outcome.results[0].message == "created 3 days before collection"

    def test_recently_changed_connector_fails(self):
        outcome = conn002([inbound("Changed", WhenChangedUTC="2026-11-10T06:00:00Z")])
        assert outcome.results[0].message == "changed 10 days before collection"

    def test_change_just_outside_the_window_passes(self):
        outcome = conn002([inbound("Old", WhenChangedUTC="2026-11-05T05:59:00Z")])
        assert outcome.results[0].status is Status.PASS

    def test_new_connector_days_comes_from_the_baseline(self):
        outcome = conn002(
            [inbound("Changed", WhenChangedUTC="2026-11-10T06:00:00Z")],
            thresholds={"newConnectorDays": 7},
        )
        assert outcome.results[0].status is Status.PASS

    def test_unparseable_address_is_an_error_not_a_pass(self):
        outcome = conn002([inbound("Broken", SenderIPAddresses=["mail.example.com"])])
        assert outcome.results[0].status is Status.ERROR
        assert outcome.status is Status.ERROR

    def test_every_risk_is_listed(self):
        outcome = conn002(
            [
                inbound(
                    "Rogue",
                    SenderIPAddresses=["198.51.100.0/24"],
                    SenderDomains=["smtp:*;1"],
                    WhenCreatedUTC="2026-11-19T00:00:00Z",
                )
            ]
        )
        result = by_resource(outcome)["connector:Rogue"]
        assert result.message.count(";") == 2
        assert result.evidence["addressesCovered"] == 256
