"""Post the run's summary to chat webhooks (Microsoft Teams, Slack, or any that takes JSON).
A webhook address is a secret: it is registered for redaction and never printed; a post that
fails is reported by its number and kind, and never changes the audit's result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from auditor.collect.http import ApiError, DeadlineExceeded, HttpClient
from auditor.common.redact import register
from auditor.reports import notification
from auditor.reports.notification import Summary

# Hosts of each kind's incoming webhooks: Teams' Workflows (Power Automate, on Power Platform
# and before it Logic Apps) and its older connectors; Slack's incoming webhooks.
_TEAMS_HOSTS = (".environment.api.powerplatform.com", ".logic.azure.com", ".webhook.office.com")
_SLACK_HOSTS = ("hooks.slack.com",)


@dataclass(frozen=True)
class Posted:
    number: int  # 1-based, in the order given: how a person tells the webhooks apart
    kind: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def kind_of(url: str, asked: str = "auto") -> str:
    if asked != "auto":
        return asked
    host = (urlsplit(url).hostname or "").lower()
    if host in _SLACK_HOSTS:
        return "slack"
    if any(host.endswith(suffix) for suffix in _TEAMS_HOSTS):
        return "teams"
    return "json"


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")  # where plain http:// is allowed (tests)


def check_url(url: str, number: int) -> None:
    """Refuse an address that is not HTTPS (plain HTTP only to this machine, for testing)."""
    parts = urlsplit(url)
    local = parts.hostname in LOCAL_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ValueError(f"notification webhook {number} is not an https:// address")


def post(summary: Summary, urls: Sequence[str], asked: str, http: HttpClient) -> list[Posted]:
    done = []
    for number, url in enumerate(urls, 1):
        register(url)
        kind = kind_of(url, asked)
        body = notification.SHAPES[kind](summary)
        try:
            http.request_json(
                "POST",
                url,
                json_body=body,
                headers={"Content-Type": "application/json"},
                label=f"notification webhook {number} ({kind})",
                expect_json=False,
            )
        except (ApiError, DeadlineExceeded) as exc:
            done.append(Posted(number, kind, str(exc) or type(exc).__name__))
            continue
        except requests.RequestException as exc:  # a malformed address, too many redirects
            done.append(Posted(number, kind, type(exc).__name__))
            continue
        done.append(Posted(number, kind))
    return done
