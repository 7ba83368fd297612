"""The chat summary: its three shapes, which shape an address gets, and when a run posts."""

from __future__ import annotations

import pytest
import responses

from auditor.collect.http import HttpClient, RetryPolicy
from auditor.common.redact import redact
from auditor.deliver.notify import check_url, kind_of, post
from auditor.reports import notification
from tests.unit.test_fix_first import demo_audit


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://hooks.slack.com/services/T0/B0/secretsecret", "slack"),
        (
            "https://default0a1b.2c.environment.api.powerplatform.com:443/powerautomate/"
            "automations/direct/workflows/abc/triggers/manual/paths/invoke?sig=x",
            "teams",
        ),
        ("https://prod-05.westeurope.logic.azure.com:443/workflows/abc/triggers/x", "teams"),
        ("https://contoso.webhook.office.com/webhookb2/abc", "teams"),
        ("https://siem.example.net/hook", "json"),
        ("https://hooks.slack.com.evil.example/x", "json"),  # not Slack's host
    ],
)
def test_the_shape_follows_the_address(url, kind):
    assert kind_of(url) == kind
    assert kind_of(url, "slack") == "slack"


def test_only_https_addresses_except_this_machine():
    check_url("https://hooks.slack.com/x", 1)
    check_url("http://127.0.0.1:8080/x", 1)
    with pytest.raises(ValueError, match="webhook 2 is not an https"):
        check_url("http://hooks.slack.com/x", 2)


def test_the_summary_leads_with_the_status_and_the_first_resources_to_fix():
    summary = notification.summarise(demo_audit(), "https://github.com/o/r/actions/runs/1")
    assert summary.title == "m365-mail-auditor: INCOMPLETE for Tailspin Toys (demo)"
    assert dict(summary.facts)["Not judged"] == "1"
    assert summary.fix_first[0] == (
        "connector:Relay-Backup (critical): CONN-001, CONN-002, DOM-001, IP-001"
    )
    assert len(summary.fix_first) == notification.SHOWN and summary.more > 0

    card = notification.teams(summary)
    attachment = card["attachments"][0]
    assert card["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = attachment["content"]
    assert content["type"] == "AdaptiveCard" and content["version"] == "1.4"
    assert content["actions"][0]["url"].endswith("/actions/runs/1")
    assert content["body"][0]["color"] == "Warning"  # incomplete: not the red of a failure

    message = notification.slack(summary)
    assert message["text"] == summary.title
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "section", "section"]
    plain = notification.plain(summary)
    assert plain["schema"] == notification.SCHEMA and plain["status"] == "incomplete"


def test_slack_control_characters_are_escaped():
    summary = notification.Summary("t", "fail", (("Status", "<b>&"),), (), 0, None)
    assert "&lt;b&gt;&amp;" in notification.slack(summary)["blocks"][1]["text"]["text"]


def test_when_a_run_posts():
    audit = demo_audit()
    assert notification.due(audit, "always") and notification.due(audit, "failure")
    assert not notification.due(audit, "change")  # no previous run: nothing changed


@responses.activate
def test_a_failed_post_is_named_by_number_and_never_by_address():
    secret = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"
    ok = "https://example.net/ok-hook"
    responses.post(secret, status=404, body="no_service")
    responses.post(ok, status=202, body="")
    summary = notification.summarise(demo_audit())
    http = HttpClient(RetryPolicy(max_attempts=1))
    first, second = post(summary, [secret, ok], "auto", http)
    assert (first.number, first.kind, first.ok) == (1, "slack", False)
    assert "404" in first.error and "XXXXsecretXXXX" not in first.error
    assert (second.number, second.kind, second.ok) == (2, "json", True)
    assert "XXXXsecretXXXX" not in redact(f"failed {secret}")
