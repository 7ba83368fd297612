"""The engine: source errors, check crashes, waivers, overrides, exit codes."""

from datetime import UTC, datetime

import pytest

from auditor.judge.context import CheckContext
from auditor.judge.engine import audit, run_check
from auditor.judge.model import CheckSpec, Result, Severity, Status, WaiverState
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

    def test_error_gives_2_unless_something_failed(self):
        snapshot = make_snapshot({})
        result = audit(snapshot, make_baseline(), discover(), NOW, selected=["CONN-002"])
        assert result.exit_code(Severity.LOW) == 2

    def test_result_level_error_gives_2(self):
        snapshot = make_snapshot(
            {"exchange.inboundConnectors": [inbound("Bad", SenderIPAddresses=["nope"])]}
        )
        result = audit(snapshot, make_baseline(), discover(), NOW, selected=["CONN-002"])
        assert result.exit_code(Severity.LOW) == 2

    def test_all_pass_gives_0(self):
        snapshot = make_snapshot({"exchange.inboundConnectors": [inbound("Fine")]})
        result = audit(snapshot, make_baseline(), discover(), NOW, selected=["CONN-002"])
        assert result.status is Status.PASS
        assert result.exit_code(Severity.LOW) == 0
