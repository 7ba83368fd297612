"""The engine: source errors, check crashes, waivers, overrides, exit codes."""

from datetime import UTC, datetime

import pytest

from auditor.judge.context import CheckContext
from auditor.judge.engine import audit, run_check
from auditor.judge.model import AuditStatus, CheckSpec, Result, Severity, Status, WaiverState
from auditor.judge.registry import Check, discover
from tests.helpers import failed, inbound, make_baseline, make_snapshot, ok

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def spec(requires=("exchange.inboundConnectors",), severity=Severity.HIGH):
    return CheckSpec("TST-001", "test", "Test check", severity, tuple(requires), (), "Fix it.")


def fake(results_or_exc, requires=("exchange.inboundConnectors",)):
    def run(ctx: CheckContext):
        if isinstance(results_or_exc, Exception):
            raise results_or_exc
        return list(results_or_exc)

    return Check(spec(requires), run)


def connectors_snapshot():
    return make_snapshot({"exchange.inboundConnectors": [inbound("A")]})


class TestSources:
    def test_missing_source_makes_the_check_error_never_pass(self):
        outcome = run_check(fake([]), make_snapshot({}), make_baseline())
        assert outcome.status is Status.ERROR
        assert outcome.reason == "source exchange.inboundConnectors is not in the snapshot"

    def test_errored_source_reason_is_carried(self):
        snapshot = make_snapshot(
            {"exchange.inboundConnectors": failed("403: grant Exchange.ManageAsApp")}, wrap=False
        )
        outcome = run_check(discover()["CONN-002"], snapshot, make_baseline())
        assert outcome.status is Status.ERROR
        assert "403: grant Exchange.ManageAsApp" in outcome.reason
        assert outcome.results == ()

    def test_one_failed_source_fails_only_the_checks_that_need_it(self):
        snapshot = make_snapshot(
            {
                "exchange.inboundConnectors": ok([inbound("A")]),
                "graph.domains": failed("401 Unauthorized"),
            },
            wrap=False,
        )
        result = audit(snapshot, make_baseline(), discover(), NOW)
        by_id = {o.spec.id: o.status for o in result.outcomes}
        assert by_id["CONN-002"] is Status.PASS
        assert by_id["DOM-002"] is Status.ERROR

    def test_reading_an_undeclared_source_is_an_error(self):
        def sneaky(ctx):
            ctx.source("graph.domains")
            return []

        outcome = run_check(Check(spec(), sneaky), connectors_snapshot(), make_baseline())
        assert outcome.status is Status.ERROR
        assert "UndeclaredSourceError" in outcome.reason

    def test_check_data_is_read_only(self):
        def mutate(ctx):
            ctx.source("exchange.inboundConnectors")[0]["Enabled"] = False
            return []

        outcome = run_check(Check(spec(), mutate), connectors_snapshot(), make_baseline())
        assert outcome.status is Status.ERROR


class TestCheckFaults:
    def test_exception_in_a_check_is_an_error_with_one_line(self):
        outcome = run_check(fake(KeyError("Name\nmore")), connectors_snapshot(), make_baseline())
        assert outcome.status is Status.ERROR
        assert outcome.reason.startswith("the check could not judge this data: KeyError")
        assert "\n" not in outcome.reason

    def test_duplicate_resources_are_refused(self):
        results = [Result("x", Status.PASS, "a"), Result("x", Status.FAIL, "b")]
        outcome = run_check(fake(results), connectors_snapshot(), make_baseline())
        assert outcome.status is Status.ERROR
        assert "twice" in outcome.reason

    def test_a_check_cannot_waive_itself(self):
        outcome = run_check(
            fake([Result("x", Status.WAIVED, "a")]), connectors_snapshot(), make_baseline()
        )
        assert outcome.status is Status.ERROR

    @pytest.mark.parametrize(
        ("statuses", "expected"),
        [
            ([Status.PASS, Status.PASS], Status.PASS),
            ([Status.PASS, Status.ERROR], Status.ERROR),
            ([Status.ERROR, Status.FAIL], Status.FAIL),
            ([], Status.PASS),
        ],
    )
    def test_check_status_from_results(self, statuses, expected):
        results = [Result(f"r{i}", s, "m") for i, s in enumerate(statuses)]
        assert run_check(fake(results), connectors_snapshot(), make_baseline()).status is expected

    def test_results_are_sorted_by_resource(self):
        results = [Result("b", Status.PASS, "m"), Result("a", Status.PASS, "m")]
        outcome = run_check(fake(results), connectors_snapshot(), make_baseline())
        assert [r.resource for r in outcome.results] == ["a", "b"]


def rogue_audit(**baseline):
    snapshot = make_snapshot(
        {"exchange.inboundConnectors": [inbound("Rogue", SenderIPAddresses=["198.51.100.0/24"])]}
    )
    return audit(snapshot, make_baseline(**baseline), discover(), NOW, selected=["CONN-002"])


def waiver(expires, resource="connector:Rogue"):
    return {"check": "CONN-002", "resource": resource, "reason": "Change CHG-1", "expires": expires}


class TestWaivers:
    def test_active_waiver_waives_and_counts_as_passing(self):
        result = rogue_audit(waivers=[waiver("2026-11-25")])  # the last day still applies
        outcome = result.outcomes[0]
        assert outcome.status is Status.WAIVED
        assert outcome.results[0].waiver.reason == "Change CHG-1"
        assert result.waivers[0].state is WaiverState.ACTIVE
        assert result.exit_code(Severity.LOW) == 0

    def test_expired_waiver_stops_waiving_and_is_reported(self):
        result = rogue_audit(waivers=[waiver("2026-11-24")])
        outcome = result.outcomes[0]
        assert outcome.status is Status.FAIL
        assert "waiver expired 2026-11-24" in outcome.results[0].message
        assert result.waivers[0].state is WaiverState.EXPIRED
        assert result.exit_code(Severity.LOW) == 1

    def test_waiver_matching_nothing_is_unused(self):
        result = rogue_audit(waivers=[waiver("2030-01-01", "connector:Other")])
        assert result.outcomes[0].status is Status.FAIL
        assert result.waivers[0].state is WaiverState.UNUSED


class TestSettingsAndExitCodes:
    def test_baseline_severity_override_replaces_result_escalations(self):
        snapshot = make_snapshot({"exchange.inboundConnectors": [inbound("Rogue")]})
        baseline = make_baseline(checks={"CONN-001": {"severity": "low"}})
        outcome = run_check(discover()["CONN-001"], snapshot, baseline)
        assert outcome.severity is Severity.LOW
        assert outcome.result_severity(outcome.results[0]) is Severity.LOW

    def test_disabled_check_does_not_run_unless_selected(self):
        snapshot = make_snapshot({"exchange.inboundConnectors": []})
        baseline = make_baseline(checks={"CONN-002": {"enabled": False}})
        result = audit(snapshot, baseline, discover(), NOW)
        assert "CONN-002" in result.disabled_checks
        assert "CONN-002" not in {o.spec.id for o in result.outcomes}
        chosen = audit(snapshot, baseline, discover(), NOW, selected=["CONN-002"])
        assert [o.spec.id for o in chosen.outcomes] == ["CONN-002"]

    def test_fail_on_ignores_failures_below_it(self):
        result = rogue_audit()
        assert result.exit_code(Severity.HIGH) == 1
        assert result.exit_code(Severity.CRITICAL) == 0

    def test_nothing_judged_is_error_and_gives_2(self):
        snapshot = make_snapshot({})
        result = audit(snapshot, make_baseline(), discover(), NOW, selected=["CONN-002"])
        assert result.status is AuditStatus.ERROR
        assert result.exit_code(Severity.LOW) == 2

    def test_no_check_at_all_is_error_not_pass(self):
        snapshot = make_snapshot({})
        every = {cid: {"enabled": False} for cid in discover()}
        result = audit(snapshot, make_baseline(checks=every), discover(), NOW)
        assert result.outcomes == ()
        assert result.status is AuditStatus.ERROR
        assert result.exit_code(Severity.LOW) == 2

    def test_findings_beside_a_check_that_could_not_judge_are_incomplete_not_fail(self):
        snapshot = make_snapshot(
            {"exchange.inboundConnectors": [inbound("Rogue", SenderIPAddresses=["10.0.0.0/8"])]}
        )
        result = audit(snapshot, make_baseline(), discover(), NOW, selected=["CONN-002", "OUT-002"])
        assert [o.status for o in result.outcomes] == [Status.FAIL, Status.ERROR]
        assert result.status is AuditStatus.INCOMPLETE
        assert result.unjudged == 1
        # The failure is in the report; the exit code says the audit cannot be trusted whole.
        assert result.exit_code(Severity.LOW) == 2
        assert result.exit_code(Severity.CRITICAL) == 2

    def test_result_level_error_gives_2(self):
        snapshot = make_snapshot(
            {"exchange.inboundConnectors": [inbound("Bad", SenderIPAddresses=["nope"])]}
        )
        result = audit(snapshot, make_baseline(), discover(), NOW, selected=["CONN-002"])
        assert result.status is AuditStatus.ERROR  # its only resource could not be judged
        assert result.exit_code(Severity.LOW) == 2

    def test_a_resource_not_judged_beside_passes_is_incomplete(self):
        snapshot = make_snapshot(
            {
                "exchange.inboundConnectors": [
                    inbound("Bad", SenderIPAddresses=["nope"]),
                    inbound("Fine"),
                ]
            }
        )
        result = audit(snapshot, make_baseline(), discover(), NOW, selected=["CONN-002"])
        assert result.status is AuditStatus.INCOMPLETE
        assert result.unjudged == 1

    def test_all_pass_gives_0(self):
        snapshot = make_snapshot({"exchange.inboundConnectors": [inbound("Fine")]})
        result = audit(snapshot, make_baseline(), discover(), NOW, selected=["CONN-002"])
        assert result.status is AuditStatus.PASS
        assert result.exit_code(Severity.LOW) == 0


def cause(kind, summary, fix="", source=""):
    return {
        "kind": kind,
        "summary": summary,
        **({"fix": fix} if fix else {}),
        **({"source": source} if source else {}),
    }


def error_source(name, summary, **kind):
    return {
        "status": "error",
        "collectedAt": "2026-11-20T06:00:00Z",
        "error": f"{name}: {summary}",
        "cause": cause(summary=summary, **kind),
    }


ROLE = "assign the Entra role Global Reader to the app's service principal"


class TestRootCauses:
    def snapshot(self):
        nul = "Exchange Online refused access: HTTP 403 a body of 12 NUL bytes, not JSON"
        sources = {
            name: error_source(name, nul, kind="permission", fix=ROLE)
            for name in (
                "exchange.acceptedDomains",
                "exchange.inboundConnectors",
                "exchange.outboundConnectors",
                "exchange.blockedSenders",
            )
        }
        sources["dns.records"] = error_source(
            "dns.records",
            "not collected: exchange.acceptedDomains failed",
            kind="dependency",
            source="exchange.acceptedDomains",
        )
        sources["graph.domains"] = error_source(
            "graph.domains",
            "HTTP 503 after 4 attempts",
            kind="service",
        )
        return make_snapshot(sources, wrap=False)

    def test_one_missing_role_is_one_cause_listing_sources_and_checks(self):
        chosen = ["AUTH-001", "CONN-001", "CONN-003", "OUT-002", "DOM-002"]
        result = audit(self.snapshot(), make_baseline(), discover(), NOW, selected=chosen)
        assert result.status is AuditStatus.ERROR
        role, service = result.causes
        assert role.fix == ROLE
        assert role.sources == (
            "dns.records",
            "exchange.acceptedDomains",
            "exchange.blockedSenders",
            "exchange.inboundConnectors",
            "exchange.outboundConnectors",
        )
        assert role.checks == ("AUTH-001", "CONN-001", "CONN-003", "DOM-002", "OUT-002")
        assert service.summary == "HTTP 503 after 4 attempts" and service.fix == ""
        assert service.checks == ("DOM-002",)

    def test_an_errored_check_carries_the_fix_of_its_error_not_its_remediation(self):
        result = audit(self.snapshot(), make_baseline(), discover(), NOW, selected=["AUTH-001"])
        (outcome,) = result.outcomes
        assert outcome.fix == ROLE
        assert outcome.blocked_by == (
            "exchange.acceptedDomains",
            "exchange.outboundConnectors",
            "dns.records",
        )

    def test_a_check_that_raised_is_fixed_in_the_check(self):
        def broken(ctx):
            raise KeyError("x")

        spec = CheckSpec(
            "TST-001", "t", "T", Severity.LOW, ("exchange.inboundConnectors",), (), "R"
        )
        snapshot = make_snapshot({"exchange.inboundConnectors": []})
        outcome = run_check(Check(spec, broken), snapshot, make_baseline())
        assert "a bug in the check" in outcome.fix
        assert outcome.blocked_by == ()

    def test_causes_are_read_from_the_error_text_of_older_snapshots(self):
        snapshot = make_snapshot(
            {
                "exchange.acceptedDomains": failed("exchange.acceptedDomains: HTTP 403"),
                "dns.records": failed(
                    "dns.records: not collected: exchange.acceptedDomains failed"
                ),
            },
            wrap=False,
        )
        result = audit(snapshot, make_baseline(), discover(), NOW, selected=["AUTH-003"])
        (only,) = result.causes
        assert only.summary == "HTTP 403"
        assert only.sources == ("dns.records", "exchange.acceptedDomains")


class TestWaiverAdvice:
    def test_a_waiver_of_a_check_that_did_not_run_is_unjudged_not_unused(self):
        snapshot = make_snapshot({"exchange.inboundConnectors": [inbound("Fine")]})
        baseline = make_baseline(
            waivers=[{**waiver("2030-01-01"), "check": "OUT-002", "resource": "user:x@y.z"}]
        )
        result = audit(snapshot, baseline, discover(), NOW, selected=["CONN-002"])
        assert result.waivers[0].state is WaiverState.UNJUDGED

    def test_a_waiver_of_a_check_in_error_is_unjudged_even_when_expired(self):
        result = audit(
            make_snapshot({}),
            make_baseline(waivers=[waiver("2020-01-01")]),
            discover(),
            NOW,
            selected=["CONN-002"],
        )
        assert result.waivers[0].state is WaiverState.UNJUDGED

    def test_a_waiver_of_a_resource_the_check_could_not_judge_is_unjudged(self):
        snapshot = make_snapshot(
            {"exchange.inboundConnectors": [inbound("Rogue", SenderIPAddresses=["nope"])]}
        )
        baseline = make_baseline(waivers=[waiver("2030-01-01")])
        result = audit(snapshot, baseline, discover(), NOW, selected=["CONN-002"])
        assert result.outcomes[0].results[0].status is Status.ERROR
        assert result.waivers[0].state is WaiverState.UNJUDGED


class TestStaleSnapshot:
    def test_a_snapshot_older_than_the_threshold_is_named(self):
        from datetime import timedelta

        snapshot = make_snapshot({"exchange.inboundConnectors": [inbound("Fine")]})
        later = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 11 days after collection
        result = audit(
            snapshot,
            make_baseline(),
            discover(),
            later,
            selected=["CONN-002"],
            stale_after=timedelta(days=7),
        )
        (warning,) = result.warnings
        assert "collected 2026-11-20T06:00:00Z, 11.0 days before this audit" in warning
        fresh = audit(
            snapshot,
            make_baseline(),
            discover(),
            later,
            selected=["CONN-002"],
            stale_after=timedelta(days=14),
        )
        assert fresh.warnings == ()


def test_no_built_in_check_changes_the_data_it_reads():
    """The project's checks read the snapshot as parsed, without a read-only copy (it cost more
    than the judging): this is what holds them to the contract. Every check runs on the demo
    snapshot, and its data must come out unchanged."""
    import copy

    from auditor import demo, snapshot
    from auditor.judge import baseline as baseline_mod

    loaded = snapshot.load(demo.SNAPSHOT)
    before = {name: copy.deepcopy(record.data) for name, record in loaded.sources.items()}
    checks = discover()
    assert all(c.spec.module.startswith("checks.") for c in checks.values())
    audit(loaded, baseline_mod.load(demo.BASELINE), checks, NOW)
    for name, record in loaded.sources.items():
        assert record.data == before[name], f"a check changed {name}"
