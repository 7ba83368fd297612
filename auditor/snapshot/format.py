"""The snapshot's format: its identity, version and JSON Schema (auditor/schemas)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from auditor.common import jsonio
from auditor.common.kinds import SNAPSHOT_SCHEMA

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "snapshot.schema.json"
SCHEMA_ID = SNAPSHOT_SCHEMA
SCHEMA_VERSION = 1


@cache
def document_validator() -> jsonio.Validator:
    """The whole document, as `run --snapshot` reads it."""
    return jsonio.load_schema(SCHEMA_PATH)


@cache
def data_validators() -> dict[str, jsonio.Validator]:
    """One validator per source's `data`, from the schema's `data.<source>` definitions."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validators = {}
    for key in schema["$defs"]:
        if key.startswith("data."):
            sub = {"$defs": schema["$defs"], "$ref": f"#/$defs/{key}"}
            validators[key[5:]] = jsonio.Validator(sub)
    return validators
