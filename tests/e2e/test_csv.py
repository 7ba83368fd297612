"""CSV and the action plan from the CLI, read back with Python's csv module; the waivers
Markdown and HTML now carry."""

from __future__ import annotations

import csv
import io
import json

from auditor.judge.model import Severity
from auditor.reports.csv_report import _cell
from tests.e2e.test_cli import cli


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_one_row_per_result():
    report = json.loads(cli("run", "--demo", "--format", "json").stdout)
    table = rows(cli("run", "--demo", "--format", "csv").stdout)
    assert len(table) == report["summary"]["results"]["total"]
    relay = [r for r in table if r["resource"] == "connector:Relay-Backup"]
    assert {(r["check"], r["status"], r["severity"]) for r in relay} >= {
        ("CONN-001", "fail", "critical")
    }
    waived = next(r for r in table if r["status"] == "waived")
    assert waived["waiver"].startswith("Printer fleet moves to SMTP AUTH")


def test_the_action_plan_lists_what_to_do_worst_first_with_columns_to_fill():
    plan = rows(cli("run", "--demo", "--format", "action-plan").stdout)
    report = json.loads(cli("run", "--demo", "--format", "json").stdout)
    open_items = report["summary"]["results"]["fail"] + report["summary"]["results"]["error"]
    assert len(plan) == open_items
    ranks = [list(Severity).index(Severity(r["severity"])) for r in plan]
    assert ranks == sorted(ranks, reverse=True)
    assert [int(r["priority"]) for r in plan] == list(range(1, len(plan) + 1))
    assert {r["owner"] + r["due date"] + r["done"] for r in plan} == {""}
    refused = next(r for r in plan if r["status"] == "error")
    assert refused["resource"] == "ip:192.0.2.45"
    assert all(r["next action"] for r in plan)


def test_a_cell_a_spreadsheet_would_run_is_defused():
    assert _cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert _cell("-1") == "'-1" and _cell("@SUM(A1)") == "'@SUM(A1)"
    assert _cell("plain") == "plain" and _cell(None) == ""


def test_markdown_and_html_carry_the_waivers():
    markdown = cli("run", "--demo", "--format", "markdown").stdout
    assert "### Waivers to review" in markdown
    assert "`DOM-002` `domain:tailspin-events.com`: expired on 2026-06-30" in markdown
    assert "1 waiver in force" in markdown
    html = cli("run", "--demo", "--format", "html").stdout
    assert "<h2>Waivers</h2>" in html
    assert "connector:Scanner Relay</code> waived until 2030-06-30" in html
