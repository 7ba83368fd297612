"""The fault matrix in the test suite: every cell run, and the table's promises checked."""

from __future__ import annotations

import json

import pytest

from auditor.collect.catalogue import CATALOGUE
from tests.fault_matrix import matrix


@pytest.fixture(scope="module")
def result() -> matrix.Matrix:
    return matrix.run(workers=3)


@pytest.mark.timeout(900)
def test_no_cell_has_a_false_pass_a_hang_or_a_traceback(result):
    """Every cell fired its fault and ended as it must (docstring of matrix.py); the table
    is printed so that a CI log shows the figure."""
    print("\n" + matrix.table(result))
    assert matrix.problems(result) == []
    assert len(result.cells) >= 500  # the matrix has not shrunk unnoticed


def test_every_source_of_every_check_is_somewhere_in_the_matrix():
    by_source = matrix.checks_by_source()
    covered = {s for sources in matrix.ROUTES.values() for s in sources}
    assert set(by_source) - {"graph.organization"} <= covered
    assert covered <= set(CATALOGUE)


EXPECTED = {"CONN-001": ("fail", {"connector:a": "fail", "connector:b": "pass"})}


def cell(persistent: bool) -> matrix.Cell:
    return matrix.Cell("exchange:Get-InboundConnector", "k", persistent, ("CONN-001",))


def report(status: str, results: dict[str, str]) -> str:
    rows = [{"resource": r, "status": s} for r, s in results.items()]
    return json.dumps({"checks": [{"id": "CONN-001", "status": status, "results": rows}]})


@pytest.mark.parametrize(
    ("persistent", "status", "results", "outcome"),
    [
        (True, "error", {}, "ok"),
        (True, "fail", {"connector:a": "fail", "connector:b": "error"}, "ok"),
        (True, "pass", {"connector:b": "pass"}, "false-pass"),
        (True, "fail", {"connector:a": "pass", "connector:b": "error"}, "false-pass"),
        (True, "fail", {"connector:a": "fail"}, "not-error"),
        (False, "fail", {"connector:a": "fail", "connector:b": "pass"}, "ok"),
        (False, "error", {}, "not-recovered"),
        (False, "pass", {"connector:a": "pass", "connector:b": "pass"}, "false-pass"),
        (False, "fail", {"connector:a": "fail"}, "wrong"),
    ],
)
def test_each_outcome_is_told_apart(persistent, status, results, outcome):
    """The judge of a cell can fail: each rule, one case."""
    cells = [cell(persistent)]
    matrix.judge_cells(cells, 1, report(status, results), "", EXPECTED)
    assert cells[0].outcome == outcome


def test_a_traceback_or_a_hang_is_named():
    cells = [cell(True)]
    matrix.judge_cells(cells, 1, "", "Traceback (most recent call last):\n  boom\n", EXPECTED)
    assert cells[0].outcome == "traceback"
    cells = [cell(True)]
    matrix.judge_cells(cells, None, "", "", EXPECTED)
    assert cells[0].outcome == "hang"
