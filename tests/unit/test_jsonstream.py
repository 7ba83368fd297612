"""A large JSON file read a slice at a time gives what `json.loads` gives, value for value, or
stops where `json.loads` would refuse the text; a snapshot read so says every error as before."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor import demo, snapshot
from auditor.common import jsonio, jsonstream
from auditor.common.errors import AuditInputError

# Text that could trip a reader cutting at separators: separators inside strings, escapes,
# characters of several UTF-8 bytes (cut between slices), number-like strings.
_TEXT = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["},{", '"}, {"', ",\n  {", "\\", '"', "é", "€", "😀", "\u2028", "12e5", "]"]),
)
_NUMBERS = st.integers(-(10**30), 10**30) | st.floats(allow_nan=False)
_VALUES = st.recursive(
    st.none() | st.booleans() | _NUMBERS | _TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=40,
)
_LAYOUTS = st.sampled_from(
    [
        {},
        {"indent": 2},
        {"indent": "\t"},
        {"separators": (",", ":")},
        {"indent": 1, "ensure_ascii": False},
        {"ensure_ascii": False, "separators": (",", ":")},
    ]
)


def _read(raw: bytes, size: int):
    return jsonstream.read(io.BytesIO(raw), size)


def _same(a, b) -> bool:
    # -0.0 == 0.0 and 1 == 1.0 in Python: compare the types and the texts too.
    return json.dumps(a) == json.dumps(b)


@given(_VALUES, _LAYOUTS, st.integers(1, 40))
def test_any_value_in_any_layout_and_any_slice_size_reads_as_json_loads_reads_it(
    value, layout, size
):
    raw = json.dumps(value, **layout).encode("utf-8")
    read, _, digest = _read(raw, size)
    assert _same(read, json.loads(raw))
    assert digest == hashlib.sha256(raw).hexdigest()


@given(st.lists(_VALUES, min_size=2, max_size=30), _LAYOUTS, st.integers(8, 200))
def test_long_arrays_and_objects_read_in_batches_as_json_loads_reads_them(items, layout, size):
    for value in (items, {f"k{i}": item for i, item in enumerate(items)}):
        raw = json.dumps(value, **layout).encode("utf-8")
        assert _same(_read(raw, size)[0], json.loads(raw))


@given(_VALUES, st.integers(1, 12), st.data())
def test_damaged_text_is_stopped_where_json_loads_refuses_it(value, size, data):
    text = json.dumps(value, indent=data.draw(st.sampled_from([None, 2])))
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 3))
    damaged = (
        text[:at]
        + data.draw(st.sampled_from(["", ",", "]", "}", '"', "x", "{", " 1"]))
        + text[at + cut :]
    )
    try:
        expected = json.loads(damaged)
    except ValueError:
        with pytest.raises(jsonstream.Stopped):
            _read(damaged.encode("utf-8"), size)
    else:
        assert _same(_read(damaged.encode("utf-8"), size)[0], expected)


def test_a_cut_inside_a_member_is_never_taken():
    """Compact objects whose nested arrays and strings hold the separator learned between the
    first two members ('},{'): a batch cut there does not parse whole and is not taken."""
    items = [{"a": [{"b": i}, {"b": "},{"}], "c": "},{" * (i % 3)} for i in range(400)]
    raw = json.dumps(items, separators=(",", ":")).encode()
    for size in (16, 100, 333, 4096):
        assert _read(raw, size)[0] == items


def test_members_of_one_batch_share_their_keys_strings_as_in_one_json_loads():
    """The memory the stream saves would be lost if each member had its own key strings."""
    users = [
        {"id": str(i), "mail": f"u{i}@contoso.com", "accountEnabled": True} for i in range(5000)
    ]
    raw = json.dumps(users, indent=2).encode()
    read = _read(raw, 4096)[0]
    assert read == users
    keys = {id(next(iter(user))) for user in read}
    assert len(keys) < len(read) / 20


@pytest.mark.parametrize("size", [64, 4096])  # 64: most members parsed alone, not in batches
def test_equal_strings_of_one_record_are_one_string_and_others_are_left_alone(size):
    """A Graph user's mail is its userPrincipalName: 70 MB for a million users if held twice."""
    users = [
        {
            "id": f"{i}",
            "userPrincipalName": f"u{i}@contoso.com",
            "mail": f"u{i}@contoso.com" if i % 3 else None,
            "proxyAddresses": [f"u{i}@contoso.com"],  # not a member of the record itself
            "note": f"{i}",  # equal to the id
        }
        for i in range(3000)
    ]
    raw = json.dumps({"users": users}, indent=2).encode()
    read = _read(raw, size)[0]["users"]
    assert _same(read, users)
    for user in read:
        assert user["note"] is user["id"]
        if user["mail"] is not None:
            assert user["mail"] is user["userPrincipalName"]
        assert user["proxyAddresses"][0] is not user["userPrincipalName"]


def test_numbers_cut_between_slices_are_read_whole():
    raw = b"[" + b",".join(b"1234567890.5e-3" for _ in range(50)) + b"]"
    for size in range(1, 17):
        assert _read(raw, size)[0] == json.loads(raw)


def test_an_escape_of_a_lone_surrogate_is_noticed_across_slices():
    for text in ['"\\ud800"', '["a", "\\uDfff"]', '"\\u00e9"', '"\\\\ud"']:
        for size in (1, 2, 3, 50):
            assert _read(text.encode(), size)[1] == ("\\ud" in text or "\\uD" in text)


def test_bytes_that_are_not_utf8_are_not_read_as_text():
    with pytest.raises(jsonstream.Stopped):
        _read(b'["ok", "\xff"]', 3)


def test_a_leading_byte_order_mark_is_dropped():
    assert _read(b"\xef\xbb\xbf" + b'{"a": 1}', 2)[0] == {"a": 1}


def test_text_after_the_value_is_refused():
    for raw in (b"[1] [2]", b"{} x", b"1 2"):
        with pytest.raises(jsonstream.Stopped):
            _read(raw, 2)


def test_nesting_deeper_than_python_can_follow_stops_the_stream():
    with pytest.raises(jsonstream.Stopped):
        _read(b"[" * 100_000 + b"]" * 100_000, 1 << 16)


# -- snapshots read through the stream ---------------------------------------------------------


@pytest.fixture(autouse=True)
def _every_file_streamed(monkeypatch):
    """Files under 16 MiB are read whole: here every file goes through the stream."""
    monkeypatch.setattr(jsonio, "STREAM_FROM", 0)


def test_a_snapshot_read_a_slice_at_a_time_is_the_snapshot_read_whole(tmp_path):
    raw = demo.SNAPSHOT.read_bytes()
    whole = snapshot.parse(raw, str(demo.SNAPSHOT))
    streamed = snapshot.load(demo.SNAPSHOT)
    assert streamed.sha256 == whole.sha256 == hashlib.sha256(raw).hexdigest()
    assert streamed.sources == whole.sources and streamed.tenant == whole.tenant


@pytest.mark.parametrize(
    "raw",
    [
        b'{"schema": "m365-mail-auditor/snapshot", \xff}',
        b'{"schema": "m365-mail-auditor/snapshot",\n  "sources": {]}',
        b"",
        b"[" * 100_000,
        b'{"a": 1} trailing',
    ],
    ids=["not-utf8", "invalid", "empty", "too-deep", "trailing"],
)
def test_a_file_the_stream_stops_on_is_said_as_when_read_whole(tmp_path, raw):
    path = tmp_path / "s.json"
    path.write_bytes(raw)
    with pytest.raises(AuditInputError) as whole:
        snapshot.parse(raw, str(path))
    with pytest.raises(AuditInputError) as streamed:
        snapshot.load(path)
    assert streamed.value.lines() == whole.value.lines()


def test_a_lone_surrogate_in_a_snapshot_read_a_slice_at_a_time_is_replaced(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"name": "a\\ud800b", "list": ["\\udc00"]}', encoding="utf-8")
    assert jsonio.read_large(path)[0] == {"name": "a\ufffdb", "list": ["\ufffd"]}


def test_a_pipe_is_refused_before_it_is_read(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done = []
    reader = threading.Thread(target=lambda: done.append(_refused(fifo)))
    reader.start()
    reader.join(timeout=10)
    assert done == ["not a regular file (a device or a pipe)"]


def _refused(path: Path) -> str:
    try:
        jsonio.read_large(path)
    except AuditInputError as exc:
        return exc.lines()[0].split("$: ", 1)[1]
    return "read"


def test_a_long_array_whose_separator_never_recurs_is_read_in_batches_all_the_same():
    """Numbers: the separator learned ("1, 2") does not come again, so the comma and its
    whitespace alone are looked for; the buffer stays a few slices long meanwhile instead of
    growing to the whole text, and the members are not read one at a time."""
    values = list(range(3, 200_000, 7))
    raw = json.dumps([1, 2, *values]).encode()
    longest = 0
    alone = 0
    more, value = jsonstream.Reader._more, jsonstream.Reader._value

    def watched_more(self):
        nonlocal longest
        grew = more(self)
        longest = max(longest, len(self.buf))
        return grew

    def watched_value(self):
        nonlocal alone
        alone += 1
        return value(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jsonstream.Reader, "_more", watched_more)
        patch.setattr(jsonstream.Reader, "_value", watched_value)
        assert _read(raw, 4096)[0] == [1, 2, *values]
    assert longest <= 4 * 4096
    assert alone < len(values) / 100


def test_a_small_file_is_read_whole_and_a_large_one_a_slice_at_a_time(tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"users": [{"id": str(i)} for i in range(100)]}))
    streamed = []
    original = jsonstream.read

    def watched(handle, *args):
        streamed.append(True)
        return original(handle, *args)

    monkeypatch.setattr(jsonstream, "read", watched)
    monkeypatch.setattr(jsonio, "STREAM_FROM", path.stat().st_size + 1)
    small = jsonio.read_large(path)
    assert not streamed
    monkeypatch.setattr(jsonio, "STREAM_FROM", path.stat().st_size)
    assert jsonio.read_large(path) == small and streamed
