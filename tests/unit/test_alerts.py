"""ALERT-001 and the alerts_v2 collector: what fires fails, nothing else is kept."""

from __future__ import annotations

from datetime import UTC, datetime

import responses

from auditor.collect.collectors import CollectContext
from auditor.collect.collectors.graph_sources import security_alerts
from auditor.collect.graph import GraphClient
from auditor.collect.http import HttpClient, RetryPolicy
from auditor.judge import Severity, Status
from tests.helpers import judge

GRAPH = "https://graph.test/v1.0"


def alert(n, title, **extra):
    return {
        "id": f"a{n}",
        "title": title,
        "severity": "high",
        "status": "new",
        "createdDateTime": "2026-11-19T22:14:30Z",
        "subjects": ["p@contoso.com"],
        **extra,
    }


def judged(alerts):
    return judge("ALERT-001", {"graph.securityAlerts": alerts})


class TestBlockAlerts:
    def test_no_alert_about_sending_passes(self):
        outcome = judged([alert(1, "Malware campaign detected after delivery")])
        (result,) = outcome.results
        assert result.status is Status.PASS and "none of the 1 alerts" in result.message

    def test_a_restricted_user_fails_with_when_and_who(self):
        (result,) = judged([alert(1, "User restricted from sending email")]).results
        assert result.status is Status.FAIL and result.resource == "alert:a1"
        assert "at 2026-11-19T22:14:30Z (p@contoso.com); status new" in result.message
        assert result.severity is Severity.HIGH

    def test_a_restricted_tenant_is_critical_and_resolved_ones_still_count(self):
        fired = alert(1, "Tenant restricted from sending email", status="resolved")
        (result,) = judged([fired]).results
        assert result.severity is Severity.CRITICAL and "status resolved" in result.message

    def test_titles_are_matched_whatever_their_case(self):
        (result,) = judged([alert(1, "suspicious connector ACTIVITY ")]).results
        assert result.status is Status.FAIL


class TestCollector:
    @responses.activate
    def test_the_period_is_filtered_by_the_server_and_message_evidence_is_dropped(self):
        responses.get(
            f"{GRAPH}/security/alerts_v2",
            json={
                "value": [
                    {
                        "id": "a1",
                        "title": "User restricted from sending email",
                        "severity": "high",
                        "createdDateTime": "2026-11-19T22:14:30.7211305Z",
                        "description": "dropped",
                        "evidence": [
                            {"primaryAddress": "P@contoso.com"},
                            {"userAccount": {"userPrincipalName": "p@contoso.com"}},
                            {"subject": "Invoice overdue", "recipientEmailAddress": "x@y.z"},
                        ],
                    }
                ]
            },
        )
        http = HttpClient(RetryPolicy(max_attempts=1))
        ctx = CollectContext(
            graph=GraphClient(http, lambda: "tok", "https://graph.test"),
            exchange=None,
            now=datetime(2026, 11, 20, 6, tzinfo=UTC),
            trace_days=7,
        )
        (kept,) = security_alerts(ctx)
        assert kept == {
            "id": "a1",
            "title": "User restricted from sending email",
            "severity": "high",
            "createdDateTime": "2026-11-19T22:14:30Z",
            "subjects": ["p@contoso.com"],
        }
        query = responses.calls[0].request.url
        assert "createdDateTime+ge+2026-11-13T06%3A00%3A00Z" in query or (
            "createdDateTime%20ge%202026-11-13T06%3A00%3A00Z" in query
        )
