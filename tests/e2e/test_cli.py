"""The real CLI as a subprocess: the demo, every output format, bad input, exit codes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.common import jsonio
from auditor.demo import BASELINE as DEMO_BASELINE
from auditor.demo import SNAPSHOT as DEMO_SNAPSHOT
from auditor.reports.json_report import SCHEMA_PATH

REPORT_SCHEMA = jsonio.load_schema(SCHEMA_PATH)

# Every result of the demo tenant that is not a pass, pinned (docs/demo-tenant.md).
DEMO_FINDINGS = {
    "ADM-001": {
        "user:bg-admin2@tailspintoys.onmicrosoft.com": "fail",
        "user:bob.fischer@tailspintoys.com": "fail",
        "user:dave.okafor@tailspintoys.com": "fail",
        "user:erin.walsh@tailspintoys.com": "fail",
        "user:grace.kim@tailspintoys.com": "fail",
        "user:mallory.stone@tailspintoys.com": "fail",
    },
    "ADM-002": {
        "tenant:6f0c3b8e-2d4a-4c1e-9b7f-5a3d2e1c0b9a": "fail",
    },
    "ALERT-001": {
        "alert:fa0000000000000002": "fail",
        "alert:fa0000000000000003": "fail",
    },
    "APP-001": {
        "app:Contoso CRM Mailer": "fail",
    },
    "AUTH-001": {
        "domain:wingtipdirect.com": "fail",
    },
    "AUTH-002": {
        "domain:tailspin.co.uk": "fail",
        "domain:wingtipdirect.com": "fail",
    },
    "AUTH-003": {
        "domain:tailspin.co.uk": "fail",
        "domain:wingtipdirect.com": "fail",
    },
    "CONN-001": {
        "connector:On-Prem Hybrid": "fail",
        "connector:Partner - Fabrikam Logistics": "fail",
        "connector:Relay-Backup": "fail",
    },
    "CONN-002": {
        "connector:Relay-Backup": "fail",
        "connector:Scanner Relay": "waived",
    },
    "CONN-003": {
        "connector:Marketing relay": "fail",
    },
    "DOM-001": {
        "connector:Relay-Backup": "fail",
        "domain:oldtailspin.com": "fail",
        "domain:wingtip-promo.net": "fail",
        "domain:wingtipdirect.com": "fail",
    },
    "DOM-002": {
        "domain:tailspin-events.com": "fail",
        "domain:tailspin.de": "fail",
        "domain:wingtipdirect.com": "fail",
    },
    "FWD-001": {
        "mailbox:quentin.hale@tailspintoys.com": "fail",
        "remoteDomain:Default": "fail",
    },
    "FWD-002": {
        "transportRule:Skip filtering for payroll partner": "fail",
    },
    "IP-001": {
        "ip:192.0.2.45": "error",
        "ip:198.51.100.77": "fail",
        "ip:203.0.113.26": "fail",
    },
    "LIM-001": {
        "mailbox:scanner@tailspintoys.onmicrosoft.com": "fail",
        "tenant:6f0c3b8e-2d4a-4c1e-9b7f-5a3d2e1c0b9a": "fail",
    },
    "LIM-002": {
        "limit:TenantExternalRecipients": "fail",
    },
    "LIM-003": {
        "sender:peggy.olson@tailspintoys.com": "fail",
    },
    "OUT-001": {
        "policy:Default": "fail",
    },
    "OUT-002": {
        "user:peggy.olson@tailspintoys.com": "fail",
    },
    "OUT-003": {
        "inboxRule:peggy.olson@tailspintoys.com/.": "fail",
    },
    "SIGN-001": {
        "mailbox:scanner@tailspintoys.onmicrosoft.com": "fail",
    },
    "SIGN-002": {
        "policy:CA003 Block legacy authentication": "fail",
    },
    "SIGN-003": {
        "mailbox:scanner@tailspintoys.onmicrosoft.com": "fail",
        "mailbox:support@tailspintoys.com": "fail",
    },
    "SUB-001": {
        "sku:EXCHANGESTANDARD": "fail",
        "subscription:EXCHANGESTANDARD/3573a7f5-8985-58bf-b47a-7ac179071b63": "fail",
    },
}
DEMO_PASSES = {
    "ADM-001": {
        "servicePrincipal:Mail Migration Service",
        "user:alice.nguyen@tailspintoys.com",
        "user:bg-admin1@tailspintoys.onmicrosoft.com",
        "user:carol.diaz@tailspintoys.com",
        "user:frank.li@tailspintoys.com",
        "user:heidi.brown@tailspintoys.com",
        "user:ivan.petrov@tailspintoys.com",
        "user:judy.moreau@tailspintoys.com",
    },
    "ADM-002": set(),
    "ALERT-001": set(),
    "APP-001": {"app:Payroll Export", "app:Tailspin Notifications"},
    "AUTH-001": {
        "domain:tailspin.co.uk",
        "domain:tailspintoys.com",
    },
    "AUTH-002": {
        "domain:tailspintoys.com",
        "domain:tailspintoys.onmicrosoft.com",  # signing on; Microsoft runs its DNS
    },
    "AUTH-003": {
        "domain:tailspintoys.com",
    },
    "CONN-001": {
        "connector:Partner - Contoso Payroll",
        "connector:Scanner Relay",
    },
    "CONN-002": {
        "connector:On-Prem Hybrid",
        "connector:Partner - Contoso Payroll",
    },
    "CONN-003": {
        "connector:Outbound to On-Prem",
    },
    "DOM-001": {
        "domain:shop.tailspin.co.uk",
        "domain:tailspin-events.com",
        "domain:tailspin.co.uk",
        "domain:tailspintoys.com",
        "domain:tailspintoys.onmicrosoft.com",
    },
    "DOM-002": {
        "domain:tailspin.co.uk",
        "domain:tailspintoys.com",
        "domain:tailspintoys.onmicrosoft.com",
    },
    "FWD-001": {
        "mailbox:careers@tailspintoys.com",
        "mailbox:sam.turner@tailspintoys.com",
        "remoteDomain:Contoso Payroll",
    },
    "FWD-002": {
        "transportRule:External disclaimer",
        "transportRule:Legacy journal copy",
    },
    "IP-001": {
        "ip:203.0.113.25",
        "range:198.51.100.0/24",
        "range:203.0.113.128/25",
    },
    "LIM-001": set(),
    "LIM-002": set(),
    "LIM-003": {  # the busiest senders the trace aggregate keeps
        "sender:alice.nguyen@tailspintoys.com",
        "sender:billing@wingtipdirect.com",
        "sender:carol.diaz@tailspintoys.com",
        "sender:erp@tailspintoys.com",
        "sender:fiona.hughes@tailspin.co.uk",
        "sender:frank.li@tailspintoys.com",
        "sender:george.evans@tailspin.co.uk",
        "sender:harriet.price@tailspin.co.uk",
        "sender:hello@tailspin-events.com",
        "sender:info@tailspintoys.com",
        "sender:lucy.bennett@tailspin.co.uk",
        "sender:noreply@tailspintoys.com",
        "sender:orders@shop.tailspin.co.uk",
        "sender:orders@wingtipdirect.com",
        "sender:rosa.lima@tailspintoys.com",
        "sender:sales@tailspintoys.com",
        "sender:scanner@tailspintoys.onmicrosoft.com",
        "sender:support@tailspintoys.com",
        "sender:tina.weiss@tailspintoys.com",
    },
    "OUT-001": {
        "policy:Executives",
    },
    "OUT-002": set(),
    "OUT-003": set(),
    "SIGN-001": {"tenant:6f0c3b8e-2d4a-4c1e-9b7f-5a3d2e1c0b9a"},
    "SIGN-002": set(),
    "SIGN-003": {
        "mailbox:careers@tailspintoys.com",
        "mailbox:hello@tailspin-events.com",
        "mailbox:info@tailspintoys.com",
        "mailbox:legacy.archive@tailspintoys.com",
        "mailbox:press@tailspintoys.com",
        "mailbox:sales@tailspintoys.com",
    },
    "SUB-001": {
        "sku:SPE_E3",
        "subscription:SPE_E3/6b51286b-a83b-51f3-9f7f-dbeeef785be4",
    },
}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "M365_AUDIT_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
    )


def findings(report: dict) -> dict[str, dict[str, str]]:
    return {
        c["id"]: {r["resource"]: r["status"] for r in c["results"] if r["status"] != "pass"}
        for c in report["checks"]
    }


def passes(report: dict) -> dict[str, set[str]]:
    return {
        c["id"]: {r["resource"] for r in c["results"] if r["status"] == "pass"}
        for c in report["checks"]
    }


@pytest.fixture(scope="module")
def demo_json() -> dict:
    done = cli("run", "--demo", "--format", "json")
    # The demo plants one address a blocklist refuses to judge: an incomplete audit exits 2.
    assert done.returncode == 2, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


class TestDemo:
    def test_table_report_and_exit_code(self):
        done = cli("run", "--demo")
        assert done.returncode == 2
        lines = done.stdout.splitlines()
        assert lines[0].startswith("m365-mail-auditor ")
        every = len(DEMO_FINDINGS)  # every check of the demo finds something
        assert lines[2].startswith(
            f"Summary: INCOMPLETE (1 not judged): {every} checks: 0 passed, {every} failed, "
            "0 errored"
        )
        assert "- connector:Relay-Backup (FAIL critical): not in the baseline" in done.stdout
        assert "Remediation: An inbound connector nobody approved" in done.stdout
        assert "DOM-002 domain:tailspin-events.com: expired on 2026-06-30" in done.stdout
        assert done.stderr == ""

    def test_json_report_validates_against_its_schema(self, demo_json):
        jsonio.validate(REPORT_SCHEMA, demo_json, "report")

    def test_pinned_findings(self, demo_json):
        assert findings(demo_json) == DEMO_FINDINGS
        assert passes(demo_json) == DEMO_PASSES
        pinned = [status for found in DEMO_FINDINGS.values() for status in found.values()]
        passing = sum(len(p) for p in DEMO_PASSES.values())
        assert demo_json["summary"]["results"] == {
            "error": pinned.count("error"),
            "fail": pinned.count("fail"),
            "pass": passing,
            "total": len(pinned) + passing,
            "waived": pinned.count("waived"),
        }

    def test_report_identifies_inputs(self, demo_json):
        assert demo_json["tenant"]["id"] == "6f0c3b8e-2d4a-4c1e-9b7f-5a3d2e1c0b9a"
        assert demo_json["collectedAt"] == "2026-11-20T06:00:00Z"
        assert demo_json["baseline"] == {
            "path": "demo:baseline.json",
            "sha256": jsonio.sha256(DEMO_BASELINE.read_bytes()),
            # Kept so that a later run can tell an approval from a fix.
            "document": json.loads(DEMO_BASELINE.read_text()),
        }
        assert demo_json["snapshot"]["sha256"] == jsonio.sha256(DEMO_SNAPSHOT.read_bytes())

    def test_evidence_names_source_ips_and_counts(self, demo_json):
        dom = next(c for c in demo_json["checks"] if c["id"] == "DOM-001")
        promo = next(r for r in dom["results"] if r["resource"] == "domain:wingtip-promo.net")
        assert promo["evidence"]["messageTrace"]["sources"] == [
            {"fromIP": "198.51.100.77", "messages": 842, "inboundConnector": "Relay-Backup"}
        ]

    def test_ndjson_has_one_flat_line_per_result(self, demo_json):
        done = cli("run", "--demo", "--format", "ndjson")
        assert done.returncode == 2
        events = [json.loads(line) for line in done.stdout.splitlines()]
        assert len(events) == demo_json["summary"]["results"]["total"]
        for event in events:
            assert all(not isinstance(v, dict) for v in event.values())
            assert event["tenantId"] == demo_json["tenant"]["id"]
        rogue = [e for e in events if e["resource"] == "connector:Relay-Backup"]
        assert {(e["checkId"], e["severity"]) for e in rogue} == {
            ("CONN-001", "critical"),
            ("CONN-002", "high"),
            ("DOM-001", "high"),
        }

    @pytest.mark.parametrize("fmt", ["table", "json", "ndjson"])
    def test_two_runs_are_identical_but_for_the_run_time(self, fmt):
        first, second = (cli("run", "--demo", "--format", fmt).stdout for _ in range(2))

        def strip(text: str) -> list[str]:
            return (
                [
                    line
                    for line in text.splitlines()
                    if "audited 20" not in line and '"startedAt"' not in line
                ]
                if fmt != "ndjson"
                else [
                    json.dumps({k: v for k, v in json.loads(x).items() if k != "time"})
                    for x in text.splitlines()
                ]
            )

        assert strip(first) == strip(second)

    def test_output_file_is_private_and_written_whole(self, tmp_path):
        target = tmp_path / "report.json"
        done = cli("run", "--demo", "--format", "json", "-o", str(target))
        assert done.returncode == 2 and done.stdout == ""
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert json.loads(target.read_text())["status"] == "incomplete"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]

    def test_check_selection_and_fail_on(self):
        only = cli("run", "--demo", "--format", "json", "--check", "DOM-002")
        assert [c["id"] for c in json.loads(only.stdout)["checks"]] == ["DOM-002"]
        assert only.returncode == 1
        # DOM-002 is medium: failures below --fail-on high do not fail the run.
        assert cli("run", "--demo", "--check", "DOM-002", "--fail-on", "high").returncode == 0

    def test_console_script_is_installed(self):
        script = Path(sys.executable).parent / "m365-audit"
        if not script.exists():
            pytest.fail(f"console script not installed next to {sys.executable}")
        done = subprocess.run([str(script), "--version"], capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.startswith("m365-audit ")


class TestBaselineInit:
    def judge_with(self, baseline: Path, *checks: str) -> dict:
        selection = [arg for cid in checks for arg in ("--check", cid)]
        run = cli(
            "run",
            "--snapshot",
            str(DEMO_SNAPSHOT),
            "--baseline",
            str(baseline),
            "--format",
            "json",
            "--max-snapshot-age",
            "100000",
            *selection,
        )
        return json.loads(run.stdout)

    def test_init_approves_the_safe_and_leaves_out_the_risky(self, tmp_path):
        baseline = tmp_path / "baseline.json"
        done = cli("baseline", "init", "--snapshot", str(DEMO_SNAPSHOT), "-o", str(baseline))
        assert done.returncode == 0, done.stderr
        assert stat.S_IMODE(baseline.stat().st_mode) == 0o600
        written = json.loads(baseline.read_text())
        assert [c["Name"] for c in written["inboundConnectors"]] == [
            "On-Prem Hybrid",
            "Partner - Contoso Payroll",
        ]
        assert [c["Name"] for c in written["outboundConnectors"]] == ["Outbound to On-Prem"]
        assert "wingtipdirect.com" not in {d["name"] for d in written["acceptedDomains"]}
        assert written["breakGlassAccounts"] == []
        # Each risky item is listed with the check that failed it, and the summary counts.
        assert (
            "left out (risky): inbound connector Relay-Backup: CONN-002: SenderIPAddresses "
            "198.51.100.0/24 covers 256 addresses"
        ) in done.stderr
        assert "created 3 days before collection" in done.stderr
        assert "left out (risky): accepted domain wingtipdirect.com: DOM-002: not verified" in (
            done.stderr
        )
        assert "left out (risky): outbound connector Marketing relay: CONN-003: TlsSettings" in (
            done.stderr
        )
        assert (
            "approved 4 accepted domains, 2 inbound connectors, 1 outbound connector; left out "
            "1 accepted domain, 2 inbound connectors, 1 outbound connector"
        ) in done.stderr
        # The attacker's connector is therefore not blessed: CONN-001 still fails it.
        report = self.judge_with(baseline, "CONN-001", "DOM-002")
        assert findings(report)["CONN-001"] == {
            "connector:Relay-Backup": "fail",
            "connector:Scanner Relay": "fail",
        }
        assert passes(report)["CONN-001"] == {
            "connector:On-Prem Hybrid",
            "connector:Partner - Contoso Payroll",
        }
        assert findings(report)["DOM-002"]["domain:wingtipdirect.com"] == "fail"

    def test_approve_risky_keeps_them_with_a_note_saying_why(self, tmp_path):
        baseline = tmp_path / "baseline.json"
        done = cli(
            "baseline",
            "init",
            "--snapshot",
            str(DEMO_SNAPSHOT),
            "-o",
            str(baseline),
            "--approve-risky",
        )
        assert done.returncode == 0, done.stderr
        assert "approved although risky: inbound connector Relay-Backup" in done.stderr
        written = json.loads(baseline.read_text())
        relay = next(c for c in written["inboundConnectors"] if c["Name"] == "Relay-Backup")
        assert relay["note"].startswith("approved with --approve-risky although CONN-002: ")
        safe = next(c for c in written["inboundConnectors"] if c["Name"] == "On-Prem Hybrid")
        assert "note" not in safe
        report = self.judge_with(baseline, "CONN-001", "DOM-002")
        statuses = {c["id"]: c["counts"] for c in report["checks"]}
        assert statuses["CONN-001"]["fail"] == 0 and statuses["CONN-001"]["pass"] == 4
        # Approval cannot verify a domain: the unverified one still fails.
        assert findings(report)["DOM-002"] == {"domain:wingtipdirect.com": "fail"}

    @staticmethod
    def init_without(tmp_path: Path, source_name: str) -> subprocess.CompletedProcess[str]:
        """`baseline init` of the demo snapshot with one source failed (403)."""
        snapshot = json.loads(DEMO_SNAPSHOT.read_text())
        snapshot["sources"][source_name] = {
            "status": "error",
            "collectedAt": snapshot["collectedAt"],
            "error": f"{source_name}: 403 Forbidden",
        }
        source = tmp_path / "snap.json"
        source.write_text(json.dumps(snapshot))
        return cli("baseline", "init", "--snapshot", str(source), "-o", str(tmp_path / "b.json"))

    def test_items_whose_risk_could_not_be_judged_are_left_out_too(self, tmp_path):
        done = self.init_without(tmp_path, "graph.domains")
        assert done.returncode == 0, done.stderr
        assert (
            "left out (risky): accepted domain tailspintoys.com: not checked for risk: DOM-002 "
            "could not judge it"
        ) in done.stderr
        assert json.loads((tmp_path / "b.json").read_text())["acceptedDomains"] == []

    def test_init_refuses_to_overwrite(self, tmp_path):
        target = tmp_path / "baseline.json"
        target.write_text("{}")
        done = cli("baseline", "init", "--snapshot", str(DEMO_SNAPSHOT), "-o", str(target))
        assert done.returncode == 2
        assert "exists; pass --force" in done.stderr
        assert target.read_text() == "{}"

    def test_init_notes_sources_it_could_not_approve(self, tmp_path):
        done = self.init_without(tmp_path, "exchange.inboundConnectors")
        assert done.returncode == 0
        assert "$.sources['exchange.inboundConnectors']: not collected" in done.stderr
        assert "inboundConnectors" not in json.loads((tmp_path / "b.json").read_text())


def write(tmp_path: Path, name: str, content: str | dict) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


class TestBadInput:
    def assert_one_line_error(self, done, *expected: str):
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert lines == [f"m365-audit: {e}" for e in expected]
        assert done.stdout == ""

    def test_missing_snapshot(self, tmp_path):
        missing = tmp_path / "none.json"
        done = cli("run", "--snapshot", str(missing), "--baseline", str(DEMO_BASELINE))
        self.assert_one_line_error(done, f"{missing}: $: file not found")

    def test_invalid_json_snapshot(self, tmp_path):
        path = write(tmp_path, "snap.json", '{"schema": ')
        done = cli("run", "--snapshot", str(path), "--baseline", str(DEMO_BASELINE))
        self.assert_one_line_error(
            done, f"{path}: $: invalid JSON at line 1 column 12: Expecting value"
        )

    def test_schema_invalid_snapshot(self, tmp_path):
        doc = json.loads(DEMO_SNAPSHOT.read_text())
        doc["sources"]["exchange.messageTrace"]["data"]["Aggregates"][3]["MessageCount"] = "many"
        path = write(tmp_path, "snap.json", doc)
        done = cli("run", "--snapshot", str(path), "--baseline", str(DEMO_BASELINE))
        self.assert_one_line_error(
            done,
            f"{path}: $.sources['exchange.messageTrace'].data.Aggregates[3].MessageCount: "
            "'many' is not of type 'integer'",
        )

    def test_schema_invalid_baseline(self, tmp_path):
        path = write(
            tmp_path, "b.json", {"baselineVersion": 1, "thresholds": {"newConnectorDays": "x"}}
        )
        done = cli("run", "--demo", "--baseline", str(path))
        self.assert_one_line_error(
            done, f"{path}: $.thresholds.newConnectorDays: 'x' is not of type 'integer'"
        )

    def test_unknown_check_id_in_baseline(self, tmp_path):
        path = write(
            tmp_path, "b.json", {"baselineVersion": 1, "checks": {"DOM-404": {"enabled": False}}}
        )
        done = cli("run", "--demo", "--baseline", str(path))
        self.assert_one_line_error(done, f"{path}: $.checks['DOM-404']: unknown check id 'DOM-404'")

    def test_waiver_without_reason(self, tmp_path):
        waiver = {"check": "DOM-001", "resource": "domain:x", "expires": "2030-01-01"}
        path = write(tmp_path, "b.json", {"baselineVersion": 1, "waivers": [waiver]})
        done = cli("run", "--demo", "--baseline", str(path))
        self.assert_one_line_error(done, f"{path}: $.waivers[0]: 'reason' is a required property")

    def test_unknown_check_on_the_command_line(self):
        done = cli("run", "--demo", "--check", "NOPE-001")
        self.assert_one_line_error(done, "unknown check id NOPE-001 (see 'm365-audit checks list')")

    def test_unwritable_output(self, tmp_path):
        done = cli("run", "--demo", "-o", str(tmp_path / "no" / "such" / "dir" / "r.txt"))
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        assert done.stderr.strip() == (
            f"m365-audit: {tmp_path / 'no' / 'such' / 'dir'}: no such folder to write into"
        )

    @pytest.mark.parametrize(
        ("args", "said"),
        [
            (
                ["run", "--demo", "--format", "jsn"],
                "argument --format: invalid choice: 'jsn' (choose from",
            ),
            (["run", "--demo", "--fail-on", "hgh"], "did you mean 'high'?"),
            (["rn", "--demo"], "did you mean 'run'?"),
            (["run", "--demo", "--chek", "DOM-001"], "did you mean '--check'?"),
            (["explain"], "the following arguments are required: text"),
            (
                ["run", "--demo", "--tenant", "contoso.onmicrosoft.com"],
                "--demo audits the bundled demo tenant; --tenant is for a live tenant",
            ),
            (
                ["run", "--snapshot", str(DEMO_SNAPSHOT), "--save-snapshot", "x.json"],
                "--snapshot audits a saved snapshot; --save-snapshot keeps what a live run read",
            ),
        ],
    )
    def test_a_bad_command_line_is_one_line_and_exit_2(self, args, said):
        done = cli(*args)
        assert done.returncode == 2
        (line,) = done.stderr.splitlines()
        assert line.startswith("m365-audit: ") and said in line
        assert "usage:" not in done.stderr

    def test_check_ids_are_case_insensitive(self):
        done = cli(
            "run", "--demo", "--format", "json", "--check", "conn-001", "--check", "CONN-001"
        )
        assert [c["id"] for c in json.loads(done.stdout)["checks"]] == ["CONN-001"]

    def test_snapshot_without_baseline_warns_and_uses_recommended(self):
        done = cli("run", "--snapshot", str(DEMO_SNAPSHOT), "--format", "json")
        assert "judging against the recommended baseline" in done.stderr
        assert done.returncode == 2  # incomplete: the demo's refused blocklist query
        assert json.loads(done.stdout)["baseline"]["path"].endswith("recommended.json")


class TestChecksList:
    def test_table_lists_every_check_and_source_permission(self):
        done = cli("checks", "list")
        assert done.returncode == 0
        for cid in ("ADM-001", "CONN-001", "CONN-002", "DOM-001", "DOM-002"):
            assert cid in done.stdout
        assert "AuditLog.Read.All (Entra ID P1)" in done.stdout
        assert "exchange.messageTrace" in done.stdout

    def test_json(self):
        listing = json.loads(cli("checks", "list", "--format", "json").stdout)
        adm = next(c for c in listing if c["id"] == "ADM-001")
        assert {s["name"] for s in adm["sources"]} >= {"graph.userRegistrationDetails"}
        assert adm["severity"] == "critical"


def test_readme_lists_every_environment_variable_the_code_reads():
    import re

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    table = readme.split("<!-- env:start -->\n", 1)[1].split("<!-- env:end -->")[0]
    listed = set(re.findall(r"`(M365_AUDIT_[A-Z0-9_]+)`", table))
    code = {
        name
        for path in (root / "auditor").rglob("*.py")
        for name in re.findall(r"M365_AUDIT_[A-Z0-9_]+", path.read_text())
    }
    assert listed == code, f"README lacks {code - listed}, lists unknown {listed - code}"


def test_readme_permission_table_is_what_the_command_prints():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("<!-- permissions:start -->\n", 1)[1].split("<!-- permissions:end -->")[0]
    printed = cli("permissions", "--format", "markdown").stdout
    assert table == printed, "update README.md from: m365-audit permissions --format markdown"


class TestExplain:
    def test_explains_without_running_checks(self):
        done = cli("explain", "550 5.7.705 Access denied, tenant has exceeded threshold")
        assert done.returncode == 0
        assert "exceeding its sending threshold" in done.stdout
        assert "OUT-002" in done.stdout and "To get unblocked:" in done.stdout

    def test_json_is_one_document_and_o_writes_it(self, tmp_path):
        target = tmp_path / "explained.json"
        done = cli("explain", "5.7.606", "--demo", "--format", "json", "-o", str(target))
        assert done.returncode == 2 and done.stdout == ""
        document = json.loads(target.read_text())
        assert document["ndr"]["key"] == "banned-ip"
        assert [c["id"] for c in document["report"]["checks"]] == ["CONN-002", "CONN-003", "IP-001"]
        assert stat.S_IMODE(target.stat().st_mode) == 0o600

    def test_machine_formats_carry_the_report_alone(self):
        done = cli("explain", "5.7.606", "--demo", "--format", "sarif")
        assert json.loads(done.stdout)["version"] == "2.1.0"
        assert "Sending IP banned by Microsoft" in done.stderr

    def test_runs_exactly_the_family_checks_on_a_snapshot(self):
        done = cli(
            "explain",
            "5.7.606",
            "--snapshot",
            str(DEMO_SNAPSHOT),
            "--baseline",
            str(DEMO_BASELINE),
            "--format",
            "json",
        )
        assert done.returncode == 2  # IP-001 could not judge one address: incomplete
        report = json.loads(done.stdout)["report"]
        assert [c["id"] for c in report["checks"]] == ["CONN-002", "CONN-003", "IP-001"]

    def test_an_address_the_ndr_quotes_is_found_in_the_snapshot(self):
        done = cli(
            "explain",
            "550 5.7.606 Access denied, banned sending IP [203.0.113.26]",
            "--snapshot",
            str(DEMO_SNAPSHOT),
            "--baseline",
            str(DEMO_BASELINE),
            "--max-snapshot-age",
            "100000",
        )
        text = done.stdout
        assert "More:\n  https://sender.office.com (Microsoft's delist portal)" in text
        where = text.split("Where 203.0.113.26 appears in this tenant:\n", 1)[1]
        where = where.split("\nWhat these checks find", 1)[0]
        assert "inbound connector On-Prem Hybrid (enabled) accepts mail from it" in where
        assert "blocklist zen.spamhaus.org: 127.0.0.10" in where

    def test_demo_spamhaus_line(self):
        line = "554 5.7.1 Client host [198.51.100.77] blocked using zen.spamhaus.org"
        done = cli("explain", line, "--demo")
        assert done.returncode == 2
        assert "Blocked by a DNS blocklist" in done.stdout
        assert "ip:198.51.100.77 (FAIL high): listed" in done.stdout

    def test_unknown_text_exits_2(self):
        done = cli("explain", "the printer is on fire")
        assert done.returncode == 2
        assert "not recognised" in done.stderr
        assert done.stdout == ""


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("M365_AUDIT_TRACE_DAYS", "seven", "--trace-days: invalid int value: 'seven'"),
        ("M365_AUDIT_DEADLINE", "soon", "--deadline: invalid float value: 'soon'"),
        ("M365_AUDIT_FAIL_ON", "severe", "$M365_AUDIT_FAIL_ON='severe' is not one of"),
        ("M365_AUDIT_CLOUD", "mars", "$M365_AUDIT_CLOUD='mars' is not one of"),
        ("M365_AUDIT_NOTIFY_ON", "sometimes", "$M365_AUDIT_NOTIFY_ON='sometimes' is not one"),
    ],
)
def test_a_bad_environment_variable_is_one_line_before_any_work(variable, value, said):
    """Issue 16, defect 9: not a traceback on every command."""
    env = {**os.environ, variable: value}
    done = subprocess.run(
        [sys.executable, "-m", "auditor", "run", "--demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and said in done.stderr, done.stderr


def test_inputs_that_escaped_as_internal_errors_are_one_line(tmp_path):
    """Issue 16, defect 9: a duplicate key in a baseline, JSON nested past the recursion limit,
    an integer of thousands of digits, a FIFO and /dev/zero as the snapshot."""
    import json as _json

    from auditor.demo import BASELINE

    baseline = BASELINE.read_text()
    dup = tmp_path / "dup.json"
    dup.write_text(baseline.rstrip().rstrip("}") + ', "waivers": []}')
    _json.loads(dup.read_text())  # valid JSON, which keeps the last "waivers" silently
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    big = tmp_path / "big.json"
    big.write_text('{"schema": ' + "9" * 5000 + "}")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cases = [
        (("run", "--demo", "--baseline", str(dup)), "the key 'waivers' appears twice"),
        (("run", "--snapshot", str(deep)), "nested too deeply"),
        (("diff", str(deep), str(deep)), "nested too deeply"),
        (("run", "--snapshot", str(big)), "not a usable JSON value"),
        (("run", "--snapshot", str(fifo)), "not a regular file"),
        (("run", "--snapshot", "/dev/zero"), "not a regular file"),
    ]
    for args, said in cases:
        done = cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        lines = [x for x in done.stderr.splitlines() if "no --baseline given" not in x]
        assert len(lines) == 1 and said in lines[0], (args, done.stderr)
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_output_through_a_symbolic_link_keeps_the_link(tmp_path):
    """Issue 16, defect 11: -o on a link writes the file it points to; the link stays."""
    target = tmp_path / "reports" / "latest.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    done = cli("run", "--demo", "--format", "json", "-o", str(link))
    assert done.returncode == 2, done.stderr
    assert link.is_symlink()
    assert json.loads(target.read_text())["tenant"]["displayName"] == "Tailspin Toys (demo)"


def test_a_bad_dns_server_and_a_huge_explain_text_are_refused_before_any_work():
    """Issue 16, defect 9: `--dns-server 127.0.0.1:abc` failed only after sign-in; `explain`
    took seconds on 120 KB of text."""
    done = cli(
        "collect",
        "-o",
        "/tmp/never.json",
        "--tenant",
        "contoso.onmicrosoft.com",
        "--client-id",
        "00000000-0000-0000-0000-000000000001",
        "--dns-server",
        "127.0.0.1:abc",
        "--authority",
        "https://127.0.0.1:9",
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "m365-audit: --dns-server '127.0.0.1:abc': give IP, IP:PORT or [IPv6]:PORT"
    )
    done = cli("explain", "5.7.750 " + "x" * 120_000)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "characters; an NDR's is far shorter" in done.stderr
