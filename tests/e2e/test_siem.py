"""OCSF events, and their delivery to an HTTP event collector on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest

from tests.e2e.test_cli import cli

OCSF_SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[1] / "schemas" / "ocsf-compliance-finding.schema.json"
    ).read_text()
)
TOKEN = "hec-token-0123456789abcdef"


class Collector:
    """A Splunk-style HEC endpoint that records what it receives."""

    def __init__(self, status: int = 200):
        self.status = status
        self.batches: list[list[dict]] = []
        self.auth: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.auth.append(self.headers.get("Authorization", ""))
                outer.batches.append([json.loads(line) for line in body.splitlines()])
                answer = json.dumps(
                    {
                        "text": "Success" if outer.status == 200 else "Invalid",
                        "code": 0 if outer.status == 200 else 6,
                    }
                ).encode()
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/collector/event"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def run_with_siem(url: str, spool: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "M365_AUDIT_SIEM_TOKEN": TOKEN}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor",
            "run",
            "--demo",
            "--format",
            "json",
            "-o",
            str(spool / "report.json"),
            "--siem-url",
            url,
            "--siem-spool",
            str(spool),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_ocsf_events_fit_the_compliance_finding_class():
    done = cli("run", "--demo", "--format", "ocsf")
    events = [json.loads(line) for line in done.stdout.splitlines()]
    validator = jsonschema.Draft202012Validator(OCSF_SCHEMA)
    for event in events:
        validator.validate(event)
    rogue = [
        e
        for e in events
        if e["compliance"]["control"] == "CONN-001"
        and e["resources"][0]["uid"] == "connector:Relay-Backup"
    ]
    assert rogue[0]["severity_id"] == 5 and rogue[0]["compliance"]["status_id"] == 3
    waived = [e for e in events if e["status"] == "Suppressed"]
    assert [e["resources"][0]["uid"] for e in waived] == ["connector:Scanner Relay"]


def test_events_are_delivered_in_hec_format(tmp_path):
    with Collector() as collector:
        done = run_with_siem(collector.url, tmp_path)
    assert done.returncode == 2, done.stderr  # the demo's audit is incomplete (IP-001)
    delivered = [item for batch in collector.batches for item in batch]
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(delivered) == report["summary"]["results"]["total"]
    assert collector.auth == [f"Splunk {TOKEN}"]
    assert delivered[0]["sourcetype"] == "ocsf:compliance_finding"
    assert delivered[0]["event"]["class_uid"] == 2003
    assert f"sent {len(delivered)} events to the SIEM" in done.stderr
    assert TOKEN not in done.stderr + done.stdout


def test_failed_delivery_keeps_the_events_on_disk(tmp_path):
    with Collector(status=400) as collector:
        # A complete audit with findings: they decide the exit code; the failure is reported.
        done = run_with_siem(collector.url, tmp_path, "--check", "CONN-001")
    assert done.returncode == 1
    assert "SIEM delivery failed after 0 events" in done.stderr
    spooled = list(tmp_path.glob("m365-audit-undelivered-*.ndjson"))
    assert len(spooled) == 1
    lines = spooled[0].read_text().splitlines()
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(lines) == report["summary"]["results"]["total"]


def test_missing_token_is_a_usage_error(tmp_path):
    done = cli("run", "--demo", "--siem-url", "http://127.0.0.1:9/x")
    assert done.returncode == 2
    assert "needs the collector's token" in done.stderr


@pytest.mark.parametrize("fmt", ["ocsf"])
def test_ocsf_output_is_deterministic_but_for_time(fmt):
    first = cli("run", "--demo", "--format", fmt).stdout.splitlines()
    second = cli("run", "--demo", "--format", fmt).stdout.splitlines()
    strip = [{k: v for k, v in json.loads(x).items() if k != "time"} for x in first]
    assert strip == [{k: v for k, v in json.loads(x).items() if k != "time"} for x in second]
