"""The snapshot: the one document that passes from collection to judging.

Collection builds it (`write`), `collect` saves it, and `run` reads it back (`read`), frozen,
whether it was just collected or saved months ago. Its schema is
`auditor/schemas/snapshot.schema.json`."""

from auditor.snapshot.format import SCHEMA_ID, SCHEMA_PATH, SCHEMA_VERSION
from auditor.snapshot.read import (
    Snapshot,
    SourceRecord,
    Tenant,
    freeze,
    from_document,
    load,
    parse,
    parse_parts,
    thaw,
)
from auditor.snapshot.write import data_problem, document, encode_record, text, text_parts

__all__ = [
    "SCHEMA_ID",
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "Snapshot",
    "SourceRecord",
    "Tenant",
    "data_problem",
    "document",
    "encode_record",
    "freeze",
    "from_document",
    "load",
    "parse",
    "parse_parts",
    "text",
    "text_parts",
    "thaw",
]
