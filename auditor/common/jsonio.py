"""Reading JSON documents with file-and-path errors, and writing outputs atomically."""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from auditor.common import cycles, jsonstream
from auditor.common.errors import AuditInputError
from auditor.common.format_schema import where_formats_are
from auditor.common.timeutil import parse_time

if TYPE_CHECKING:
    import jsonschema

_MAX_MESSAGE = 160


def _is_date_time(value: object) -> bool:
    if isinstance(value, str):
        parse_time(value)
    return True


def _is_date(value: object) -> bool:
    if isinstance(value, str):
        _dt.date.fromisoformat(value)
    return True


@functools.cache
def format_checker() -> jsonschema.FormatChecker:
    """The formats the schemas use, for the reference implementation (imported only when a
    document must be explained: it is a tenth of a second of every run's start)."""
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    checker.checks("date", raises=ValueError)(_is_date)
    return checker


def _regular(path: Path) -> None:
    # A FIFO would wait for a writer and /dev/zero never ends: only regular files are read.
    if path.exists() and not path.is_dir() and not path.is_file():
        raise AuditInputError.one(str(path), "$", "not a regular file (a device or a pipe)")


def read_bytes(path: Path) -> bytes:
    _regular(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise AuditInputError.one(str(path), "$", "file not found") from None
    except IsADirectoryError:
        raise AuditInputError.one(str(path), "$", "is a directory, expected a JSON file") from None
    except OSError as exc:
        raise AuditInputError.one(str(path), "$", f"cannot read: {exc.strerror}") from None


# Files (and a collection's text) from this size are parsed a slice at a time. Below it the
# text is small beside the objects, and parsing it whole is faster (the stream tries each
# outer container whole first: 0.16 s instead of 0.02 s for a 2.5 MB snapshot).
STREAM_FROM = 16 << 20


def read_large(path: Path) -> tuple[Any, str]:
    """A JSON file's value and the SHA-256 of its bytes; a large file is read a slice at a
    time (`jsonstream`): its whole text is never in memory beside the objects. What the
    stream cannot take (invalid JSON or UTF-8, an unreadable file) is read whole and said as
    `parse_json` says it."""
    _regular(path)
    try:
        if path.stat().st_size >= STREAM_FROM:
            with path.open("rb") as handle, cycles.paused():
                value, escaped, digest = jsonstream.read(handle)
            return (whole_text(value) if escaped else value), digest
    except (jsonstream.Stopped, OSError):
        pass
    raw = read_bytes(path)
    return parse_json(raw, str(path)), sha256(raw)


def parse_pieces(parts: Sequence[str], label: str) -> Any:
    """JSON text held in pieces (a collection's sources, each encoded as it came in), parsed
    a slice at a time without joining them: the text is not held twice. Text the stream stops
    on is joined and said as `parse_text` says it; so is text under STREAM_FROM characters."""
    if sum(map(len, parts)) >= STREAM_FROM:
        try:
            with cycles.paused():
                value, escaped = jsonstream.parse(jsonstream.pieces(parts))
            return whole_text(value) if escaped else value
        except jsonstream.Stopped:
            pass
    return parse_text("".join(parts), label)


def parse_json(raw: bytes, label: str, unique_keys: bool = False) -> Any:
    return parse_text(decode(raw, label), label, unique_keys)


def decode(raw: bytes, label: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AuditInputError.one(label, "$", f"not UTF-8 text (byte {exc.start})") from None


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document


_SURROGATE = re.compile("[\ud800-\udfff]")


def whole_text(value: Any) -> Any:
    """`value` with every lone surrogate (JSON allows the escape `\\ud800`, which is no
    character) replaced by U+FFFD: such a string could be judged, but never written as
    UTF-8, so every report of it would fail."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [whole_text(v) for v in value]
    if isinstance(value, dict):
        return {whole_text(k): whole_text(v) for k, v in value.items()}
    return value


def loads(text: str, **options: Any) -> Any:
    """`json.loads`, with lone surrogates replaced (only looked for when the text holds a
    `\\ud` or `\\uD` escape at all: a large document costs one scan, not a walk)."""
    with cycles.paused():
        value = json.loads(text, **options)
    if "\\ud" in text or "\\uD" in text:
        value = whole_text(value)
    return value


def parse_text(text: str, label: str, unique_keys: bool = False) -> Any:
    """JSON, or one line saying what is wrong with it. With `unique_keys` an object naming a
    key twice is refused (JSON readers keep the last one silently: a second "waivers" in a
    baseline would override the one its reviewers read)."""
    try:
        if unique_keys:
            return loads(text, object_pairs_hook=_no_duplicates)
        return loads(text)
    except _DuplicateKey as exc:
        raise AuditInputError.one(
            label, "$", f"the key {str(exc)!r} appears twice in one object"
        ) from None
    except RecursionError:
        raise AuditInputError.one(label, "$", "nested too deeply to be a real document") from None
    except json.JSONDecodeError as exc:
        raise AuditInputError.one(
            label, "$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:  # an integer of thousands of digits, and the like
        raise AuditInputError.one(
            label, "$", f"not a usable JSON value: {str(exc)[:120]}"
        ) from None


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


_SLICE = 1 << 20  # characters encoded at a time: text is never held as bytes in full


def utf8_slices(text: str | bytes | Iterable[str]) -> Iterator[bytes]:
    """`text` (one string, or pieces of one) as UTF-8, a slice at a time."""
    if isinstance(text, bytes):
        yield text
        return
    for piece in [text] if isinstance(text, str) else text:
        for start in range(0, len(piece), _SLICE):
            yield piece[start : start + _SLICE].encode("utf-8")


def text_sha256(text: str | Iterable[str]) -> str:
    """The SHA-256 of `text` as UTF-8, without holding its bytes."""
    digest = hashlib.sha256()
    for chunk in utf8_slices(text):
        digest.update(chunk)
    return digest.hexdigest()


def _checks(check: Any) -> Any:
    def holds(value: str) -> bool:
        try:
            check(value)
        except ValueError:
            return False
        return True

    return holds


# The same formats, for the compiled validator.
_RS_FORMATS = {"date-time": _checks(_is_date_time), "date": _checks(_is_date)}


class Validator:
    """A JSON Schema, decided by a compiled validator (jsonschema-rs: a 1M-user snapshot in a
    fraction of a second, where the reference implementation takes a minute) and explained,
    when a document fails, by the reference implementation (jsonschema), whose errors name
    each JSON path as before. The two agree on every verdict the tests try
    (tests/unit/test_validation.py); a document the compiled one rejects and the reference
    accepts is accepted. With `formats`, date-time and date values are checked too."""

    def __init__(self, schema: dict[str, Any], formats: bool = False):
        self.schema = schema
        self.formats = formats
        # Formats are checked apart, against only the part of the schema that has them
        # (format_schema: with format callbacks the compiled validator allocates along every
        # part of the document it walks, 100-200 MB for a 1M-user snapshot).
        self.compiled = jsonschema_rs.Draft202012Validator(schema, validate_formats=False)
        self.compiled_formats = (
            jsonschema_rs.Draft202012Validator(
                where_formats_are(schema), formats=_RS_FORMATS, validate_formats=True
            )
            if formats
            else None
        )

    def is_valid(self, document: Any) -> bool:
        """The compiled verdict. Raises UnicodeEncodeError for a lone surrogate."""
        return self.compiled.is_valid(document) and (
            self.compiled_formats is None or self.compiled_formats.is_valid(document)
        )

    @functools.cached_property
    def reference(self) -> jsonschema.Draft202012Validator:
        from jsonschema import Draft202012Validator

        checker = format_checker() if self.formats else None
        return Draft202012Validator(self.schema, format_checker=checker)

    def iter_errors(self, document: Any) -> Iterable[jsonschema.ValidationError]:
        try:
            if self.is_valid(document):
                return iter(())
        except UnicodeEncodeError:
            # A lone surrogate (JSON's "\ud800") is not text the compiled validator can take:
            # the reference implementation decides instead.
            pass
        return self.reference.iter_errors(document)


def load_schema(path: Path) -> Validator:
    """A schema the project ships. Whether it is a valid JSON Schema is a test's question
    (tests/unit/test_validation.py): checking it against the metaschema here cost 0.22 s of
    every run."""
    return Validator(json.loads(path.read_text(encoding="utf-8")), formats=True)


def validate(validator: Validator, document: Any, label: str) -> None:
    """Raise one AuditInputError listing every violation, in document order."""
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.path])
    if errors:
        raise AuditInputError([(label, e.json_path, _describe(e)) for e in _leaves(errors)])


def _leaves(errors: Iterable[jsonschema.ValidationError]) -> list[jsonschema.ValidationError]:
    # oneOf/anyOf/if-then report a vague parent error; the most specific child says what is wrong.
    import jsonschema

    out = []
    for error in errors:
        best = jsonschema.exceptions.best_match([error]) if error.context else error
        out.append(best)
    return out


def _describe(error: jsonschema.ValidationError) -> str:
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return message.replace("\n", " ")


def atomic_write(path: Path, data: str | bytes | Iterable[str]) -> str:
    """Write via a private temporary file in the same folder, then rename: readers never see
    a half-written report, and the file is readable by its owner only. Text (a string, or
    its pieces in order) is encoded a slice at a time. Returns the SHA-256 of what was
    written."""
    digest = hashlib.sha256()

    def write_all(handle: Any) -> None:
        for chunk in utf8_slices(data):
            digest.update(chunk)
            handle.write(chunk)

    if path.is_symlink():
        # Written through the link: the file it points to is replaced, the link stays.
        path = path.resolve()
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        # Said of the folder the admin named, not of the temporary file inside it.
        raise OSError(2, "no such folder to write into", str(folder))
    if path.exists() and not path.is_file():
        # A device or a pipe (/dev/stdout, /dev/null, a FIFO): renaming over it would replace
        # the device node itself, so write into it instead.
        with path.open("wb") as handle:
            write_all(handle)
        return digest.hexdigest()
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            write_all(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return digest.hexdigest()


def dumps(document: Any) -> str:
    """Deterministic JSON: stable key order, two-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
