"""Notifications end to end: the real CLI posts to a chat webhook served on 127.0.0.1, in the
shape asked for, only when due; a failed post is reported by number, never by address, and
leaves the exit code alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tests.e2e.test_drift import older_report

SECRET = "T0SECRET/B0SECRET/abcdefSECRETxyz"


class Hook(BaseHTTPRequestHandler):
    posts: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self):  # the name http.server calls
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        Hook.posts.append((self.path, body))
        if "fail" in self.path:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b"no_service")
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")  # what Slack answers: not JSON

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _clear():
    Hook.posts.clear()


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("M365_AUDIT_NOTIFY", "GITHUB_")) and k != "M365_AUDIT_DEBUG"
    }
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **env},
    )


def test_teams_gets_an_adaptive_card_and_the_exit_code_is_the_audits(hook):
    done = cli(
        "run",
        "--demo",
        "--notify-webhook",
        f"{hook}/teams/{SECRET}",
        "--notify-format",
        "teams",
        GITHUB_RUN_ID="42",
        GITHUB_REPOSITORY="contoso/mail-audit",
    )
    assert done.returncode == 2  # the demo is incomplete, notified or not
    assert "m365-audit: notified webhook 1 (teams)" in done.stderr
    ((path, body),) = Hook.posts
    assert path == f"/teams/{SECRET}"
    card = body["attachments"][0]["content"]
    assert card["body"][0]["text"] == "m365-mail-auditor: INCOMPLETE for Tailspin Toys (demo)"
    assert card["actions"][0]["url"] == "https://github.com/contoso/mail-audit/actions/runs/42"
    assert SECRET not in done.stdout + done.stderr


def test_addresses_from_the_environment_and_a_failed_post(hook):
    done = cli(
        "run",
        "--demo",
        "--notify-format",
        "slack",
        M365_AUDIT_NOTIFY_WEBHOOK=f"{hook}/fail/{SECRET} {hook}/slack/{SECRET}",
    )
    assert done.returncode == 2
    assert (
        "m365-audit: notification to webhook 1 (slack) failed: HTTP 404" in done.stderr
        and "the audit's result is unchanged" in done.stderr
    )
    assert "m365-audit: notified webhook 2 (slack)" in done.stderr
    assert [p for p, _ in Hook.posts] == [f"/fail/{SECRET}", f"/slack/{SECRET}"]
    assert Hook.posts[1][1]["blocks"][0]["type"] == "header"
    assert SECRET not in done.stdout + done.stderr


def test_on_change_posts_only_when_findings_changed(hook, tmp_path):
    url = f"{hook}/json/{SECRET}"
    refused = cli("run", "--demo", "--notify-webhook", url, "--notify-on", "change")
    assert refused.returncode == 2 and refused.stdout == "" and not Hook.posts
    assert refused.stderr.splitlines() == [
        "m365-audit: --notify-on change needs --previous REPORT: without the last run's report "
        "there is nothing to compare with"
    ]
    same = tmp_path / "same.json"
    cli("run", "--demo", "--format", "json", "-o", str(same))
    quiet = cli(
        "run", "--demo", "--notify-webhook", url, "--notify-on", "change", "--previous", str(same)
    )
    assert "no notification: --notify-on change and this run changed nothing" in quiet.stderr
    assert not Hook.posts
    older = older_report(tmp_path)
    told = cli(
        "run", "--demo", "--notify-webhook", url, "--notify-on", "change", "--previous", str(older)
    )
    assert "notified webhook 1 (json)" in told.stderr
    ((_, body),) = Hook.posts
    assert body["schema"] == "m365-mail-auditor/notification/1"
    assert body["facts"]["Since last run"].startswith("1 new, 1 resolved")


def test_a_plain_http_address_elsewhere_is_refused_before_the_audit():
    done = cli("run", "--demo", "--notify-webhook", "http://hooks.example.net/x")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "m365-audit: notification webhook 1 is not an https:// address\n"
