"""The CLI against a fake tenant that behaves as the real services do where they differ from
what the tool once assumed (docs/fake-tenant.md names the public source of each behaviour):
message trace continued by warning at seven-decimal precision, a busy tenant, nextLink replay
refused, the gateway's GUID-only URL, sign-in that never answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from auditor.demo import BASELINE as DEMO_BASELINE
from tests.fake_tenant import FakeTenant, Fault
from tests.fake_tenant.data import BULK_DOMAIN, BULK_IP

BUSY_ROWS = 12_000
BUSY_MAILBOXES = 2_500
APP_ANCHOR = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"


def cli(fake: FakeTenant, *args: str, timeout: float = 300, **env: str):
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args, *fake.cli_args()],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=fake.env(M365_AUDIT_CLIENT_SECRET=fake.app.secret, **env),
    )


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    """A tenant with 12,000 more trace rows in the newest window and 2,500 more mailboxes,
    answering in pages as large as the gateway's (1000)."""
    fake = FakeTenant(
        tmp_path_factory.mktemp("busy"),
        graph_page_size=999,
        exchange_page_size=1000,
        extra_trace_rows=BUSY_ROWS,
        extra_mailboxes=BUSY_MAILBOXES,
    )
    with fake:
        yield fake


@pytest.fixture(autouse=True)
def clean(request):
    if "busy" in request.fixturenames:  # the shared `fake` is reset by conftest.py
        request.getfixturevalue("busy").reset()


def expected_messages(fake: FakeTenant) -> dict[tuple[str, str | None], int]:
    """Distinct messages per (sender domain, source IP), counted from the fake's own rows."""
    messages: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    for row in fake.data.trace_rows:
        domain = row["SenderAddress"].rsplit("@", 1)[1].lower()
        messages[(domain, row["FromIP"])].add(row["MessageTraceId"])
    return {key: len(ids) for key, ids in messages.items()}


class TestBusyTenant:
    def test_every_trace_row_is_read_exactly_once(self, busy, tmp_path):
        target = tmp_path / "s.json"
        done = cli(busy, "collect", "-o", str(target), "--check", "DOM-001")
        assert done.returncode == 0, done.stderr
        trace = json.loads(target.read_text())["sources"]["exchange.messageTrace"]["data"]
        assert len(busy.data.trace_rows) > BUSY_ROWS  # the demo's rows and the busy ones
        assert trace["Rows"] == len(busy.data.trace_rows)
        # Continuations start at the boundary row again: served more than once, kept once.
        assert busy.trace_rows_served > trace["Rows"]
        assert busy.counts["exchange:Get-MessageTraceV2"] >= 4
        counted: dict[tuple[str, str | None], int] = defaultdict(int)
        for aggregate in trace["Aggregates"]:
            counted[(aggregate["SenderDomain"], aggregate["FromIP"])] += aggregate["MessageCount"]
        assert dict(counted) == expected_messages(busy)

    def test_the_planted_unregistered_domains_fail_dom_001(self, busy):
        done = cli(
            busy, "run", "--baseline", str(DEMO_BASELINE), "--format", "json", "--check", "DOM-001"
        )
        assert done.returncode == 1, done.stderr
        (check,) = json.loads(done.stdout)["checks"]
        failing = {r["resource"]: r for r in check["results"] if r["status"] == "fail"}
        bulk = failing[f"domain:{BULK_DOMAIN}"]
        sent = bulk["evidence"]["messageTrace"]
        assert sent["outboundMessages"] == expected_messages(busy)[(BULK_DOMAIN, BULK_IP)]
        assert "domain:wingtip-promo.net" in failing  # the demo's own plant, still found

    def test_thousands_of_mailboxes_cost_one_page_of_forwarding_and_three_of_users(
        self, busy, tmp_path
    ):
        target = tmp_path / "s.json"
        done = cli(busy, "collect", "-o", str(target), "--check", "FWD-001", "--check", "DOM-001")
        assert done.returncode == 0, done.stderr
        sources = json.loads(target.read_text())["sources"]
        forwarding = sources["exchange.forwardingMailboxes"]["data"]
        boxes = busy.data.exchange["Get-Mailbox"]
        assert len(boxes) > BUSY_MAILBOXES
        expected = sorted(
            b["PrimarySmtpAddress"]
            for b in boxes
            if b["ForwardingSmtpAddress"] or b["ForwardingAddress"]
        )
        assert sorted(f["PrimarySmtpAddress"] for f in forwarding) == expected
        assert busy.counts["exchange:Get-Mailbox"] == 1  # the filter: one page, any size
        users = sources["graph.users"]["data"]
        assert len(users) == len(busy.data.graph["users"])
        assert busy.counts["graph:users"] == 3  # 2,5xx users at $top=999


class TestReplayRefused:
    """Only the transport rules still page through the gateway here (pages of 10, 12 rules)."""

    def test_a_refused_replay_errors_the_source_and_never_keeps_part_of_it(self, fake, tmp_path):
        fake.exchange_page_size = 2  # the demo's connectors then span pages
        fake.refuse_replay = True
        try:
            target = tmp_path / "s.json"
            done = cli(fake, "collect", "-o", str(target), "--check", "CONN-001")
        finally:
            fake.exchange_page_size = 10
        record = json.loads(target.read_text())["sources"]["exchange.inboundConnectors"]
        assert record["status"] == "error"
        assert "data" not in record
        assert record["error"] == (
            "exchange.inboundConnectors: Get-InboundConnector: the gateway refused to continue "
            "its paged answer after 2 records (HTTP 400 BadRequest: Expired or Invalid "
            "pagination request); a partial list is not used"
        )
        # The snapshot is written with what was read, and the exit code says it is partial.
        assert done.returncode == 2
        assert "1 source ok, 1 failed" in done.stderr
        assert fake.counts["exchange:Get-InboundConnector"] == 3  # page, replay, one more try

    def test_the_checks_that_need_it_are_error_not_pass(self, fake):
        fake.exchange_page_size = 2
        fake.refuse_replay = True
        try:
            args = ["--baseline", str(DEMO_BASELINE), "--format", "json", "--check", "CONN-001"]
            done = cli(fake, "run", *args)
        finally:
            fake.exchange_page_size = 10
        (check,) = json.loads(done.stdout)["checks"]
        assert check["status"] == "error"
        assert "Expired or Invalid pagination request" in check["reason"]
        assert done.returncode == 2

    def test_mailboxes_need_no_gateway_paging_at_all(self, fake, tmp_path):
        """Forwarding comes through the server-side filter and addresses through Graph: with
        replay refused, FWD-001 and DOM-001 still judge complete data."""
        fake.refuse_replay = True
        args = ["--baseline", str(DEMO_BASELINE), "--format", "json"]
        done = cli(fake, "run", *args, "--check", "FWD-001", "--check", "DOM-001")
        statuses = {c["id"]: c["status"] for c in json.loads(done.stdout)["checks"]}
        assert statuses == {"DOM-001": "fail", "FWD-001": "fail"}, done.stderr


class TestTenantId:
    def test_a_domain_given_as_tenant_reaches_exchange_by_its_guid(self, fake):
        assert fake.data.domain.count("-") != 4  # --tenant is the .onmicrosoft.com name
        done = cli(fake, "run", "--baseline", str(DEMO_BASELINE), "--check", "CONN-001")
        assert done.returncode == 1, done.stderr
        assert set(fake.exchange_tenants) == {fake.data.tenant_id}
        assert set(fake.anchors) == {APP_ANCHOR + fake.data.tenant_id}

    def test_the_gateway_refuses_a_domain_in_its_url(self, fake):
        """The fake itself: a client that sent the domain would get 401, as public clients
        report (so the test above can fail)."""
        import requests

        token = fake.issue("exchange")
        url = f"{fake.base}/exchange/adminapi/beta/{fake.data.domain}/InvokeCommand"
        body = {"CmdletInput": {"CmdletName": "Get-AcceptedDomain", "Parameters": {}}}
        answer = requests.post(
            url,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            verify=str(fake.materials.ca_file),
            timeout=30,
        )
        assert answer.status_code == 401

    def test_device_code_is_anchored_on_the_signed_in_admin(self, fake):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "auditor",
                "collect",
                "-o",
                str(Path(fake.directory) / "d.json"),
                "--check",
                "CONN-001",
                "--device-code",
                *fake.cli_args(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=fake.env(),
        )
        assert done.returncode == 0, done.stderr
        assert set(fake.anchors) == {f"UPN:audit-admin@{fake.data.domain}"}


class TestDeadline:
    @pytest.mark.parametrize("route", ["discovery", "token"])
    def test_a_sign_in_that_never_answers_ends_by_the_deadline(self, fake, route):
        fake.inject(route, Fault("hang", times=20, delay=120))
        started = time.monotonic()
        done = cli(fake, "collect", "-o", str(Path(fake.directory) / "h.json"), "--deadline", "4")
        elapsed = time.monotonic() - started
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("m365-audit: authentication failed: ")
        assert "did not answer" in lines[0] or "deadline of 4 s passed" in lines[0]
        assert "Traceback" not in done.stderr
        assert elapsed < 30

    def test_a_source_that_never_answers_is_error_deadline_and_exit_2(self, fake, tmp_path):
        fake.inject("exchange:Get-InboundConnector", Fault("hang", delay=120))
        target = tmp_path / "s.json"
        started = time.monotonic()
        done = cli(
            fake,
            "run",
            "--baseline",
            str(DEMO_BASELINE),
            "--format",
            "json",
            "--check",
            "CONN-001",
            "--check",
            "DOM-002",
            "--deadline",
            "6",
            "--save-snapshot",
            str(target),
        )
        assert time.monotonic() - started < 40
        assert done.returncode == 2
        assert done.stderr.strip().splitlines()[-1] == (
            "m365-audit: the deadline of 6 s passed before 1 source could be read "
            "(exchange.inboundConnectors): the checks that need them are error"
        )
        statuses = {c["id"]: c["status"] for c in json.loads(done.stdout)["checks"]}
        assert statuses == {"CONN-001": "error", "DOM-002": "fail"}
        record = json.loads(target.read_text())["sources"]["exchange.inboundConnectors"]
        assert record["status"] == "error" and "deadline of 6 s passed" in record["error"]


class TestResolverThatSeesNothing:
    """A resolver that answers NXDOMAIN for every name (a sandbox, a filtering DNS service)
    makes every address look unlisted and every domain look empty: nothing may pass."""

    def test_blocklist_and_mail_authentication_are_errors_not_passes(self, fake):
        from tests.fake_tenant.dns_server import FakeDns

        with FakeDns({}) as blind:
            args = [a for a in fake.cli_args()]
            args[args.index("--dns-server") + 1] = blind.address
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "auditor",
                    "run",
                    "--baseline",
                    str(DEMO_BASELINE),
                    "--format",
                    "json",
                    "--check",
                    "IP-001",
                    "--check",
                    "AUTH-001",
                    "--check",
                    "AUTH-003",
                    *args,
                ],
                capture_output=True,
                text=True,
                timeout=300,
                env=fake.env(M365_AUDIT_CLIENT_SECRET=fake.app.secret),
            )
        report = json.loads(done.stdout)
        results = {c["id"]: c["results"] for c in report["checks"]}
        ip_results = results["IP-001"]
        assert ip_results and all(r["status"] == "error" for r in ip_results), ip_results
        by_resource = {r["resource"]: r["message"] for r in ip_results}
        assert "does not answer blocklist queries truthfully" in by_resource["ip:203.0.113.25"]
        assert "did not resolve (NXDOMAIN)" in by_resource["host:mail.tailspintoys.com"]
        for check in ("AUTH-001", "AUTH-003"):
            assert results[check] and all(r["status"] == "error" for r in results[check])
            assert "does not exist (NXDOMAIN" in results[check][0]["message"]
        assert done.returncode == 2


class TestLimitsCounter:
    """Get-LimitsEnforcementStatus is the live TERRL counter where the gateway offers it
    (CIPP calls it through the same gateway); where it does not, LIM-002 estimates from the
    trace and says so."""

    def run_lim_002(self, fake: FakeTenant) -> dict:
        args = ["--baseline", str(DEMO_BASELINE), "--format", "json", "--check", "LIM-002"]
        done = cli(fake, "run", *args)
        assert done.returncode in (0, 1), done.stderr
        (check,) = json.loads(done.stdout)["checks"]
        return check

    def test_the_live_counter_is_read_and_judged(self, fake):
        check = self.run_lim_002(fake)
        (result,) = check["results"]
        assert result["resource"] == "limit:TenantExternalRecipients"
        assert result["evidence"]["live"]["ObservedValue"] == 13374
        assert fake.counts["exchange:Get-LimitsEnforcementStatus"] == 1

    def test_where_the_gateway_does_not_know_the_cmdlet_the_trace_is_the_estimate(self, fake):
        kept = fake.data.exchange.pop("Get-LimitsEnforcementStatus")
        try:
            check = self.run_lim_002(fake)
        finally:
            fake.data.exchange["Get-LimitsEnforcementStatus"] = kept
        (result,) = check["results"]
        assert result["resource"].startswith("tenant:")
        assert "an estimate from message trace (the gateway does not offer" in result["message"]
        # The demo's seven days: Peggy's 8,400 and the rest, against 40 paid licences.
        assert result["evidence"]["limitFromLicences"] == 16113
        assert result["evidence"]["traceBusiest24Hours"]["Recipients"] > 8400


class TestSmtpAuthFilterRefused:
    """SmtpClientAuthenticationDisabled is not in Microsoft's list of confirmed filterable
    properties: a gateway that refuses the filter must not cost the check its verdict."""

    def test_every_mailbox_is_read_and_the_check_still_judges(self, fake, tmp_path):
        fake.refuse_filters = True
        target = tmp_path / "s.json"
        done = cli(fake, "collect", "-o", str(target), "--check", "SIGN-001")
        assert done.returncode == 0, done.stderr
        record = json.loads(target.read_text())["sources"]["exchange.smtpAuthMailboxes"]
        assert record["note"] == "the gateway refused the SMTP AUTH filter: every mailbox was read"
        assert record["data"] == [
            {
                "PrimarySmtpAddress": "scanner@tailspintoys.onmicrosoft.com",
                "SmtpClientAuthenticationDisabled": False,
            }
        ]
        assert fake.counts["exchange:Get-CASMailbox"] >= 2
