"""`diff` of two reports or snapshots, and `run --previous`."""

from __future__ import annotations

import json

from auditor.common import jsonio
from auditor.demo import SNAPSHOT as DEMO_SNAPSHOT
from auditor.reports.json_report import SCHEMA_PATH
from tests.e2e.test_cli import cli


def older_report(tmp_path):
    path = tmp_path / "old.json"
    cli("run", "--demo", "--format", "json", "-o", str(path))
    report = json.loads(path.read_text())
    for check in report["checks"]:
        if check["id"] == "OUT-002":
            check["results"] = []  # peggy was not restricted yet
        if check["id"] == "FWD-001":
            check["results"].append(
                {
                    "resource": "mailbox:gone@tailspintoys.com",
                    "status": "fail",
                    "severity": "high",
                    "message": "forwards outside",
                    "evidence": {},
                }
            )
    path.write_text(json.dumps(report))
    return path


def test_run_previous_puts_the_changes_in_the_report(tmp_path):
    old = older_report(tmp_path)
    done = cli("run", "--demo", "--format", "json", "--previous", str(old))
    report = json.loads(done.stdout)
    jsonio.validate(jsonio.load_schema(SCHEMA_PATH), report, "report")
    changes = report["changes"]
    assert [(c["check"], c["resource"]) for c in changes["new"]] == [
        ("OUT-002", "user:peggy.olson@tailspintoys.com")
    ]
    assert [(c["check"], c["resource"], c["status"]) for c in changes["resolved"]] == [
        ("FWD-001", "mailbox:gone@tailspintoys.com", "gone")
    ]
    table = " ".join(cli("run", "--demo", "--previous", str(old)).stdout.split())  # wrapped
    assert "1 new, 1 resolved, 0 approved, 0 unknown (not judged this time), 0 changed" in table
    markdown = cli("run", "--demo", "--format", "markdown", "--previous", str(old)).stdout
    assert "### Changes since the previous run" in markdown
    html = cli("run", "--demo", "--format", "html", "--previous", str(old)).stdout
    assert "<h2>Changes since the previous run</h2>" in html and "peggy.olson" in html
    sarif = json.loads(cli("run", "--demo", "--format", "sarif", "--previous", str(old)).stdout)
    assert len(sarif["runs"][0]["properties"]["changes"]["new"]) == 1
    lines = [
        json.loads(x)
        for x in cli(
            "run", "--demo", "--format", "ndjson", "--previous", str(old)
        ).stdout.splitlines()
    ]
    assert [x["resource"] for x in lines if x.get("change") == "new"] == [
        "user:peggy.olson@tailspintoys.com"
    ]
    ocsf = [
        json.loads(x)
        for x in cli(
            "run", "--demo", "--format", "ocsf", "--previous", str(old)
        ).stdout.splitlines()
    ]
    assert sum(1 for e in ocsf if e["unmapped"].get("change") == "new") == 1
    junit = cli("run", "--demo", "--format", "junit", "--previous", str(old)).stdout
    assert '<property name="change" value="new" />' in junit


def test_diff_of_two_reports(tmp_path):
    old = older_report(tmp_path)
    new = tmp_path / "new.json"
    cli("run", "--demo", "--format", "json", "-o", str(new))
    done = cli("diff", str(old), str(new), "--format", "json")
    assert done.returncode == 1
    assert len(json.loads(done.stdout)["new"]) == 1
    same = cli("diff", str(new), str(new))
    assert same.returncode == 0
    assert "0 new, 0 resolved, 0 approved, 0 unknown (not judged this time), 0 changed" in (
        same.stdout
    )


def test_diff_of_two_snapshots_names_what_changed(tmp_path):
    snapshot = json.loads(DEMO_SNAPSHOT.read_text())
    sources = snapshot["sources"]
    hybrid = next(
        c for c in sources["exchange.inboundConnectors"]["data"] if c["Name"] == "On-Prem Hybrid"
    )
    hybrid["SenderIPAddresses"].append("198.51.100.0/24")
    sources["exchange.inboundConnectors"]["data"] = [
        c for c in sources["exchange.inboundConnectors"]["data"] if c["Name"] != "Relay-Backup"
    ]
    sources["graph.roleAssignments"]["data"].append(
        {
            "id": "new-assignment",
            "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
            "principalId": "x",
            "principal": None,
        }
    )
    new = tmp_path / "new.json"
    new.write_text(json.dumps(snapshot))
    done = cli("diff", str(DEMO_SNAPSHOT), str(new), "--format", "json")
    assert done.returncode == 1
    diff = json.loads(done.stdout)
    assert {"source": "graph.roleAssignments", "record": "new-assignment"} in diff["added"]
    assert {"source": "exchange.inboundConnectors", "record": "relay-backup"} in diff["removed"]
    changed = next(c for c in diff["changed"] if c["record"] == "on-prem hybrid")
    assert changed["fields"]["SenderIPAddresses"]["after"][-1] == "198.51.100.0/24"
    text = cli("diff", str(DEMO_SNAPSHOT), str(new)).stdout
    assert "CHANGED  exchange.inboundConnectors on-prem hybrid: SenderIPAddresses" in text


def test_diff_refuses_other_files(tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    done = cli("diff", str(other), str(DEMO_SNAPSHOT))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"m365-audit: {other}: $.schema: neither an m365-mail-auditor report nor a snapshot"
    )
    mixed = tmp_path / "r.json"
    cli("run", "--demo", "--format", "json", "-o", str(mixed))
    assert cli("diff", str(mixed), str(DEMO_SNAPSHOT)).returncode == 2


def test_a_damaged_previous_report_is_named_not_a_traceback(tmp_path):
    """Issue 16, defect 9: malformed reports for `diff` and `--previous`."""
    good = tmp_path / "good.json"
    cli("run", "--demo", "--format", "json", "-o", str(good))
    document = json.loads(good.read_text())
    damaged = []
    broken = json.loads(json.dumps(document))
    broken["checks"][0]["results"][0].pop("resource")
    damaged.append((broken, "$.checks[0].results[0]"))
    broken = json.loads(json.dumps(document))
    broken["checks"] = {"not": "a list"}
    damaged.append((broken, "$.checks"))
    older = json.loads(json.dumps(document))
    older["schemaVersion"] = "1.0"
    older["checks"][0]["results"] = [{"status": "fail"}]  # what this version compares is gone
    damaged.append((older, "cannot be compared with this version's documents"))
    for number, (bad, said) in enumerate(damaged):
        path = tmp_path / f"bad{number}.json"
        path.write_text(json.dumps(bad))
        for args in (("diff", str(path), str(good)), ("run", "--demo", "--previous", str(path))):
            done = cli(*args)
            assert done.returncode == 2, (args, done.stderr)
            assert "Traceback" not in done.stderr and "internal error" not in done.stderr
            assert said in done.stderr, done.stderr
