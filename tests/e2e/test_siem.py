"""OCSF events, and their delivery to an HTTP event collector on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
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
    """A Splunk-style HEC endpoint that records what it stores. `script` gives, request by
    request, how it answers (the last entry repeats):

    ok          200 {"text": "Success", "code": 0}, stored
    ok204       204 No Content, stored
    oktext      200 text/plain "OK", stored
    moved301    301 to a GET health page, not stored
    moved307    307 to /services/collector/raw on the same host (then stored there)
    reset       stored, then the connection is closed without an answer
    busy-sup2   503 with `Retry-After: ²`, not stored
    code6       200 {"text": "Invalid data format", "code": 6}, not stored
    error500    500, not stored
    max20       413 when the batch holds more than 20 events, else ok
    """

    def __init__(self, status: int = 200, script: tuple[str, ...] = ("ok",)):
        self.status = status
        self.script = list(script)
        self.batches: list[list[dict]] = []
        self.auth: list[str] = []
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._answer(200, b"healthy", "text/plain")

            def _answer(self, status, body=b"", kind="application/json", headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                if status != 204:
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                events = [json.loads(line) for line in body.splitlines()]
                outer.auth.append(self.headers.get("Authorization", ""))
                with outer.lock:
                    step = outer.script[min(outer.requests, len(outer.script) - 1)]
                    outer.requests += 1
                if self.path.endswith("/raw") or step in ("ok", "ok204", "oktext", "reset"):
                    outer.batches.append(events)
                if step == "max20" and len(events) <= 20:
                    outer.batches.append(events)
                    step = "ok"
                if step == "ok" or self.path.endswith("/raw"):
                    if outer.status != 200:
                        answer = json.dumps({"text": "Invalid", "code": 6}).encode()
                        return self._answer(outer.status, answer)
                    return self._answer(200, b'{"text":"Success","code":0}')
                if step == "ok204":
                    return self._answer(204)
                if step == "oktext":
                    return self._answer(200, b"OK", "text/plain")
                if step == "reset":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if step == "moved301":
                    return self._answer(301, headers=[("Location", "/health")])
                if step == "moved307":
                    return self._answer(307, headers=[("Location", "/services/collector/raw")])
                if step == "busy-sup2":
                    return self._answer(503, b"{}", headers=[("Retry-After", "\u00b2")])
                if step == "code6":
                    return self._answer(200, b'{"text":"Invalid data format","code":6}')
                if step == "max20":
                    return self._answer(413, b'{"text":"Content too large","code":27}')
                return self._answer(500, b"<html>oops</html>", "text/html")

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/collector/event"

    @property
    def stored(self) -> list[dict]:
        return [item["event"] for batch in self.batches for item in batch]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def siem_cli(*args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "M365_AUDIT_SIEM_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def run_with_siem(url: str, spool: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    report = str(spool / "report.json")
    return siem_cli(
        "run",
        "--demo",
        "--format",
        "json",
        "-o",
        report,
        "--siem-url",
        url,
        "--siem-spool",
        str(spool),
        *extra,
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

    def strip(line: str) -> dict:
        event = json.loads(line)
        del event["time"]
        # The event's own id and the run's id change with the run; the finding's id does not.
        assert len(event["metadata"].pop("uid")) == 64
        assert len(event["metadata"].pop("correlation_uid")) == 32
        return event

    assert [strip(x) for x in first] == [strip(x) for x in second]


def flush(url: str, spool: Path, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    return siem_cli("siem", "flush", "--siem-url", url, "--siem-spool", str(spool), token=token)


def ocsf_events() -> list[dict]:
    return [
        json.loads(line) for line in cli("run", "--demo", "--format", "ocsf").stdout.splitlines()
    ]


def spooled(folder: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("m365-audit-undelivered-*.ndjson"))
        for line in path.read_text().splitlines()
    ]


def ids(events: list[dict]) -> list[str]:
    return [e["metadata"]["uid"] for e in events]


def test_every_event_carries_its_own_id_and_the_run_id():
    events = ocsf_events()
    assert len(set(ids(events))) == len(events)
    assert len({e["metadata"]["correlation_uid"] for e in events}) == 1
    assert len({e["finding_info"]["uid"] for e in events}) == len(events)


@pytest.mark.parametrize("step", ["ok204", "oktext", "moved307", "busy-sup2", "max20"])
def test_accepted_answers_deliver_each_event_exactly_once(tmp_path, step):
    """204 and a plain-text 200 are deliveries; a 307 is followed as a POST; `Retry-After: ²`
    means the backoff; 413 halves the batch until the collector takes it."""
    script = (step, "ok") if step in ("busy-sup2",) else (step,)
    with Collector(script=script) as collector:
        done = run_with_siem(collector.url, tmp_path)
    assert done.returncode == 2, done.stderr  # the demo's audit is incomplete (IP-001)
    report = json.loads((tmp_path / "report.json").read_text())
    total = report["summary"]["results"]["total"]
    assert sorted(ids(collector.stored)) == sorted(set(ids(collector.stored)))
    assert len(collector.stored) == total
    assert f"sent {total} events to the SIEM" in done.stderr
    assert spooled(tmp_path) == []
    if step == "max20":
        assert max(len(b) for b in collector.batches) <= 20
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("step", ["moved301", "code6", "error500"])
def test_a_refused_batch_is_spooled_then_flushed_exactly_once(tmp_path, step):
    """A redirect that would turn the POST into a GET, HEC's non-zero code in a 200 and a 500
    are not deliveries: the events are kept, and `siem flush` delivers each one once."""
    with Collector(script=(step,)) as down:
        done = run_with_siem(down.url, tmp_path)
    assert down.stored == []
    assert "SIEM delivery failed after 0 events" in done.stderr
    assert "siem flush" in done.stderr
    kept = spooled(tmp_path)
    assert len(kept) == len(ocsf_events())
    with Collector() as up:
        first = flush(up.url, tmp_path)
        again = flush(up.url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"sent {len(kept)} spooled events from 1 file(s)" in first.stderr
    assert sorted(ids(up.stored)) == sorted(ids(kept))  # every event, once
    assert again.returncode == 0 and "no undelivered events" in again.stderr
    assert list(tmp_path.glob("m365-audit-undelivered-*")) == []


def test_a_batch_stored_before_a_reset_is_not_resent_in_the_run(tmp_path):
    """The collector stored the batch and dropped the connection: the client cannot know. It
    does not send it again in the run (no duplicates); it spools it, and a flush resends it
    with the same event ids, so the receiving side drops the copy (docs/ocsf.md)."""
    with Collector(script=("reset", "ok")) as collector:
        done = run_with_siem(collector.url, tmp_path)
        assert collector.requests == 1
        assert "not sent again" in done.stderr
        kept = spooled(tmp_path)
        assert len(kept) == len(ocsf_events())
        assert flush(collector.url, tmp_path).returncode == 0
    stored = ids(collector.stored)
    assert set(stored) == set(ids(kept))
    assert len(stored) == 2 * len(kept)  # the one ambiguous batch, twice, same ids: no more


def test_a_collector_that_stays_down_keeps_the_spool_for_the_next_flush(tmp_path):
    with Collector(script=("error500",)) as down:
        run_with_siem(down.url, tmp_path)
        before = spooled(tmp_path)
        failed = flush(down.url, tmp_path)
    assert failed.returncode == 2
    assert "still kept" in failed.stderr
    assert spooled(tmp_path) == before  # nothing lost, nothing claimed
    assert list(tmp_path.glob("*.sending")) == []


def test_a_spool_file_that_is_not_ours_is_named_and_left_alone(tmp_path):
    bad = tmp_path / "m365-audit-undelivered-2026-01-01T000000Z-1.ndjson"
    bad.write_text('{"time": 1}\nnot json\n')
    with Collector() as collector:
        done = flush(collector.url, tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and f"{bad}:1: not an OCSF event" in done.stderr
    assert bad.read_text() == '{"time": 1}\nnot json\n'
    assert collector.requests == 0


@pytest.mark.parametrize(
    ("url", "spool", "said"),
    [
        ("ftp://127.0.0.1/x", None, "must be an https:// address"),
        ("127.0.0.1:8088/services/collector", None, "must be an https:// address"),
        ("http://collector.example.com/x", None, "would travel in clear"),
        ("https://user:hunter2-secret@collector.example.com/x", None, "user name or password"),
        ("https://collector.example.com/x", "missing", "the folder does not exist"),
        ("https://collector.example.com/x", "file", "not a folder"),
    ],
)
def test_the_siem_target_is_checked_before_the_audit(tmp_path, url, spool, said):
    folder = tmp_path
    if spool == "missing":
        folder = tmp_path / "missing"
    elif spool == "file":
        folder = tmp_path / "file"
        folder.write_text("")
    done = run_with_siem(url, folder)
    assert done.returncode == 2
    assert said in done.stderr and done.stderr.count("\n") == 1
    assert "hunter2" not in done.stderr
    assert not (tmp_path / "report.json").exists()  # no audit ran
