"""SARIF, JUnit and Markdown from the CLI, each checked by a schema or a parser."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from auditor.judge.engine import audit
from auditor.judge.model import CheckSpec, Result, Severity, Status
from auditor.judge.registry import Check
from auditor.reports import markdown
from tests.e2e.test_cli import DEMO_FINDINGS, cli
from tests.helpers import make_baseline, make_snapshot

SARIF_SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "schemas" / "sarif-2.1.0-rtm.5.json").read_text()
)


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    paths = {fmt: out / f"report.{fmt}" for fmt in ("sarif", "junit", "markdown", "json")}
    args = ["run", "--demo"]
    for fmt, path in paths.items():
        args += ["--format", fmt, "-o", str(path)]
    done = cli(*args)
    assert done.returncode == 2, done.stderr  # incomplete: IP-001 could not judge one address
    assert done.stdout == ""
    return paths


def failing_count() -> int:
    return sum(1 for v in DEMO_FINDINGS.values() for s in v.values() if s == "fail")


class TestSarif:
    def test_validates_against_the_sarif_schema(self, reports):
        document = json.loads(reports["sarif"].read_text())
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
        assert document["version"] == "2.1.0"

    def test_one_rule_per_check_and_one_result_per_failing_resource(self, reports):
        run = json.loads(reports["sarif"].read_text())["runs"][0]
        rules = run["tool"]["driver"]["rules"]
        assert [r["id"] for r in rules] == sorted(DEMO_FINDINGS)
        assert all(float(r["properties"]["security-severity"]) > 0 for r in rules)
        unsuppressed = [r for r in run["results"] if "suppressions" not in r]
        assert len(unsuppressed) == failing_count()
        waived = [r for r in run["results"] if "suppressions" in r]
        assert [r["properties"]["resource"] for r in waived] == ["connector:Scanner Relay"]
        for result in run["results"]:
            rule = rules[result["ruleIndex"]]
            assert rule["id"] == result["ruleId"]
            assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
                "auditor/demo/baseline.json"
            )

    def test_fingerprints_are_stable_and_distinct(self, reports, tmp_path):
        again = tmp_path / "again.sarif"
        cli("run", "--demo", "--format", "sarif", "-o", str(again))

        def prints(path):
            return [
                r["partialFingerprints"]["m365AuditFinding/v1"]
                for r in json.loads(path.read_text())["runs"][0]["results"]
            ]

        first = prints(reports["sarif"])
        assert first == prints(again)
        assert len(set(first)) == len(first)

    def test_critical_findings_rank_as_errors(self, reports):
        run = json.loads(reports["sarif"].read_text())["runs"][0]
        rogue = next(
            r
            for r in run["results"]
            if r["ruleId"] == "CONN-001" and r["properties"]["resource"] == "connector:Relay-Backup"
        )
        assert rogue["level"] == "error"
        assert rogue["properties"]["security-severity"] == "9.5"


class TestJunit:
    def test_parses_with_a_case_per_resource(self, reports):
        root = ET.fromstring(reports["junit"].read_text())
        assert root.tag == "testsuites"
        assert int(root.get("failures")) == failing_count()
        assert int(root.get("skipped")) == 1
        suites = {s.get("name").split()[0]: s for s in root.findall("testsuite")}
        assert sorted(suites) == sorted(DEMO_FINDINGS)
        conn = suites["CONN-001"]
        failed = {c.get("name") for c in conn.findall("testcase") if c.find("failure") is not None}
        assert failed == set(DEMO_FINDINGS["CONN-001"])
        errors = [
            c for s in suites.values() for c in s.findall("testcase") if c.find("error") is not None
        ]
        assert [c.get("name") for c in errors] == ["ip:192.0.2.45"]


class TestMarkdown:
    def test_failing_checks_come_first_with_remediation(self, reports):
        text = reports["markdown"].read_text()
        assert text.startswith("## m365-mail-auditor: INCOMPLETE for Tailspin Toys (demo)")
        first = text.index("### FAIL")
        assert "**Remediation.**" in text[first:]
        assert "| `connector:Relay-Backup` | fail | critical |" in text

    def test_stays_well_under_githubs_one_mebibyte_limit(self):
        def many(ctx):
            return [
                Result(f"mailbox:user{i}@example.com", Status.FAIL, "x" * 300) for i in range(5000)
            ]

        checks = {
            f"BIG-{n:03d}": Check(
                CheckSpec(
                    f"BIG-{n:03d}",
                    "big",
                    "Big",
                    Severity.HIGH,
                    ("exchange.blockedSenders",),
                    (),
                    "Fix.",
                ),
                many,
            )
            for n in range(40)
        }
        snapshot = make_snapshot({"exchange.blockedSenders": []})
        result = audit(snapshot, make_baseline(), checks, datetime.now(UTC))
        text = markdown.render(result)
        assert len(text.encode()) < 300_000
        assert "more failing checks are in the JSON report" in text
        assert "4975 more in the JSON report" in text


def test_only_one_format_may_go_to_stdout():
    done = cli("run", "--demo", "--format", "json", "--format", "sarif")
    assert done.returncode == 2
    assert "only one format can go to stdout" in done.stderr
