"""Renderers on outcomes the demo does not have: errors, waivers, disabled checks."""

import json
from datetime import UTC, datetime

from auditor.common import jsonio
from auditor.judge.engine import audit
from auditor.judge.registry import discover
from auditor.reports import RENDERERS
from auditor.reports.json_report import SCHEMA_PATH
from tests.helpers import failed, inbound, make_baseline, make_snapshot, ok

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SCHEMA = jsonio.load_schema(SCHEMA_PATH)


def mixed_audit():
    snapshot = make_snapshot(
        {
            "exchange.inboundConnectors": ok(
                [inbound("Rogue", SenderIPAddresses=["198.51.100.0/24"]), inbound("Fine")]
            ),
            "graph.domains": failed("403 Forbidden: grant Domain.Read.All"),
        },
        wrap=False,
    )
    baseline = make_baseline(
        checks={"ADM-001": {"enabled": False}},
        waivers=[
            {
                "check": "CONN-002",
                "resource": "connector:Rogue",
                "reason": "CHG-7",
                "expires": "2030-01-01",
            },
            {
                "check": "CONN-001",
                "resource": "connector:Gone",
                "reason": "old",
                "expires": "2020-01-01",
            },
        ],
    )
    # The checks this test was written for; others would only add more errors.
    chosen = ("ADM-001", "CONN-001", "CONN-002", "DOM-001", "DOM-002")
    checks = {k: v for k, v in discover().items() if k in chosen}
    return audit(snapshot, baseline, checks, NOW)


def test_json_report_with_errors_waivers_and_disabled_checks_validates():
    document = json.loads(RENDERERS["json"](mixed_audit()))
    jsonio.validate(SCHEMA, document, "report")
    checks = {c["id"]: c for c in document["checks"]}
    assert checks["DOM-002"]["status"] == "error"
    assert checks["DOM-002"]["reason"] == (
        "source exchange.acceptedDomains is not in the snapshot; "
        "source graph.domains: 403 Forbidden: grant Domain.Read.All"
    )
    assert checks["CONN-002"]["status"] == "waived"
    rogue = next(r for r in checks["CONN-002"]["results"] if r["resource"] == "connector:Rogue")
    assert rogue["waiver"] == {"reason": "CHG-7", "expires": "2030-01-01"}
    assert document["disabledChecks"] == ["ADM-001"]
    assert [w["state"] for w in document["waivers"]] == ["expired", "active"]
    assert document["summary"]["checks"] == {
        "total": 4,
        "pass": 0,
        "fail": 1,
        "error": 2,
        "waived": 1,
    }


def test_ndjson_keeps_a_line_for_a_check_that_could_not_run():
    lines = [json.loads(x) for x in RENDERERS["ndjson"](mixed_audit()).splitlines()]
    errored = [x for x in lines if x["checkId"] == "DOM-002"]
    assert errored == [errored[0]]
    assert errored[0]["resource"] is None
    assert errored[0]["status"] == "error"
    assert "403 Forbidden" in errored[0]["message"]


def test_table_shows_why_a_check_could_not_run_and_waivers_to_review():
    text = " ".join(RENDERERS["table"](mixed_audit()).split())
    # Each cause once, numbered; the check points at it and says how to fix the error.
    assert (
        "[1] not in the snapshot (3 sources: exchange.acceptedDomains, exchange.messageTrace, "
        "graph.users; blocks 2 checks: DOM-001, DOM-002)"
    ) in text
    assert "Fix: collect it: `m365-audit collect` without --check reads every source" in text
    assert "[2] 403 Forbidden: grant Domain.Read.All (1 source: graph.domains;" in text
    assert (
        "could not run: exchange.acceptedDomains, graph.domains not collected "
        "(causes [1], [2] above) To fix the error: collect it"
    ) in text
    # An errored check's remediation is not shown: it judged nothing to remedy.
    assert text.count("Remediation:") == 1  # CONN-001's only
    assert "CONN-001 connector:Gone: expired on 2020-01-01" in text
    assert "Disabled by the baseline: ADM-001" in text
    assert "Summary: INCOMPLETE (2 not judged): 4 checks: 0 passed, 1 failed, 2 errored" in text
