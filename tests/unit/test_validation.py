"""The schemas the project ships, and the two validators that read them.

Documents are decided by the compiled validator (jsonschema-rs) and explained by the reference
implementation (jsonschema): the two must agree, or a document could be refused with no error
to show, or accepted when the reference would refuse it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from auditor.commands.diff import REPORT_SCHEMA_PATH
from auditor.commands.fleet import SCHEMA_PATH as FLEET_SCHEMA
from auditor.common import format_schema, jsonio
from auditor.snapshot.format import SCHEMA_PATH as SNAPSHOT_SCHEMA
from baselines import SCHEMA as BASELINE_SCHEMA
from tests.fuzz.test_inputs import BASELINE, SNAPSHOT, damaged

SCHEMAS = [SNAPSHOT_SCHEMA, REPORT_SCHEMA_PATH, FLEET_SCHEMA, BASELINE_SCHEMA]


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_shipped_schema_is_a_valid_json_schema(path):
    Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


SNAPSHOT_VALIDATOR = jsonio.load_schema(SNAPSHOT_SCHEMA)
BASELINE_VALIDATOR = jsonio.load_schema(BASELINE_SCHEMA)


def _agree(validator: jsonio.Validator, raw: bytes) -> None:
    try:
        document = json.loads(raw)
    except ValueError:
        return  # not JSON: the reader refuses it before any validator sees it
    try:
        compiled = validator.is_valid(document)
    except UnicodeEncodeError:  # a lone surrogate: the reference decides alone
        return
    reference = not any(validator.reference.iter_errors(document))
    assert compiled == reference


def test_the_demo_documents_are_valid_to_both():
    assert SNAPSHOT_VALIDATOR.is_valid(SNAPSHOT)
    assert not any(SNAPSHOT_VALIDATOR.reference.iter_errors(SNAPSHOT))
    assert BASELINE_VALIDATOR.is_valid(BASELINE)
    assert not any(BASELINE_VALIDATOR.reference.iter_errors(BASELINE))


@given(st.one_of(damaged(SNAPSHOT), damaged(SNAPSHOT, gentle=True)))
def test_both_validators_decide_a_damaged_snapshot_alike(raw):
    _agree(SNAPSHOT_VALIDATOR, raw)


@given(damaged(BASELINE))
def test_both_validators_decide_a_damaged_baseline_alike(raw):
    _agree(BASELINE_VALIDATOR, raw)


# -- formats, checked against only the part of a schema that has them ---------------------------

_TIME_KEYS = {
    "collectedAt",
    "WhenCreatedUTC",
    "WhenChangedUTC",
    "StartDate",
    "EndDate",
    "FirstReceived",
    "LastReceived",
    "createdDateTime",
    "nextLifecycleDateTime",
    "WhenChanged",
    "CreatedDatetime",
    "ChangedDatetime",
    "PeakStart",
    "grantedAt",
}


def _time_places(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _TIME_KEYS and isinstance(value, str):
                yield (*path, key)
            yield from _time_places(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _time_places(value, (*path, i))


def test_a_bad_time_anywhere_in_the_demo_snapshot_is_decided_as_the_reference_decides():
    refused = 0
    for place in _time_places(SNAPSHOT):
        document = json.loads(json.dumps(SNAPSHOT))
        parent = document
        for step in place[:-1]:
            parent = parent[step]
        parent[place[-1]] = "the 3rd of May"
        reference = not any(SNAPSHOT_VALIDATOR.reference.iter_errors(document))
        assert SNAPSHOT_VALIDATOR.is_valid(document) == reference, place
        refused += not reference
    assert refused >= 20


def test_the_snapshot_schemas_parts_without_formats_are_not_walked_for_formats():
    schema = json.loads(SNAPSHOT_SCHEMA.read_text(encoding="utf-8"))
    cut = format_schema.where_formats_are(schema)["$defs"]
    assert cut["data.graph.users"] is True and cut["data.exchange.mailboxes"] is True
    for kept in ("source", "peak", "data.exchange.messageTrace", "data.graph.subscriptions"):
        assert cut[kept] == schema["$defs"][kept]


def _defs(root: dict, **defs) -> dict:
    return {**root, "$defs": defs}


PLAIN = {"type": "array", "items": {"type": "string"}}
DATED = {"type": "string", "format": "date-time"}


def test_an_entry_used_where_widening_changes_the_verdict_is_kept():
    for place in ("not", "if", "contains", "propertyNames"):
        schema = _defs({"properties": {"a": {place: {"$ref": "#/$defs/p"}}}}, p=PLAIN)
        assert format_schema.where_formats_are(schema) is schema, place
    schema = _defs({"oneOf": [{"$ref": "#/$defs/p"}, {"type": "object"}]}, p=PLAIN)
    assert format_schema.where_formats_are(schema) is schema
    # Used once where widening is harmless and once where it is not: kept.
    schema = _defs(
        {"allOf": [{"$ref": "#/$defs/p"}, {"not": {"$ref": "#/$defs/q"}}]},
        p=PLAIN,
        q={"items": {"$ref": "#/$defs/p"}},
    )
    assert format_schema.where_formats_are(schema) is schema


def test_an_entry_reaching_a_format_through_another_is_kept():
    schema = _defs(
        {"properties": {"a": {"$ref": "#/$defs/outer"}, "b": {"$ref": "#/$defs/p"}}},
        outer={"items": {"$ref": "#/$defs/time"}},
        time=DATED,
        p=PLAIN,
    )
    cut = format_schema.where_formats_are(schema)["$defs"]
    assert cut == {"outer": schema["$defs"]["outer"], "time": DATED, "p": True}


def test_a_schema_with_references_or_keywords_not_followed_is_kept_whole():
    for root in (
        {"properties": {"a": {"$ref": "other.json#/x"}}},
        {"properties": {"a": {"$dynamicRef": "#meta"}}},
        {"unevaluatedProperties": False, "properties": {"a": {"$ref": "#/$defs/p"}}},
        {"properties": {"a": {"$ref": "#/$defs/missing"}}},
    ):
        schema = _defs(root, p=PLAIN)
        assert format_schema.where_formats_are(schema) is schema


def test_formats_are_still_checked_inside_a_widening_place():
    schema = _defs(
        {"properties": {"a": {"$ref": "#/$defs/p"}, "t": {"$ref": "#/$defs/time"}}},
        p=PLAIN,
        time=DATED,
    )
    validator = jsonio.Validator(schema, formats=True)
    assert validator.is_valid({"a": ["x"], "t": "2026-11-27T00:00:00Z"})
    assert not validator.is_valid({"a": ["x"], "t": "yesterday"})
    assert not validator.is_valid({"a": [1], "t": "2026-11-27T00:00:00Z"})
