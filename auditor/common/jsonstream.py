"""A large JSON file read a slice at a time: the peak is the document's objects and one slice,
not the objects and the whole text beside them.

The standard library's parser needs the whole text: reading a 358 MB snapshot held 358 MB of
text and 700 MB of objects at once. Here the file is read, hashed and decoded 1 MiB at a time,
and each value the buffer holds whole is parsed by that same C parser (`raw_decode`), so the
result is the one `json.loads` gives, value for value. A container larger than the buffer is
entered instead; its members are parsed in batches, each batch up to the last place in the
buffer that looks like the boundary between two members (the separator learned between the
first two, such as `},` + newline + the indentation + `{`; where that never comes again, as
between numbers, the comma and its whitespace alone). A batch is parsed as one array or
object, so its members share their keys' strings as in one `json.loads`. And where one object
of a long array holds the same string twice (a Graph user's `mail` and `userPrincipalName`),
both of its members are given one string: equal, immutable, so no reader can tell, but 70 MB
less for a million users (about 0.4 s more; `_share_strings`).

A batch either parses as a whole, ending exactly where it was cut, or is not taken: a cut
inside a member leaves that member's container unclosed (or its string unterminated), which
the one closing bracket added cannot repair, so a wrong cut can only cost time, never change a
value. Anything unexpected (invalid JSON, invalid UTF-8, nesting too deep) stops the stream:
the caller reads the file whole to say what is wrong, in the same words as ever.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

_SLICE = 1 << 20  # bytes read at a time
_raw_decode = json.JSONDecoder().raw_decode
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD]")
_NUMBER_START = frozenset("-0123456789NI")  # NaN and Infinity too, as json.loads takes them
_NUMBER_TAIL = frozenset("0123456789+-.eE")
_TRIES = 3  # cut points tried, last first, before one member is parsed alone
_SEPARATOR_MAX = 256  # whitespace learned into a separator (deeper indentation is not usual)


_NO_CUT = object()  # a batch found no separator to cut at


class Stopped(Exception):
    """The text is not one JSON value this reader can take: read the file whole instead."""


class Reader:
    """One JSON value from a sequence of text slices (the file decoded a slice at a time)."""

    def __init__(self, slices: Iterator[str]):
        self._slices = slices
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.surrogate_escape = False  # a "\ud..." escape occurs: see jsonio.whole_text
        self._tail = ""
        self._longest = 0  # the longest slice yet, in characters

    def document(self) -> Any:
        try:
            value = self._value()
            self._skip()
            if self.pos < len(self.buf):
                raise Stopped("text after the value")
        except (ValueError, RecursionError) as exc:  # invalid JSON or UTF-8, too deep
            raise Stopped(str(exc)[:120]) from None
        return value

    # -- the buffer --------------------------------------------------------------------------

    def _more(self) -> bool:
        """Append the next slice (dropping what is consumed); False at the end of the text."""
        piece = next(self._slices, None)
        if piece is None:
            self.eof = True
            return False
        if not self.surrogate_escape:
            self.surrogate_escape = _SURROGATE_ESCAPE.search(self._tail + piece[:2]) is not None
            if "\\u" in piece and _SURROGATE_ESCAPE.search(piece):
                self.surrogate_escape = True
        self._tail = (self._tail + piece[-2:])[-2:]
        self._longest = max(self._longest, len(piece))
        self.buf = self.buf[self.pos :] + piece
        self.pos = 0
        return True

    def _grow(self) -> bool:
        """At least double what the buffer holds beyond `pos` (a value longer than the buffer
        is then parsed again O(log n) times, not once per slice); False at the end."""
        want = max(len(self.buf) - self.pos, 1)
        grew = False
        while len(self.buf) - self.pos < 2 * want and self._more():
            grew = True
        return grew

    def _skip(self) -> None:
        """Past whitespace, reading on if the buffer ends in it."""
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self._more():
                return

    def _char(self) -> str:
        self._skip()
        if self.pos >= len(self.buf):
            raise Stopped("the text ends inside a value")
        return self.buf[self.pos]

    # -- values ------------------------------------------------------------------------------

    def _value(self) -> Any:
        first = self._char()
        while True:
            try:
                value, end = _raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if self.eof:
                    raise
            else:
                # Only a number is not self-delimiting: "12" at the buffer's end may be "125".
                if (
                    self.eof
                    or first not in _NUMBER_START
                    or (end < len(self.buf) and self.buf[end] not in _NUMBER_TAIL)
                ):
                    self.pos = end
                    return value
            # Not whole in the buffer: a container is entered, a scalar read on.
            if first == "{":
                return self._members("{", "}")
            if first == "[":
                return self._members("[", "]")
            self._grow()  # at the end, `eof` is set and the next attempt is the last

    def _members(self, opening: str, closing: str) -> Any:
        is_object = opening == "{"
        result: Any = {} if is_object else []
        self.pos += 1
        if self._char() == closing:
            self.pos += 1
            return result
        separator = ""
        comma_at = 1  # where the comma is in the separator
        rest = 0  # members to parse alone before trying a batch again
        failures = 0
        while True:
            if separator and rest == 0:
                batch = self._batch(separator, comma_at, opening, closing)
                if batch is _NO_CUT and comma_at == 1:
                    # The members' edges differ each time (numbers: "1, 2"): the comma and
                    # its whitespace alone are looked for instead.
                    separator, comma_at = separator[1:-1], 0
                    continue
                if batch is not _NO_CUT and batch is not None:
                    if is_object:
                        result.update(batch)
                    else:
                        _share_strings(batch)
                        result.extend(batch)
                    failures = 0
                    self._char()
                    continue
                failures += 1
                rest = min(1 << failures, 1 << 16)
            if is_object:
                key = self._value()
                if not isinstance(key, str) or self._char() != ":":
                    raise Stopped("an object member without a key")
                self.pos += 1
                result[key] = self._value()
            else:
                result.append(self._value())
                _share_strings(result[-1:])
            if self._char() == closing:
                self.pos += 1
                return result
            if self.buf[self.pos] != ",":
                raise Stopped("members not separated by a comma")
            if not separator:
                separator = self._separator()
            self.pos += 1
            self._char()
            rest = max(rest - 1, 0)

    def _separator(self) -> str:
        """The text between two members, the comma at `pos`: the last character of one, the
        comma, the whitespace, the first character of the next; or "" if the buffer does not
        show it all (it is learned at the next comma instead)."""
        comma = self.pos
        after = _WHITESPACE.match(self.buf, comma + 1).end()  # type: ignore[union-attr]
        if comma == 0 or after >= len(self.buf) or after - comma > _SEPARATOR_MAX:
            return ""
        return self.buf[comma - 1 : after + 1]

    def _batch(self, separator: str, comma_at: int, opening: str, closing: str) -> Any:
        """The members from `pos` up to the last separator in the buffer, parsed as one
        container; None if no cut tried parses whole, _NO_CUT if there was none to try."""
        start = self.pos
        cut = self.buf.rfind(separator, start + 1)
        if cut < 0 and len(self.buf) - start <= self._longest:
            # One slice more, only while less than one is left: where the separator does not
            # recur, the buffer must not grow to the whole text (nor its copies go quadratic).
            self._more()
            start = self.pos
            cut = self.buf.rfind(separator, start + 1)
        if cut < 0:
            return _NO_CUT
        for _ in range(_TRIES):
            if cut < 0:
                return None
            comma = cut + comma_at
            text = opening + self.buf[start:comma] + closing
            try:
                value, end = _raw_decode(text)
            except json.JSONDecodeError:
                pass
            else:
                if end == len(text):
                    self.pos = comma + 1
                    return value
            cut = self.buf.rfind(separator, start + 1, cut)
        return None


def _share_strings(values: list[Any]) -> None:
    """In each object of `values`, members whose strings are equal are given the first one."""
    for value in values:
        if type(value) is dict:
            seen: dict[str, str] = {}
            for key, member in value.items():
                if type(member) is str:
                    if member in seen:
                        value[key] = seen[member]  # an existing key: the dict keeps its size
                    else:
                        seen[member] = member


def slices(handle: BinaryIO, digest: Any, size: int = _SLICE) -> Iterator[str]:
    """The file's text a slice at a time, its bytes hashed into `digest` as they are read
    (a leading BOM is dropped; bytes that are not UTF-8 raise UnicodeDecodeError)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    while chunk := handle.read(size):
        digest.update(chunk)
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def pieces(parts: Iterable[str], size: int = 0) -> Iterator[str]:
    """Text held in pieces of any length, a slice of at most `size` (default `_SLICE`)
    characters at a time."""
    size = size or _SLICE
    for part in parts:
        for at in range(0, len(part), size):
            yield part[at : at + size]


def parse(slices: Iterator[str]) -> tuple[Any, bool]:
    """The JSON value of text given a slice at a time, and whether it holds a `\\ud...`
    escape. Raises Stopped where the text must be parsed whole to say what is wrong."""
    reader = Reader(slices)
    return reader.document(), reader.surrogate_escape


def read(handle: BinaryIO, size: int = _SLICE) -> tuple[Any, bool, str]:
    """The JSON value of an open file, whether it holds a `\\ud...` escape, and the SHA-256
    of its bytes. Raises Stopped where the file must be read whole to say what is wrong."""
    digest = hashlib.sha256()
    value, escaped = parse(slices(handle, digest, size))
    if handle.read(1):
        raise Stopped("the file grew while it was read")
    return value, escaped, digest.hexdigest()
