"""An honest run, through the CLI: an incomplete audit says so in every format and exit code,
each cause of errors is said once with its fix, drift never resolves what was not judged,
advice is scoped to what ran, `baseline init` leaves risky items out (test_cli.py), and stale
or mistaken inputs are named."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest

from auditor.collect import CATALOGUE
from auditor.common import jsonio
from auditor.common.timeutil import format_time, utc_now
from auditor.demo import BASELINE as DEMO_BASELINE
from auditor.demo import SNAPSHOT as DEMO_SNAPSHOT
from auditor.judge.registry import discover
from auditor.reports.json_report import SCHEMA_PATH
from tests.e2e.test_cli import cli as offline
from tests.e2e.test_live import cli as live

REPORT_SCHEMA = jsonio.load_schema(SCHEMA_PATH)
NUL_403 = "Exchange Online refused access: HTTP 403 a body of 12 NUL bytes, not JSON"
ROLE_FIX = "assign the Entra role Global Reader to the app's service principal"
# Every check that reads Exchange, directly or through DNS lookups of what Exchange lists.
EXCHANGE_CHECKS = sorted(
    cid
    for cid, c in discover().items()
    if any(s.startswith(("exchange.", "dns.")) for s in c.spec.requires)
)
OLD_ENOUGH = ["--max-snapshot-age", "100000"]  # the demo snapshot's age is not under test


def one_line(text: str) -> str:
    return " ".join(text.split())


class TestIncompleteAudit:
    """The Global Reader role removed from the app: Exchange answers 403 to every cmdlet."""

    def test_collect_exits_2_keeps_the_snapshot_and_names_the_cause_once(self, fake, tmp_path):
        fake.revoke("Global Reader")
        target = tmp_path / "s.json"
        done = live(fake, "collect", "-o", str(target))
        assert done.returncode == 2
        assert done.stderr.count("HTTP 403 a body of 12 NUL bytes") == 1
        assert done.stderr.count(f"fix: {ROLE_FIX}") == 1
        blind = [n for n in CATALOGUE if n.startswith(("exchange.", "dns."))]
        assert f"({len(blind)} sources: dns.blocklists, dns.records, exchange.acceptedDomains," in (
            done.stderr
        )
        assert f"blocks {', '.join(EXCHANGE_CHECKS)})" in done.stderr
        assert f"{len(CATALOGUE) - len(blind)} sources ok, {len(blind)} failed" in done.stderr
        sources = json.loads(target.read_text())["sources"]
        role = {n: s["cause"] for n, s in sources.items() if s["status"] == "error"}
        assert role["exchange.transportRules"] == {
            "kind": "permission",
            "summary": NUL_403,
            "fix": ROLE_FIX,
        }
        assert role["dns.records"] == {
            "kind": "dependency",
            "summary": "not collected: exchange.acceptedDomains failed",
            "source": "exchange.acceptedDomains",
        }

    def test_run_is_incomplete_in_every_format_with_one_root_cause(self, fake, tmp_path):
        fake.revoke("Global Reader")
        formats = ("table", "json", "markdown", "sarif", "junit", "ndjson", "ocsf", "html")
        args = ["run", "--baseline", str(DEMO_BASELINE)]
        for fmt in formats:
            args += ["--format", fmt, "-o", str(tmp_path / f"r.{fmt}")]
        done = live(fake, *args)
        assert done.returncode == 2, done.stderr
        out = {fmt: (tmp_path / f"r.{fmt}").read_text() for fmt in formats}

        report = json.loads(out["json"])
        jsonio.validate(REPORT_SCHEMA, report, "report")
        assert report["status"] == "incomplete"
        blind = len(EXCHANGE_CHECKS)
        assert report["summary"]["checks"]["error"] == blind
        assert report["summary"]["unjudged"] == blind
        (cause,) = report["rootCauses"]
        assert cause["cause"] == NUL_403 and cause["fix"] == ROLE_FIX
        assert cause["checks"] == EXCHANGE_CHECKS
        assert len(cause["sources"]) == len([n for n in CATALOGUE if n[:4] in ("exch", "dns.")])
        errored = {c["id"]: c for c in report["checks"] if c["status"] == "error"}
        assert sorted(errored) == EXCHANGE_CHECKS
        assert {c["fix"] for c in errored.values()} == {ROLE_FIX}

        table = out["table"]
        every = len(discover())
        assert (
            f"Summary: INCOMPLETE ({blind} not judged): {every} checks: 0 passed, "
            f"{every - blind} failed"
        ) in table
        assert one_line(table).count("HTTP 403 a body of 12 NUL bytes") == 1
        assert table.count(f"To fix the error: {ROLE_FIX}") == blind
        # An errored check's remediation would fix a finding nobody judged: not shown.
        assert "Remediation: An inbound connector nobody approved" not in table
        assert "could not run: exchange.inboundConnectors not collected (cause [1] above)" in table

        assert out["markdown"].startswith("## m365-mail-auditor: INCOMPLETE for ")
        assert one_line(out["markdown"]).count("HTTP 403 a body of 12 NUL bytes") == 1
        assert f"**To fix the error.** {ROLE_FIX}" in out["markdown"]
        sarif = json.loads(out["sarif"])["runs"][0]
        assert sarif["properties"]["status"] == "incomplete"
        assert sarif["invocations"][0]["executionSuccessful"] is True
        suites = ET.fromstring(out["junit"]).findall("testsuite")
        assert {
            p.get("value")
            for s in suites
            for p in s.iter("property")
            if p.get("name") == "auditStatus"
        } == {"incomplete"}
        assert {json.loads(x)["auditStatus"] for x in out["ndjson"].splitlines()} == {"incomplete"}
        ocsf = [json.loads(x) for x in out["ocsf"].splitlines()]
        assert {e["unmapped"]["auditStatus"] for e in ocsf} == {"incomplete"}
        blind = next(e for e in ocsf if e["compliance"]["control"] == "CONN-001")
        assert blind["remediation"]["desc"] == ROLE_FIX
        assert '<header class="incomplete"><h1>INCOMPLETE: ' in out["html"]
        assert out["html"].count("HTTP 403 a body of 12 NUL bytes") == 1

    def test_nothing_judged_is_error(self, fake, tmp_path):
        fake.revoke("Global Reader")
        done = live(fake, "run", "--format", "json", "--check", "CONN-001", "--check", "OUT-002")
        assert done.returncode == 2
        assert json.loads(done.stdout)["status"] == "error"


def report_of(tmp_path: Path, name: str, *args: str) -> Path:
    path = tmp_path / name
    offline("run", *args, *OLD_ENOUGH, "--format", "json", "-o", str(path))
    return path


def approving_relay_backup(tmp_path: Path) -> Path:
    """The demo's baseline, changed to approve the connector Relay-Backup as it is."""
    everything = tmp_path / "everything.json"
    offline(
        "baseline",
        "init",
        "--snapshot",
        str(DEMO_SNAPSHOT),
        "-o",
        str(everything),
        "--approve-risky",
    )
    relay = next(
        c
        for c in json.loads(everything.read_text())["inboundConnectors"]
        if c["Name"] == "Relay-Backup"
    )
    relay.pop("note")
    baseline = json.loads(DEMO_BASELINE.read_text())
    baseline["inboundConnectors"].append(relay)
    changed = tmp_path / "b2.json"
    changed.write_text(json.dumps(baseline))
    return changed


def without_quentins_forwarding(tmp_path: Path) -> Path:
    snapshot = json.loads(DEMO_SNAPSHOT.read_text())
    mailboxes = snapshot["sources"]["exchange.forwardingMailboxes"]
    mailboxes["data"] = [
        m for m in mailboxes["data"] if not m["PrimarySmtpAddress"].startswith("quentin")
    ]
    path = tmp_path / "fixed.json"
    path.write_text(json.dumps(snapshot))
    return path


def kinds(changes: dict, kind: str) -> list[tuple[str, str]]:
    return [(c["check"], c["resource"]) for c in changes[kind]]


class TestDriftNeverResolvesWhatWasNotJudged:
    def test_findings_of_a_check_in_error_or_not_run_are_unknown(self, fake, tmp_path):
        first = tmp_path / "r1.json"
        live(fake, "run", "--baseline", str(DEMO_BASELINE), "--format", "json", "-o", str(first))
        fake.revoke("AuditLog.Read.All")  # graph.userRegistrationDetails answers 403
        args = ["run", "--baseline", str(DEMO_BASELINE), "--check", "ADM-001"]
        done = live(fake, *args, "--previous", str(first), "--format", "json")
        assert done.returncode == 2
        report = json.loads(done.stdout)
        changes = report["changes"]
        assert changes["resolved"] == []
        # The one new item is the error itself: the check that could not run.
        assert kinds(changes, "new") == [("ADM-001", "")]
        unknown = {(c["check"], c["resource"]): c["why"] for c in changes["unknown"]}
        bob = unknown[("ADM-001", "user:bob.fischer@tailspintoys.com")]
        assert bob.startswith("ADM-001 could not judge: source graph.userRegistrationDetails")
        assert unknown[("CONN-001", "connector:Relay-Backup")] == "CONN-001 did not run"
        text = " ".join(live(fake, *args, "--previous", str(first)).stdout.split())  # unwrapped
        # Every finding of the first run is still open, none re-confirmed.
        open_before = sum(
            1
            for c in json.loads(first.read_text())["checks"]
            for r in c["results"]
            if r["status"] in ("fail", "error")
        )
        assert len(changes["unknown"]) == open_before
        assert (
            f"1 new, 0 resolved, 0 approved, {open_before} unknown (not judged this time)" in text
        )
        assert " RESOLVED " not in text
        assert "NEW ADM-001 (the check): source graph.userRegistrationDetails" in text
        assert "UNKNOWN ADM-001 user:bob.fischer@tailspintoys.com: still open" in text

    def test_a_previous_report_of_another_tenant_is_refused(self, tmp_path):
        first = report_of(tmp_path, "r1.json", "--demo")
        other = json.loads(first.read_text())
        other["tenant"]["id"] = "00000000-1111-2222-3333-444444444444"
        first.write_text(json.dumps(other))
        done = offline("run", "--demo", "--previous", str(first))
        assert done.returncode == 2
        assert done.stderr.splitlines() == [
            f"m365-audit: {first}: $.tenant.id: is of tenant "
            "00000000-1111-2222-3333-444444444444, not 6f0c3b8e-2d4a-4c1e-9b7f-5a3d2e1c0b9a: "
            "compare two runs of one tenant"
        ]
        assert done.stdout == ""

    def test_a_baseline_change_is_named_and_what_it_approved_is_not_resolved(self, tmp_path):
        demo = ["--snapshot", str(DEMO_SNAPSHOT)]
        first = report_of(tmp_path, "r1.json", *demo, "--baseline", str(DEMO_BASELINE))
        changed = approving_relay_backup(tmp_path)
        done = offline(
            "run", *demo, *OLD_ENOUGH, "--baseline", str(changed), "--previous", str(first)
        )
        text = " ".join(done.stdout.split())  # unwrapped
        before = text.split("Since the run of", 1)[0]
        assert re.search(
            r"The baseline changed between the runs \(sha256 \S+ -> \S+\): findings it "
            r"approved are APPROVED, not RESOLVED $",
            before,
        )
        assert "APPROVED CONN-001 connector:Relay-Backup: approved by the baseline change" in text
        assert "  RESOLVED " not in done.stdout
        as_json = json.loads(
            offline(
                "run",
                *demo,
                *OLD_ENOUGH,
                "--baseline",
                str(changed),
                "--previous",
                str(first),
                "--format",
                "json",
            ).stdout
        )
        changes = as_json["changes"]
        assert changes["baseline"]["changed"] is True
        assert kinds(changes, "approved") == [("CONN-001", "connector:Relay-Backup")]
        assert changes["resolved"] == []

    def test_with_the_tenant_changed_too_the_previous_baseline_tells_them_apart(self, tmp_path):
        first = report_of(
            tmp_path, "r1.json", "--snapshot", str(DEMO_SNAPSHOT), "--baseline", str(DEMO_BASELINE)
        )
        changed = approving_relay_backup(tmp_path)
        fixed = without_quentins_forwarding(tmp_path)
        args = ["--snapshot", str(fixed), "--baseline", str(changed)]
        second = report_of(tmp_path, "r2.json", *args, "--previous", str(first))
        changes = json.loads(second.read_text())["changes"]
        # Re-judged against the previous baseline, Relay-Backup still fails: approved; the
        # forwarding mailbox is gone from the tenant itself: resolved.
        assert kinds(changes, "approved") == [("CONN-001", "connector:Relay-Backup")]
        assert kinds(changes, "resolved") == [("FWD-001", "mailbox:quentin.hale@tailspintoys.com")]
        assert "note" not in changes["resolved"][0]
        # `diff` of the two reports has no snapshot to re-judge: it says it cannot tell.
        done = offline("diff", str(first), str(second), "--format", "json")
        plain = json.loads(done.stdout)
        assert plain["approved"] == []
        notes = {(c["check"], c["resource"]): c.get("note") for c in plain["resolved"]}
        assert notes[("CONN-001", "connector:Relay-Backup")] == (
            "the baseline changed too: this may be its approval"
        )


class TestAdviceScopedToWhatRan:
    def test_waivers_of_checks_that_did_not_run_get_no_advice(self):
        done = offline("run", "--demo", "--check", "OUT-002")
        assert "Waivers to review" not in done.stdout
        assert "CONN-002" not in done.stdout
        report = json.loads(
            offline("run", "--demo", "--check", "OUT-002", "--format", "json").stdout
        )
        assert {w["state"] for w in report["waivers"]} == {"unjudged"}

    def test_waivers_of_checks_that_ran_still_get_advice(self):
        done = offline("run", "--demo", "--check", "DOM-002")
        assert "DOM-002 domain:tailspin-events.com: expired on 2026-06-30" in done.stdout


def aged(tmp_path: Path, days: float) -> Path:
    snapshot = json.loads(DEMO_SNAPSHOT.read_text())
    snapshot["collectedAt"] = format_time(utc_now() - timedelta(days=days))
    path = tmp_path / f"aged-{days}.json"
    path.write_text(json.dumps(snapshot))
    return path


class TestStaleAndMistakenInputs:
    def test_an_old_snapshot_is_named_on_stderr_and_in_the_report(self, tmp_path):
        old = aged(tmp_path, 10)
        report = tmp_path / "r.json"
        args = ["run", "--snapshot", str(old), "--baseline", str(DEMO_BASELINE)]
        done = offline(*args, "--format", "json", "-o", str(report), "--format", "table")
        (warning,) = [line for line in done.stderr.splitlines() if "warning" in line]
        assert warning.startswith("m365-audit: warning: the snapshot was collected ")
        assert "10.0 days before this audit (older than 7 days)" in warning
        assert json.loads(report.read_text())["warnings"] == [
            warning.removeprefix("m365-audit: warning: ")
        ]
        (shown,) = [line for line in done.stdout.splitlines() if line.startswith("Warning:")]
        assert shown.startswith("Warning: the snapshot was collected")

    def test_the_threshold_is_an_option(self, tmp_path):
        old = aged(tmp_path, 10)
        args = ["run", "--snapshot", str(old), "--baseline", str(DEMO_BASELINE)]
        assert "warning" not in offline(*args, "--max-snapshot-age", "14").stderr
        assert "older than 2 days" in offline(*args, "--max-snapshot-age", "2").stderr
        fresh = aged(tmp_path, 1)
        assert "warning" not in offline("run", "--snapshot", str(fresh)).stderr

    @pytest.mark.parametrize(
        ("option", "given", "expected"),
        [
            (
                "--snapshot",
                "baseline",
                "this is a baseline, not a snapshot: give it with --baseline",
            ),
            (
                "--snapshot",
                "report",
                "this is a report, not a snapshot: give it with --previous, or to `diff`",
            ),
            (
                "--baseline",
                "snapshot",
                "this is a snapshot, not a baseline: give it with --snapshot",
            ),
        ],
    )
    def test_one_of_our_files_given_to_the_wrong_option_is_named(
        self, tmp_path, option, given, expected
    ):
        files = {
            "baseline": DEMO_BASELINE,
            "snapshot": DEMO_SNAPSHOT,
            "report": report_of(tmp_path, "r.json", "--demo"),
        }
        args = ["run", option, str(files[given])]
        if option == "--baseline":
            args += ["--snapshot", str(DEMO_SNAPSHOT)]
        else:
            args += ["--baseline", str(DEMO_BASELINE)]
        done = offline(*args)
        assert done.returncode == 2
        assert done.stderr.splitlines() == [f"m365-audit: {files[given]}: $: {expected}"]
