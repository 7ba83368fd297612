"""The snapshot's text built from sources encoded as they came in is, byte for byte, the text
of the whole document encoded at once (the layout every snapshot file has had)."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor import demo, snapshot
from auditor.common import jsonio, jsonstream
from auditor.common.errors import AuditInputError

DEMO = json.loads(demo.SNAPSHOT.read_text(encoding="utf-8"))

# JSON values with the text that could trip the splice: newlines, quotes, backslashes, text
# shaped like a placeholder, and characters encoded raw (ensure_ascii is off).
_TEXT = st.one_of(
    st.text(max_size=8),
    st.sampled_from(['"', "\\", "\n", '":', "\u2028", "é", "0123abcd:graph.users", "{}", "[]"]),
)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


def test_every_source_encoded_alone_gives_the_whole_documents_text():
    encoded = {name: snapshot.encode_record(r) for name, r in DEMO["sources"].items()}
    assert snapshot.text(DEMO, encoded) == jsonio.dumps(DEMO)


def test_sources_not_encoded_are_encoded_with_the_document():
    names = sorted(DEMO["sources"])
    encoded = {name: snapshot.encode_record(DEMO["sources"][name]) for name in names[::3]}
    assert snapshot.text(DEMO, encoded) == jsonio.dumps(DEMO)
    assert snapshot.text(DEMO, {}) == jsonio.dumps(DEMO)


@given(st.dictionaries(st.sampled_from(["a.b", "graph.users", "x"]), _VALUES, max_size=3), _TEXT)
def test_any_records_and_envelope_text(records, name):
    document = {
        "tenant": {"displayName": name},
        "sources": {key: {"status": "ok", "data": value} for key, value in records.items()},
    }
    encoded = {key: snapshot.encode_record(r) for key, r in document["sources"].items()}
    assert snapshot.text(document, encoded) == jsonio.dumps(document)


def test_written_piece_by_piece_the_file_is_the_whole_text_and_its_digest(tmp_path):
    encoded = {name: snapshot.encode_record(r) for name, r in DEMO["sources"].items()}
    parts = snapshot.text_parts(DEMO, encoded)
    assert len(parts) > 1
    path = tmp_path / "snapshot.json"
    digest = jsonio.atomic_write(path, parts)
    assert path.read_bytes() == jsonio.dumps(DEMO).encode("utf-8")
    assert digest == jsonio.sha256(path.read_bytes())
    read = snapshot.parse_parts(parts, "x")
    assert read.sha256 == digest
    assert read.sources == snapshot.parse(path.read_bytes(), "x").sources


def test_a_collections_pieces_are_parsed_without_being_joined_as_the_file_is(monkeypatch):
    """Every piece is longer than a slice here: the reader takes them a slice at a time."""
    monkeypatch.setattr(jsonstream, "_SLICE", 64)
    monkeypatch.setattr(jsonio, "STREAM_FROM", 0)
    encoded = {name: snapshot.encode_record(r) for name, r in DEMO["sources"].items()}
    parts = snapshot.text_parts(DEMO, encoded)
    whole = snapshot.parse(jsonio.dumps(DEMO).encode("utf-8"), "x")
    joined = []
    monkeypatch.setattr(jsonio, "parse_text", lambda *a, **k: joined.append(a))
    read = snapshot.parse_parts(parts, "x")
    assert not joined
    assert read.sources == whole.sources and read.sha256 == whole.sha256


def test_pieces_the_stream_stops_on_are_said_as_the_joined_text_is(monkeypatch):
    monkeypatch.setattr(jsonio, "STREAM_FROM", 0)
    parts = ['{"schema": "m365-mail-auditor/snapshot", ', '"sources": {]}']
    with pytest.raises(AuditInputError) as joined:
        snapshot.parse(("".join(parts)).encode(), "x")
    with pytest.raises(AuditInputError) as pieces:
        snapshot.parse_parts(parts, "x")
    assert pieces.value.lines() == joined.value.lines()


def test_text_longer_than_a_slice_is_encoded_whole(tmp_path):
    # Characters of two, three and four bytes across the slices' edges.
    text = "é€😀a" * (jsonio._SLICE // 2)
    path = tmp_path / "big.txt"
    digest = jsonio.atomic_write(path, [text, "end"])
    assert path.read_bytes() == (text + "end").encode("utf-8")
    assert digest == jsonio.text_sha256(text + "end") == jsonio.sha256(path.read_bytes())
