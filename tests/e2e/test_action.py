"""The GitHub Action's step script, run as the composite action runs it: bash, INPUT_*
variables, GitHub's OIDC endpoint (faked) and the fake tenant standing in for Microsoft."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema

from auditor.demo import BASELINE as DEMO_BASELINE
from tests.e2e.test_formats import SARIF_SCHEMA
from tests.e2e.test_honest_run import EXCHANGE_CHECKS
from tests.fake_tenant import FakeTenant, Fault

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "action-run.sh"


def run_action(fake: FakeTenant, tmp_path: Path, **inputs: str) -> tuple[int, dict, Path, str]:
    out = tmp_path / "m365-audit"
    github_output = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    env = fake.env(
        **fake.github_env(),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        INPUT_TENANT=fake.data.domain,
        INPUT_CLIENT_ID=fake.app.client_id,
        INPUT_BASELINE=str(DEMO_BASELINE),
        INPUT_OUTPUT_DIR=str(out),
        GITHUB_OUTPUT=str(github_output),
        GITHUB_STEP_SUMMARY=str(summary),
        M365_AUDIT_AUTHORITY=fake.base,
        M365_AUDIT_GRAPH_URL=f"{fake.base}/graph",
        M365_AUDIT_EXCHANGE_URL=f"{fake.base}/exchange",
        M365_AUDIT_DNS_SERVER=fake.dns.address,
        **inputs,
    )
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
    text = done.stdout + done.stderr
    return done.returncode, outputs, out, text + (summary.read_text() if summary.exists() else "")


def test_the_action_audits_with_federation_and_writes_every_output(fake, tmp_path):
    code, outputs, out, text = run_action(fake, tmp_path)
    # The fake tenant, like the demo, has an address a blocklist refuses to judge.
    assert code == 2
    assert outputs["status"] == "incomplete"
    assert outputs["unjudged"] == "1"
    assert int(outputs["failed"]) > 0
    assert outputs["report-path"] == f"{out}/report.json"
    assert sorted(p.name for p in out.iterdir()) == [
        "report.html",
        "report.json",
        "report.ndjson",
        "report.sarif",
        "snapshot.json",
        "summary.md",
    ]
    assert outputs["html-path"] == f"{out}/report.html"
    assert outputs["previous-used"] == "false" and outputs["remembered"] == "false"
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(
        json.loads((out / "report.sarif").read_text())
    )
    summary = (tmp_path / "step_summary").read_text()
    assert summary.startswith("## m365-mail-auditor: INCOMPLETE")
    assert fake.counts["github"] >= 1
    for secret in (fake.github_request_token, *fake.issued):
        assert secret not in text
        for path in out.iterdir():
            assert secret not in path.read_text()


def test_status_output_is_fail_for_a_complete_audit_with_findings(fake, tmp_path):
    fake.reset()
    code, outputs, _, _ = run_action(fake, tmp_path, INPUT_CHECKS="CONN-001 OUT-002")
    assert (code, outputs["status"], outputs["exit-code"]) == (1, "fail", "1")
    assert outputs["unjudged"] == "0" and outputs["errored"] == "0"


def test_status_output_is_incomplete_without_the_exchange_role(fake, tmp_path):
    fake.reset()
    fake.revoke("Global Reader")
    code, outputs, out, _ = run_action(fake, tmp_path)
    assert (code, outputs["status"], outputs["exit-code"]) == (2, "incomplete", "2")
    assert int(outputs["errored"]) == len(EXCHANGE_CHECKS)
    report = json.loads((out / "report.json").read_text())
    (cause,) = report["rootCauses"]
    assert cause["fix"] == "assign the Entra role Global Reader to the app's service principal"
    assert cause["checks"] == EXCHANGE_CHECKS
    # Said once in the step summary, not once per check.
    summary = (tmp_path / "step_summary").read_text()
    assert summary.count("HTTP 403 a body of 12 NUL bytes") == 1


def test_status_output_is_error_when_nothing_could_be_judged(fake, tmp_path):
    fake.reset()
    fake.revoke("Global Reader")
    code, outputs, out, _ = run_action(fake, tmp_path, INPUT_CHECKS="CONN-001,OUT-002")
    assert (code, outputs["status"], outputs["exit-code"]) == (2, "error", "2")
    assert json.loads((out / "report.json").read_text())["status"] == "error"


def test_inputs_select_checks_and_fail_on(fake, tmp_path):
    code, outputs, out, _ = run_action(
        fake, tmp_path, INPUT_CHECKS="DOM-002, OUT-001", INPUT_FAIL_ON="critical"
    )
    report = json.loads((out / "report.json").read_text())
    assert [c["id"] for c in report["checks"]] == ["DOM-002", "OUT-001"]
    assert code == 0  # both fail, but below critical
    assert outputs["exit-code"] == "0"


def test_the_deadline_input_ends_a_hanging_audit_with_exit_2(fake, tmp_path):
    fake.reset()
    fake.inject("exchange:Get-InboundConnector", Fault("hang", delay=120))
    code, outputs, out, text = run_action(fake, tmp_path, INPUT_DEADLINE="6")
    assert code == 2
    assert outputs["exit-code"] == "2"
    assert "the deadline of 6 s passed" in text
    assert (out / "report.json").is_file()  # what was read is still reported


def test_the_federated_audience_input_reaches_the_oidc_request(fake, tmp_path):
    """A custom audience goes to GitHub's token endpoint; Entra ID (the fake) then refuses the
    assertion, as it would when the federated credential names another audience."""
    fake.reset()
    code, outputs, _, text = run_action(fake, tmp_path, INPUT_FEDERATED_AUDIENCE="api://custom")
    assert set(fake.github_audiences) == {"api://custom"}
    assert code == 2 and outputs["status"] == "error"
    assert "AADSTS700211" in text


def test_action_yml_runs_this_script_with_the_documented_inputs():
    text = (ROOT / "action.yml").read_text()
    assert "using: composite" in text
    assert 'bash "${GITHUB_ACTION_PATH}/scripts/action-run.sh"' in text
    inputs = ("tenant", "client-id", "cloud", "baseline", "fail-on", "checks", "output-dir")
    for name in (*inputs, "deadline", "federated-audience", "previous-report", "remember"):
        assert f"\n  {name}:\n" in text
        assert f"INPUT_{name.upper().replace('-', '_')}: ${{{{ inputs.{name} }}}}" in text
    for name in ("status", "failed", "errored", "report-path"):
        assert f"steps.audit.outputs.{name}" in text


def test_the_next_run_compares_with_the_remembered_report(fake, tmp_path):
    """What the cache steps around the script do: the first run keeps its report where the
    restore step puts the last one; the second compares with it in every report."""
    remember = tmp_path / "cache"
    first = tmp_path / "first"
    first.mkdir()
    _, outputs, _, _ = run_action(
        fake, first, INPUT_REMEMBER="true", INPUT_REMEMBER_DIR=str(remember)
    )
    assert outputs["remembered"] == "true" and (remember / "report.json").is_file()
    kept = json.loads((remember / "report.json").read_text())
    fake.reset()
    second = tmp_path / "second"
    second.mkdir()
    _, outputs, out, _ = run_action(
        fake, second, INPUT_REMEMBER="true", INPUT_REMEMBER_DIR=str(remember)
    )
    assert outputs["previous-used"] == "true"
    report = json.loads((out / "report.json").read_text())
    assert report["changes"]["previous"]["startedAt"] == kept["startedAt"]
    summary = (second / "step_summary").read_text()
    assert "### Changes since the previous run" in summary
    assert json.loads((remember / "report.json").read_text())["startedAt"] == report["startedAt"]


def test_a_damaged_cached_report_is_left_out_not_fatal(fake, tmp_path):
    remember = tmp_path / "cache"
    remember.mkdir()
    (remember / "report.json").write_text('{"schema": "something else"')
    code, outputs, _, text = run_action(
        fake, tmp_path, INPUT_REMEMBER="true", INPUT_REMEMBER_DIR=str(remember)
    )
    assert code == 2 and outputs["status"] == "incomplete"  # the audit itself, as always
    assert outputs["previous-used"] == "false"
    assert "::warning::the cached previous report cannot be used" in text


def test_the_action_notifies_a_webhook_without_showing_it(fake, tmp_path):
    import threading
    from http.server import ThreadingHTTPServer

    from tests.e2e.test_notify import SECRET, Hook

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hook.posts.clear()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/teams/{SECRET}"
        code, outputs, _, text = run_action(
            fake,
            tmp_path,
            M365_AUDIT_NOTIFY_WEBHOOK=url,
            M365_AUDIT_NOTIFY_ON="change",
            M365_AUDIT_NOTIFY_FORMAT="teams",
        )
    finally:
        server.shutdown()
        server.server_close()
    assert code == 2 and outputs["exit-code"] == "2"
    assert "::notice::no previous report to compare with" in text
    ((_, body),) = Hook.posts
    assert body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert SECRET not in text
