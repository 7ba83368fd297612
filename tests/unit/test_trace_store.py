"""A message trace's memory follows its aggregates, not its rows: what grows with the rows goes to
a temporary SQLite database a batch at a time. Each batch boundary, the rolling peaks read back
from it, what the database holds and where it lives."""

from __future__ import annotations

import os
import sqlite3
import stat
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.collect.collectors import message_trace, trace_store
from auditor.collect.collectors.message_trace import DAY, HOUR, Totals, _Rolling, summarise
from auditor.collect.collectors.trace_store import StoreError, TraceStore
from tests.helpers import accepted

ACCEPTED = {
    "contoso.com": accepted("contoso.com"),
    "fabrikam.com": accepted("fabrikam.com", "InternalRelay", match_sub=True),
    "contoso.onmicrosoft.com": accepted("contoso.onmicrosoft.com"),
}
T0 = datetime(2026, 11, 19, tzinfo=UTC)
GUIDS = [str(uuid.UUID(int=n * 7919 + 1)) for n in range(6)]


def received(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            # A few messages, each of several rows, some ids cased differently, some not GUIDs.
            "MessageTraceId": st.sampled_from([*GUIDS, GUIDS[0].upper(), "not-a-guid", None]),
            "MessageId": st.sampled_from(["<m@x.example>", None]),
            "SenderAddress": st.sampled_from(
                [
                    "a@contoso.com",
                    "B@Contoso.com",
                    "scan@contoso.onmicrosoft.com",
                    "c@eu.fabrikam.com",
                    "s@spam.example",
                    "postmaster@contoso.com",
                    "<>",
                    "",
                    None,
                ]
            ),
            "RecipientAddress": st.sampled_from(
                ["r@x.example", "b@contoso.com", "c@eu.fabrikam.com", "d@eu.contoso.com", None]
            ),
            "FromIP": st.sampled_from([None, "", "192.0.2.1", "198.51.100.7"]),
            "Status": st.sampled_from(["Delivered", "Expanded", "Failed"]),
            # Instants shared by several rows, across more than a day.
            "Received": st.integers(0, 40).map(lambda n: received(n * 2999)),
        }
    ),
    max_size=60,
)


def summary(rows):
    return summarise(rows, ACCEPTED, T0 - timedelta(days=7), T0 + timedelta(days=7))


@settings(max_examples=150, deadline=None)
@given(rows=rows_strategy, batch=st.integers(1, 7))
def test_the_counts_do_not_depend_on_where_batches_end_or_the_sender_cache_is_emptied(rows, batch):
    """A message whose rows fall in different batches is one message, named by its first row
    and outbound if any row is; recipients merged within a batch count as they did apart; a
    sender met again after the cache was emptied keeps its place."""
    whole = summary(rows)
    saved = message_trace.BATCH, message_trace.SENDER_CACHE
    message_trace.BATCH = message_trace.SENDER_CACHE = batch
    try:
        assert summary(rows) == whole
    finally:
        message_trace.BATCH, message_trace.SENDER_CACHE = saved


def test_a_message_keeps_its_first_rows_pair_and_is_outbound_once_any_row_is():
    guid = GUIDS[1]
    rows = [
        {"MessageTraceId": guid, "SenderAddress": "a@contoso.com", "FromIP": "192.0.2.1",
         "RecipientAddress": "b@contoso.com", "Received": received(60)},
        {"MessageTraceId": guid.upper(), "SenderAddress": "a@contoso.com", "FromIP": "192.0.2.9",
         "RecipientAddress": "x@gmail.example", "Received": received(0)},
    ]  # fmt: skip
    saved = message_trace.BATCH
    message_trace.BATCH = 1  # each row its own batch: the second meets the first in the store
    try:
        (only,) = summary(rows)["Aggregates"]
    finally:
        message_trace.BATCH = saved
    assert (only["FromIP"], only["Outbound"], only["MessageCount"]) == ("192.0.2.1", True, 1)
    assert only["FirstReceived"] == only["LastReceived"] == "2026-11-19T00:01:00Z"


def brute_peak(events: list[tuple[int, int]], span: int) -> tuple[int, int | None]:
    """Every window that starts at an event, counted in full: the most events, and the earliest
    start among the windows with that many."""
    best, start = 0, None
    for first, _ in events:
        inside = sum(count for when, count in events if first <= when < first + span)
        if inside > best or (inside == best and start is not None and first < start):
            best, start = inside, first
    return best, start


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(1, 4)), max_size=40),
    st.sampled_from([HOUR, DAY]),
)
def test_a_rolling_peak_counts_every_window_that_starts_at_an_event(events, window):
    unit = window // 10  # times of 0 to 50 tenths of the window: many windows overlap
    micros = sorted((n * (unit // timedelta(microseconds=1)), count) for n, count in events)
    rolling = _Rolling(window)
    rolling.extend(micros)
    span = window // timedelta(microseconds=1)
    assert (rolling.best, rolling.start) == brute_peak(micros, span)
    assert rolling.count == sum(count for _, count in micros)


def test_a_rolling_peak_refuses_times_out_of_order():
    rolling = _Rolling(HOUR)
    rolling.add(10)
    with pytest.raises(ValueError, match="earliest first"):
        rolling.add(9)


def distinct_messages(count: int, start: int = 0) -> Iterator[dict]:
    """One row each, an hour apart so that no busiest window holds more than one."""
    for n in range(start, start + count):
        yield {
            "MessageTraceId": str(uuid.UUID(int=n + 1)),
            "SenderAddress": "a@contoso.com",
            "RecipientAddress": "x@partner.example",
            "Received": (T0 - timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }


def test_memory_does_not_grow_with_the_messages():
    """Python's own memory (tracemalloc; SQLite's pages are not Python's) after one batch of
    messages and after four more, each time just as a batch has gone to the store: kept in
    memory, as before, 20,000 more messages took over 100 bytes each (2 MB)."""
    batch = message_trace.BATCH
    with Totals(ACCEPTED) as totals:
        rows = distinct_messages(5 * batch)
        tracemalloc.start()
        try:
            for row in [next(rows) for _ in range(batch)]:
                totals.add(row)
            before = tracemalloc.get_traced_memory()[0]
            for row in rows:
                totals.add(row)
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert grown < 100_000, f"{grown} bytes more for {4 * batch} more messages"
        (bucket,) = totals.aggregates()
        assert bucket["MessageCount"] == 5 * batch


def test_the_database_holds_no_address_and_no_subject():
    rows = [
        {**row, "Subject": "Quarterly secrets", "RecipientAddress": f"person{n}@partner.example"}
        for n, row in enumerate(distinct_messages(50))
    ]
    with Totals(ACCEPTED) as totals:
        for row in rows:
            totals.add(row)
        totals.aggregates()
        dump = "\n".join(totals._store._db.iterdump())
    assert "INSERT" in dump
    for forbidden in ("@", "person", "partner", "contoso", "Quarterly"):
        assert forbidden not in dump


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux's /proc")
def test_the_database_file_is_owner_only_and_already_unlinked():
    store = TraceStore()
    try:
        # More than the page cache holds (made small here), so that SQLite writes its file.
        store._db.execute("PRAGMA cache_size = -64")
        store.add([(os.urandom(16), n, 0, 1) for n in range(20_000)], [])
        opened = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if "etilqs_" in target:  # the prefix of SQLite's temporary files
                opened.append((target, os.fstat(int(fd))))
        assert opened, "SQLite wrote no temporary file"
        for target, status in opened:
            assert status.st_nlink == 0, target
            assert stat.S_IMODE(status.st_mode) == 0o600, target
    finally:
        store.close()


def test_a_database_that_cannot_be_created_is_said_so(monkeypatch):
    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(trace_store.sqlite3, "connect", refuse)
    with pytest.raises(StoreError, match=r"temporary database failed: unable to open.*TMPDIR"):
        TraceStore()
