"""Fix first: one entry per failing resource, every finding about it across checks, worst
first; the demo's rogue connector leads, as an admin would want."""

from __future__ import annotations

from datetime import UTC, datetime

from auditor import demo, snapshot
from auditor.judge import baseline as baseline_mod
from auditor.judge import engine
from auditor.judge.model import (
    AuditResult,
    CheckOutcome,
    CheckSpec,
    Result,
    Severity,
    Status,
)
from auditor.judge.registry import discover
from auditor.reports import RENDERERS
from auditor.reports.fix_first import items
from auditor.snapshot import Tenant


def demo_audit() -> AuditResult:
    return engine.audit(
        snapshot.load(demo.SNAPSHOT),
        baseline_mod.load(demo.BASELINE),
        discover(),
        datetime(2026, 11, 26, tzinfo=UTC),
    )


def test_the_rogue_connector_leads_with_everything_found_about_it():
    first = items(demo_audit())[0]
    assert first.resource == "connector:Relay-Backup"
    assert first.severity is Severity.CRITICAL
    assert [f.check for f in first.findings] == [
        "CONN-001",
        "CONN-002",
        "DOM-001",
        "DOM-001 (domain:wingtip-promo.net)",
        "IP-001 (ip:198.51.100.77)",
    ]
    assert first.action.startswith("An inbound connector nobody approved")


def test_each_format_for_people_shows_it_at_the_top():
    audit = demo_audit()
    table = RENDERERS["table"](audit)
    assert table.index("Fix first") < table.index("\ncheck ")
    assert "1. connector:Relay-Backup [critical]" in table
    markdown = RENDERERS["markdown"](audit)
    assert markdown.index("### Fix first") < markdown.index("### FAIL")
    assert "| 1 | `connector:Relay-Backup` | critical |" in markdown
    assert "<h2>Fix first</h2>" in RENDERERS["html"](audit)


def spec(cid: str, severity: Severity = Severity.HIGH) -> CheckSpec:
    return CheckSpec(cid, "x", "X", severity, ("exchange.inboundConnectors",), (), "Do it. Then.")


def audit_of(*outcomes: CheckOutcome) -> AuditResult:
    return AuditResult(
        "t",
        Tenant("t"),
        "2026-11-20T00:00:00Z",
        "2026-11-20T00:00:00Z",
        "s",
        "0" * 64,
        "b",
        "0" * 64,
        outcomes,
        (),
        (),
    )


def test_one_related_finding_stays_with_its_own_resource():
    outcome = CheckOutcome(
        spec("IP-001"),
        Severity.HIGH,
        Status.FAIL,
        (Result("ip:1.2.3.4", Status.FAIL, "listed", related=("connector:Quiet",)),),
    )
    assert [i.resource for i in items(audit_of(outcome))] == ["ip:1.2.3.4"]


def test_passes_and_waived_results_are_not_things_to_fix_and_order_is_by_worst():
    low = CheckOutcome(
        spec("AAA-001", Severity.LOW),
        Severity.LOW,
        Status.FAIL,
        (
            Result("domain:a", Status.FAIL, "bad"),
            Result("domain:b", Status.PASS, "fine"),
            Result("domain:c", Status.WAIVED, "known"),
        ),
    )
    high = CheckOutcome(
        spec("ZZZ-001"), Severity.HIGH, Status.FAIL, (Result("domain:z", Status.FAIL, "worse"),)
    )
    found = items(audit_of(low, high))
    assert [i.resource for i in found] == ["domain:z", "domain:a"]
    assert found[0].action == "Do it."


def test_checks_are_ordered_by_their_worst_finding_in_every_format_for_people():
    from auditor.reports.ordering import ordered, worst

    plain = CheckOutcome(
        spec("AAA-001"), Severity.HIGH, Status.FAIL, (Result("x:1", Status.FAIL, "m"),)
    )
    escalated = CheckOutcome(
        spec("ZZZ-001"),
        Severity.HIGH,
        Status.FAIL,
        (Result("x:2", Status.FAIL, "m", severity=Severity.CRITICAL),),
    )
    passing = CheckOutcome(spec("BBB-001"), Severity.HIGH, Status.PASS, ())
    assert [o.spec.id for o in ordered([plain, passing, escalated])] == [
        "ZZZ-001",
        "AAA-001",
        "BBB-001",
    ]
    assert worst(escalated) is Severity.CRITICAL and worst(passing) is Severity.HIGH
    table = RENDERERS["table"](audit_of(plain, passing, escalated))
    overview = table.split("\ncheck ", 1)[1]
    assert overview.index("ZZZ-001  FAIL    critical") < overview.index("AAA-001")


def test_passing_checks_are_counted_in_the_table_and_listed_only_when_asked():
    from auditor.reports import table
    from auditor.reports.terminal import Only, View

    failing = CheckOutcome(
        spec("AAA-001"), Severity.HIGH, Status.FAIL, (Result("x:1", Status.FAIL, "m"),)
    )
    passing = CheckOutcome(
        spec("BBB-001"), Severity.HIGH, Status.PASS, (Result("x:2", Status.PASS, "ok"),)
    )
    short = table.render(audit_of(failing, passing))
    assert "1 check passed (not listed; --only all lists them)" in short
    assert "BBB-001" not in short
    full = table.render(audit_of(failing, passing), View(only=Only.ALL))
    assert "BBB-001" in full and "- x:2 (PASS high): ok" in full
    assert "checks passed" not in full and "check passed" not in full


def test_the_view_keeps_a_readable_width():
    from auditor.reports.terminal import View

    assert (
        View(width=20).width == 60 and View(width=400).width == 160 and View(width=80).width == 80
    )


def test_html_colours_by_status_so_a_pass_is_never_red():
    import re

    from auditor.reports.html import _COLOURS

    html = RENDERERS["html"](demo_audit())
    rows = re.findall(r'<tr class="result (\w+)"[^>]*>(.*?)</tr>', html, re.S)
    assert {status for status, _ in rows} >= {"pass", "fail", "error", "waived"}
    reds = (_COLOURS["critical"], _COLOURS["high"])
    for status, row in rows:
        red = any(colour in row for colour in reds)
        if status in ("pass", "waived"):
            assert not red, row[:200]  # green (or amber) badge, grey severity
        if status == "fail":
            assert red
    assert any(status == "pass" and "#2e7d32" in row for status, row in rows)
    # Each check links Microsoft's page for its NDRs and the page on how to fix it; areas in
    # words.
    section = html.split('data-check="CONN-001"', 1)[1].split("</section>", 1)[0]
    assert "fix-error-code-5-7-700-through-5-7-750" in section and "How to fix it" in section
    assert 'data-area="Connectors"' in html and '<option value="Admins and MFA">' in html


def test_every_check_has_an_area_and_a_page_on_how_to_fix_it():
    from auditor.reports import links

    for check_id in discover():
        assert check_id.split("-")[0] in links.AREAS, check_id
        assert (links.remediation(check_id) or "").startswith("https://learn.microsoft.com/")
    assert links.ndr_page("5.7.705") == links.ndr_page("5.7.750")
    assert links.ndr_page("5.7.999") == links.NDR_OVERVIEW
    assert links.ndr_pages(("5.7.705", "5.1.8", "5.7.750"))[0][0] == "5.7.705, 5.7.750"
