"""What a message trace has to remember until its last row, kept on disk instead of in memory.

Two things grow with a trace's rows: every distinct message (it is outbound when *any* of its
recipients is external, and no Microsoft document says a message's rows come together, so each
one is remembered until the trace ends), and when each counted recipient was received (the
sending limits' busiest rolling 24 hours and hour need them all). Both go to a private temporary
SQLite database (the stdlib's `sqlite3`): an empty file name makes SQLite create a file, owner
only, that it unlinks at once, so it is gone when the connection closes or the process dies.
SQLite holds at most CACHE_KIB of its pages in memory, and about as much again while it sorts.
(An empty name: https://www.sqlite.org/c3ref/open.html. The directory is the first writable of
$SQLITE_TMPDIR, $TMPDIR, /var/tmp, /usr/tmp, /tmp: https://www.sqlite.org/tempfiles.html; the
mode 0600 and the unlinked file are measured, and a test holds them.)

What the database holds, and nothing else: per message its id (a GUID as 16 bytes), when its
first row was received, the index of its (sender domain, source IP) pair and whether it is
outbound; per sender, direction and instant, how many recipients were counted, whether they are
external, whether the sender is on `onmicrosoft.com`, and the index of the sender when it is
one of the tenant's own. No address and no subject.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

CACHE_KIB = 8192  # SQLite's page cache, the most of the database held in memory
READ_BATCH = 5000  # rows fetched at a time when reading back (writes come in message_trace.BATCH)

# Flags are 0 or 1 and "no sender" is -1, not bool and None: the sqlite3 module binds exact
# ints directly and anything else through its adapter lookup (twice the time, measured).
Message = tuple[bytes | str, int, int, int]  # id, received (µs), pair index, outbound
# own sender's index or -1, external, onmicrosoft, received (µs), how many recipients
Recipient = tuple[int, int, int, int, int]

_SCHEMA = (
    "CREATE TABLE message (id PRIMARY KEY, received INTEGER NOT NULL,"
    " pair INTEGER NOT NULL, outbound INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE recipient (sender INTEGER NOT NULL, external INTEGER NOT NULL,"
    " onmicrosoft INTEGER NOT NULL, received INTEGER NOT NULL, recipients INTEGER NOT NULL)",
)
# A message seen again keeps its first row's time and pair and becomes outbound if this row is.
_ADD_MESSAGE = (
    "INSERT INTO message VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET outbound = 1"
    " WHERE excluded.outbound AND NOT message.outbound"
)


class StoreError(Exception):
    """The temporary database could not be created or written (a full or unwritable temporary
    directory, most often)."""


class TraceStore:
    def __init__(self) -> None:
        try:
            self._db = sqlite3.connect("")
            for pragma in ("journal_mode = OFF", "synchronous = OFF"):
                self._db.execute(f"PRAGMA {pragma}")
            self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except sqlite3.Error as exc:
            raise self._failed(exc) from None

    @staticmethod
    def _failed(exc: sqlite3.Error) -> StoreError:
        return StoreError(
            f"the message trace's temporary database failed: {exc} (SQLite writes it to the"
            " first directory it can write to of $SQLITE_TMPDIR, $TMPDIR, /var/tmp, /usr/tmp,"
            " /tmp)"
        )

    def add(self, messages: Sequence[Message], recipients: Sequence[Recipient]) -> None:
        """Messages in the order their rows came (the first row of a message names its time and
        pair), and counted recipients."""
        try:
            self._db.executemany(_ADD_MESSAGE, messages)
            self._db.executemany("INSERT INTO recipient VALUES (?, ?, ?, ?, ?)", recipients)
            self._db.commit()
        except sqlite3.Error as exc:
            raise self._failed(exc) from None

    def buckets(self) -> Iterator[list[tuple[int, int, int, int, int]]]:
        """Per (pair index, outbound): how many messages, the earliest and latest received."""
        return self._query(
            "SELECT pair, outbound, count(*), min(received), max(received) FROM message"
            " GROUP BY pair, outbound"
        )

    def times(self, *, onmicrosoft: bool) -> Iterator[list[tuple[int, int]]]:
        """When external recipients were received (only those of `onmicrosoft.com` senders, if
        asked) and how many then, earliest first."""
        where = "external AND onmicrosoft" if onmicrosoft else "external"
        return self._query(
            f"SELECT received, recipients FROM recipient WHERE {where} ORDER BY received"
        )

    def sender_times(self) -> Iterator[list[tuple[int, int, int, int]]]:
        """(sender index, external, received, how many) of the tenant's own senders'
        recipients, by sender and then earliest first."""
        return self._query(
            "SELECT sender, external, received, recipients FROM recipient WHERE sender >= 0"
            " ORDER BY sender, received"
        )

    def _query(self, sql: str) -> Iterator[list[Any]]:
        """The answer's rows, a batch at a time."""
        try:
            cursor = self._db.execute(sql)
            while batch := cursor.fetchmany(READ_BATCH):
                yield batch
        except sqlite3.Error as exc:
            raise self._failed(exc) from None

    def close(self) -> None:
        self._db.close()
