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
from auditor.common import jsonio
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
        compiled = validator.compiled.is_valid(document)
    except UnicodeEncodeError:  # a lone surrogate: the reference decides alone
        return
    reference = not any(validator.reference.iter_errors(document))
    assert compiled == reference


def test_the_demo_documents_are_valid_to_both():
    assert SNAPSHOT_VALIDATOR.compiled.is_valid(SNAPSHOT)
    assert not any(SNAPSHOT_VALIDATOR.reference.iter_errors(SNAPSHOT))
    assert BASELINE_VALIDATOR.compiled.is_valid(BASELINE)
    assert not any(BASELINE_VALIDATOR.reference.iter_errors(BASELINE))


@given(st.one_of(damaged(SNAPSHOT), damaged(SNAPSHOT, gentle=True)))
def test_both_validators_decide_a_damaged_snapshot_alike(raw):
    _agree(SNAPSHOT_VALIDATOR, raw)


@given(damaged(BASELINE))
def test_both_validators_decide_a_damaged_baseline_alike(raw):
    _agree(BASELINE_VALIDATOR, raw)
