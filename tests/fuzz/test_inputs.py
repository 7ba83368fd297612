"""Fuzzing every input the tool reads from a file or a service's text: the snapshot, the
baseline (waivers included), a report for `diff`/`--previous`, the fleet file, the SPF and
DMARC records, NDR text for `explain`, connector address entries. Each case starts from a
valid document and damages it (a value replaced by any JSON, a key removed, a list emptied,
the bytes cut or changed). What may come out: a result, or the tool's own one-line error
naming the file (`AuditInputError`). Anything else (a KeyError, a TypeError, a
RecursionError, a check that cannot judge schema-valid data) is a defect."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from auditor import demo
from auditor.commands import diff, explain, fleet
from auditor.common.errors import AuditInputError
from auditor.judge import baseline as baseline_mod
from auditor.judge import engine
from auditor.judge.registry import discover
from auditor.mail import dmarc, spf
from auditor.reports import json_report
from auditor.snapshot import read
from checks._mail import normalise_ip_entry, parse_ip_entry

DEMO = Path(demo.__file__).parent
SNAPSHOT = json.loads((DEMO / "snapshot.json").read_text())
BASELINE = json.loads((DEMO / "baseline.json").read_text())
CHECKS = discover()


def _report() -> dict[str, Any]:
    snapshot = read.load(DEMO / "snapshot.json")
    result = engine.audit(
        snapshot,
        baseline_mod.load(DEMO / "baseline.json"),
        CHECKS,
        datetime(2026, 11, 26, tzinfo=UTC),
    )
    return json.loads(json_report.render(result))


REPORT = _report()
FLEET = {
    "tenants": [
        {
            "name": "alpha",
            "tenant": "contoso.onmicrosoft.com",
            "clientId": "00000000-0000-0000-0000-000000000001",
            "credential": {"type": "secretEnv", "env": "ALPHA_SECRET"},
        }
    ]
}

ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, here: tuple = (), limit: int = 4000) -> list[tuple]:
    found = [here]
    stack = [(node, here)]
    while stack and len(found) < limit:
        value, path = stack.pop()
        items = (
            value.items()
            if isinstance(value, dict)
            else enumerate(value)
            if isinstance(value, list)
            else ()
        )
        for key, child in items:
            found.append((*path, key))
            stack.append((child, (*path, key)))
    return found


def _set(document: Any, path: tuple, value: Any, delete: bool = False) -> Any:
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


def _get(document: Any, path: tuple) -> Any:
    for key in path:
        document = document[key]
    return document


def _like(draw: st.DrawFn, value: Any) -> Any:
    """Another value of the same JSON type: what a schema lets through, and a check meets."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return draw(st.sampled_from([0, -1, 1, 2**31, -(2**63), 10**30]))
    if isinstance(value, float):
        return draw(st.sampled_from([0.0, -1.5, 1e308, 5e-324]))
    if isinstance(value, str):
        return draw(
            st.sampled_from(
                ["", " ", "*", "0.0.0.0/0", "::/0", "a@b", "@", "x" * 300, "é\u202e", "None"]
            )
            | st.text(max_size=12)
        )
    if isinstance(value, list):
        return draw(st.sampled_from([[], value[:1], value + value[:1], value[::-1]]))
    if isinstance(value, dict):
        return draw(st.sampled_from([{}, value]))
    return value


@st.composite
def damaged(draw: st.DrawFn, seed: Any, gentle: bool = False) -> bytes:
    """`seed` damaged. `gentle`: mostly values swapped for others of their own type, so
    that much of it still fits the schema and reaches the checks."""
    document = copy.deepcopy(seed)
    actions = (
        ["like"] * 6 + ["delete"] if gentle else ["replace", "delete", "empty", "type", "like"]
    )
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(document)))
        action = draw(st.sampled_from(actions))
        if action == "like" and path:
            document = _set(document, path, _like(draw, _get(document, path)))
        elif action == "delete" and path:
            document = _set(document, path, None, delete=True)
        elif action == "empty" and path:
            document = _set(document, path, [] if draw(st.booleans()) else {})
        elif action == "type" and path:
            document = _set(document, path, draw(st.sampled_from(["", 0, -1, 1e308, True, None])))
        else:
            document = _set(document, path, draw(ANY_JSON))
    raw = json.dumps(document).encode()
    cut = draw(
        st.sampled_from(["none"] if gentle else ["none", "none", "none", "truncate", "byte"])
    )
    if cut == "truncate":
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    elif cut == "byte" and raw:
        at = draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    return raw


def _only_own_errors(load, raw: bytes, label: str) -> Any:
    try:
        return load(raw)
    except AuditInputError as exc:
        for line in exc.lines():
            assert line.startswith(f"{label}: $"), line
            assert "\n" not in line and len(line) < 2000
        return None


@given(st.one_of(damaged(SNAPSHOT), damaged(SNAPSHOT, gentle=True)))
def test_a_damaged_snapshot_is_refused_or_judged(raw):
    snapshot = _only_own_errors(lambda b: read.parse(b, "s.json"), raw, "s.json")
    if snapshot is None:
        return
    result = engine.audit(
        snapshot,
        baseline_mod.parse(json.dumps(BASELINE).encode(), "b.json"),
        CHECKS,
        datetime(2026, 11, 26, tzinfo=UTC),
    )
    for outcome in result.outcomes:
        # Schema-valid data a check cannot judge is a defect of the check or of the schema.
        assert "could not judge this data" not in outcome.reason, (outcome.spec.id, outcome.reason)


@given(st.one_of(damaged(BASELINE), damaged(BASELINE, gentle=True)))
def test_a_damaged_baseline_is_refused_or_used(raw):
    parsed = _only_own_errors(lambda b: baseline_mod.parse(b, "b.json"), raw, "b.json")
    if parsed is None:
        return
    snapshot = read.load(DEMO / "snapshot.json")
    result = engine.audit(snapshot, parsed, CHECKS, datetime(2026, 11, 26, tzinfo=UTC))
    for outcome in result.outcomes:
        assert "could not judge this data" not in outcome.reason, (outcome.spec.id, outcome.reason)


def _diff(folder: Path, raw: bytes, new: dict[str, Any], fmt: str) -> None:
    """`m365-audit diff OLD NEW` with OLD damaged, both renderings."""
    old_path, new_path = folder / "old.json", folder / "new.json"
    old_path.write_bytes(raw)
    new_path.write_text(json.dumps(new))
    with contextlib.redirect_stdout(io.StringIO()):
        _only_own_errors(lambda _b: diff.diff(old_path, new_path, fmt), raw, str(old_path))


@given(damaged(REPORT), st.sampled_from(["json", "text"]))
def test_a_damaged_report_is_refused_or_compared(tmp_path_factory, raw, fmt):
    _diff(tmp_path_factory.mktemp("report"), raw, REPORT, fmt)


@given(damaged(SNAPSHOT), st.sampled_from(["json", "text"]))
def test_a_damaged_snapshot_is_refused_or_compared(tmp_path_factory, raw, fmt):
    _diff(tmp_path_factory.mktemp("snapshot"), raw, SNAPSHOT, fmt)


@given(damaged(FLEET))
def test_a_damaged_fleet_file_is_refused_or_read(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("fleet") / "tenants.json"
    path.write_bytes(raw)
    _only_own_errors(lambda _b: fleet.load(path), raw, str(path))


RECORD_TEXT = st.text(
    alphabet=st.sampled_from(
        [*list("v=spf1 DMARC;pruafoi:%{}/-.+~?!@_,0123456789ax"), "\x00", "é"]
    ),
    max_size=80,
)


@given(st.one_of(RECORD_TEXT, st.text(max_size=80)))
def test_spf_and_dmarc_parsers_take_any_text(text):
    spf.parse("v=spf1 " + text)
    spf.parse(text)
    spf.spf_targets("v=spf1 " + text)
    dmarc.parse("v=DMARC1; " + text)
    dmarc.parse(text)
    dmarc.dmarc_tags(text)


@given(st.text(max_size=400))
def test_ndr_text_is_recognised_or_not(text):
    explain.recognise(text)
    explain.quoted_addresses(text)
    explain.recognise("550 5.7.750 " + text)


@given(
    st.text(alphabet=st.sampled_from([*list("0123456789abcdef.:/- "), "\x00", "٣"]), max_size=50)
)
def test_connector_address_entries_parse_or_say_why(text):
    try:
        entry = parse_ip_entry(text)
    except ValueError:
        pass
    else:
        assert entry.first <= entry.last
    normalise_ip_entry(text)
