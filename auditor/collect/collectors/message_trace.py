"""Message trace, aggregated while it is read.

Raw rows are large and personal (subjects, recipients) and no check needs them, so they never
leave this module. What is kept: counts of messages per (sender domain, source IP, outbound)
with the first and last time each was seen; and, for Microsoft's sending limits, recipients
counted as Exchange Online counts them (one per message and recipient, after a distribution
group is expanded), the busiest rolling 24 hours and hour, tenant-wide, for
`*.onmicrosoft.com` senders, and per sender of the tenant's own domains (the busiest
senders only). Sender addresses are kept for those; recipient addresses never are.
"""

from __future__ import annotations

import re
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.collect.collectors import CollectContext
from auditor.collect.exchange import ExchangeClient, is_truncation, refuse_empty_with_warning
from auditor.collect.http import ApiError
from auditor.common.timeutil import format_time, parse_time
from auditor.mail.domains import address_domain, covering_domain

CMDLET = "Get-MessageTraceV2"
DAY = timedelta(hours=24)  # Exchange Online's sending limits count over a rolling 24 hours
HOUR = timedelta(hours=1)  # outbound spam policies limit recipients per hour
TOP_SENDERS = 25  # per ranking kept: by all recipients a day, external a day, external an hour
# A distribution group's own row; its members have rows of their own (CSS-Exchange's TERRL
# estimator excludes it the same way).
EXPANDED = "expanded"
# Senders the limits do not count: bounces and notices (an empty sender, postmaster,
# mailer-daemon) and the Microsoft Exchange Recipient that sends system mail.
SYSTEM_LOCAL_PARTS = frozenset(
    {"postmaster", "mailer-daemon", "microsoftexchange329e71ec88ae4615bbc36ab6ce41109e"}
)
WINDOW = timedelta(days=10)  # the longest span one query may cover
PAGE_SIZE = 5000  # the largest ResultSize the cmdlet takes
QUERIES_PER_PERIOD = 100
PERIOD_SECONDS = 300.0


class RateLimiter:
    """At most `limit` calls in any `period` seconds (the cmdlet's own quota), waiting when
    the next call would exceed it."""

    def __init__(
        self,
        limit: int = QUERIES_PER_PERIOD,
        period: float = PERIOD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[str], None] | None = None,
    ):
        self.limit = limit
        self.period = period
        self.clock = clock
        self.sleep = sleep
        self.on_wait = on_wait
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self.clock()
            while self._calls and now - self._calls[0] >= self.period:
                self._calls.popleft()
            if len(self._calls) >= self.limit:
                wait = self.period - (now - self._calls[0])
                if self.on_wait:
                    self.on_wait(
                        f"{CMDLET}: {self.limit} queries in {self.period:.0f}s, waiting {wait:.0f}s"
                    )
                self.sleep(wait)
                self._calls.popleft()
                now = self.clock()
            self._calls.append(now)


@dataclass
class _Bucket:
    messages: int = 0
    first: int | None = None  # microseconds since the epoch
    last: int | None = None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(when: datetime) -> int:
    return (when - _EPOCH) // _MICROSECOND


def _time(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _times() -> array[int]:
    """Times kept one per counted recipient, as microseconds in 8 bytes each (a datetime
    and the pointer to it took 56)."""
    return array("q")


_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# A message's entry packs its (sender domain, source IP) pair, as a number below 2**31, and
# whether it is outbound into the low bits; its received time above them.
_PAIR_BITS = 31


def _message_key(trace_id: str) -> int | str:
    """A message's key: a GUID (MessageTraceId always is one) as its 128-bit number, 44
    bytes instead of a string's 85, and the same GUID however its letters are cased; any
    other id as it is."""
    if len(trace_id) == 36 and _GUID.fullmatch(trace_id):
        return int(trace_id.replace("-", ""), 16)
    return trace_id


def windows(end: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """[start, end) spans of at most ten days covering the last `days` days, newest first."""
    start = end - timedelta(days=days)
    spans = []
    upper = end
    while upper > start:
        lower = max(start, upper - WINDOW)
        spans.append((lower, upper))
        upper = lower
    return spans


_COMMAND_PARAMETER = re.compile(r'-(\w+)\s+"([^"]*)"')


def continuation(warnings: tuple[str, ...]) -> dict[str, str] | None:
    """The parameters of the next query when the gateway says there are more results: its
    warning spells out the command (`Get-MessageTraceV2 -StartDate "..." -EndDate "..."
    -StartingRecipientAddress "..." -ResultSize 5000`)."""
    for warning in warnings:
        if "more results" in warning.lower() and CMDLET.lower() in warning.lower():
            return dict(_COMMAND_PARAMETER.findall(warning))
    return None


def next_end_date(last: Mapping[str, Any], suggested: str | None) -> str:
    """The continuation's EndDate: the last row's own `Received`, as the cmdlet's page says,
    at its full precision (seven decimals; several rows can share one second). A value from
    the warning that names another second wins: the service knows where it stopped."""
    received = str(last["Received"])
    if suggested:
        try:
            apart = abs((parse_time(suggested) - parse_time(received)).total_seconds())
        except ValueError:
            apart = 0.0
        if apart >= 1.0:
            return suggested
    return received


def _rows_in_window(
    exchange: ExchangeClient,
    start: datetime,
    end: datetime,
    limiter: RateLimiter,
    progress: Callable[[str], None],
    seen: Seen,
    totals: Totals,
) -> None:
    """Every row of one window. The cmdlet has no paging: a full answer ends with a warning
    naming the next query, which continues from the last row's `Received` and recipient (rows
    come newest first, ties by recipient) and repeats that boundary row. Rows are
    de-duplicated on (MessageTraceId, recipient) where they can repeat (`Seen`). Each row is
    counted as its page arrives and dropped: memory follows the counts, not the rows."""
    params: dict[str, Any] = {
        "StartDate": format_time(start),
        "EndDate": format_time(end),
        "ResultSize": PAGE_SIZE,
    }
    taken = 0
    while True:
        limiter.acquire()
        answer = exchange.call(CMDLET, params, label="exchange.messageTrace")
        page = answer.records
        more = continuation(answer.warnings)
        cut = [w for w in answer.warnings if is_truncation(w) and more is None]
        if cut:
            raise ApiError(200, f"{CMDLET} returned an incomplete result: {cut[0][:200]}")
        if more is None:
            refuse_empty_with_warning(CMDLET, answer)
        fresh = 0
        keys: list[tuple[str, datetime]] = []
        for row in page:
            key = f"{row.get('MessageTraceId')}\n{str(row.get('RecipientAddress')).lower()}"
            when = parse_time(str(row["Received"]))
            keys.append((key, when))
            if seen.first_time(key, when):
                totals.add(row, when)
                fresh += 1
        taken += fresh
        progress(f"exchange.messageTrace: {taken} rows from {params['StartDate'][:10]}")
        if more is None and len(page) < PAGE_SIZE:
            return
        if not page:
            raise ApiError(200, f"{CMDLET} said there were more results but returned none")
        if fresh == 0:
            raise ApiError(200, f"{CMDLET} paging stalled: the continuation held no new row")
        last = page[-1]
        params = {
            **params,
            "EndDate": next_end_date(last, (more or {}).get("EndDate")),
            "StartingRecipientAddress": (more or {}).get("StartingRecipientAddress")
            or last["RecipientAddress"],
        }
        seen.page_done(keys, parse_time(str(params["EndDate"])))


class Seen:
    """The rows counted already that a later answer can repeat, and only those: the rows of
    the page before at or after the continuation's EndDate (the next query starts there and
    repeats them; normally the rows of the page's last instant), and the rows at the instant
    two adjacent windows share. Memory follows the rows of one instant, not of the trace."""

    def __init__(self, edges: Iterable[datetime]):
        self.edges = frozenset(edges)
        self.at_edges: set[str] = set()
        self.previous: set[str] = set()

    def first_time(self, key: str, when: datetime) -> bool:
        if key in self.previous or key in self.at_edges:
            return False
        if when in self.edges:
            self.at_edges.add(key)
        return True

    def page_done(self, keys: list[tuple[str, datetime]], next_end: datetime) -> None:
        """The page's rows the next query (which ends at `next_end`) can answer again."""
        self.previous = {key for key, when in keys if when <= next_end}


class Totals:
    """The counts the snapshot keeps, built one row at a time: distinct messages per sender
    domain, source IP and direction (the aggregates), and recipients as the sending limits
    count them. Only one time per counted recipient is held, never a row."""

    def __init__(self, accepted: Mapping[str, Mapping[str, Any]]):
        self.accepted = accepted
        self.rows = 0
        # Each distinct message: one number (its received time, its pair's index, outbound).
        self.messages: dict[int | str, int] = {}
        self.pairs: dict[tuple[str, str | None], int] = {}  # (sender domain, source IP)
        self.without_sender = 0
        self.excluded = {"ExpandedGroup": 0, "NullSender": 0, "SystemSender": 0, "NoRecipient": 0}
        self.external = _times()
        self.moera = _times()
        self.moera_senders: dict[str, int] = {}
        self.senders: dict[str, _Sender] = {}
        self._covered: dict[str, bool] = {}  # domain -> an accepted domain covers it

    def _pair(self, sender_domain: str, ip: str | None) -> int:
        index = self.pairs.get((sender_domain, ip))
        if index is None:
            index = self.pairs[(sender_domain, ip)] = len(self.pairs)
            if index >= 1 << _PAIR_BITS:
                raise ValueError("more sender domain and source IP pairs than a trace can hold")
        return index

    def _inside(self, domain: str) -> bool:
        known = self._covered.get(domain)
        if known is None:
            known = self._covered[domain] = covering_domain(domain, self.accepted) is not None
        return known

    def add(self, row: Mapping[str, Any], when: datetime | None = None) -> None:
        self.rows += 1
        micros = _micros(when or parse_time(str(row["Received"])))
        recipient = address_domain(row.get("RecipientAddress"))
        # The aggregates: every row with a sender, the expanded group's own row included.
        sender_domain = address_domain(row.get("SenderAddress"))
        if not sender_domain:
            self.without_sender += 1  # bounces and other mail with an empty envelope sender
        else:
            key = _message_key(str(row.get("MessageTraceId") or row.get("MessageId")))
            external = recipient is not None and not self._inside(recipient)
            entry = self.messages.get(key)
            if entry is None:
                # The first row with a sender names the message's pair, as it always did.
                pair = self._pair(sender_domain, row.get("FromIP") or None)
                self.messages[key] = (micros << (_PAIR_BITS + 1)) | (pair << 1) | external
            elif external and not entry & 1:
                self.messages[key] = entry | 1
        # The recipients, as the sending limits count them.
        if str(row.get("Status") or "").strip().lower() == EXPANDED:
            self.excluded["ExpandedGroup"] += 1
            return
        sender = str(row.get("SenderAddress") or "").strip().strip("<>").lower()
        sender_domain = address_domain(sender)
        if not sender_domain:
            self.excluded["NullSender"] += 1
            return
        if sender.rsplit("@", 1)[0] in SYSTEM_LOCAL_PARTS:
            self.excluded["SystemSender"] += 1
            return
        if recipient is None:
            self.excluded["NoRecipient"] += 1
            return
        outside = not self._inside(recipient)
        if outside:
            self.external.append(micros)
            if sender_domain.endswith(".onmicrosoft.com"):
                self.moera.append(micros)
                self.moera_senders[sender] = self.moera_senders.get(sender, 0) + 1
        if self._inside(sender_domain):  # the tenant's own senders
            counts = self.senders.setdefault(sender, _Sender())
            (counts.external if outside else counts.internal).append(micros)

    def aggregates(self) -> list[dict[str, Any]]:
        pairs = list(self.pairs)
        mask = (1 << _PAIR_BITS) - 1
        buckets: dict[tuple[str, str, bool], _Bucket] = {}
        for entry in self.messages.values():
            received = entry >> (_PAIR_BITS + 1)
            domain, ip = pairs[(entry >> 1) & mask]
            bucket = buckets.setdefault((domain, ip or "", bool(entry & 1)), _Bucket())
            bucket.messages += 1
            if bucket.first is None or received < bucket.first:
                bucket.first = received
            if bucket.last is None or received > bucket.last:
                bucket.last = received
        return [
            {
                "SenderDomain": domain,
                "FromIP": ip or None,
                "Outbound": outbound,
                "MessageCount": bucket.messages,
                "FirstReceived": _formatted(bucket.first),
                "LastReceived": _formatted(bucket.last),
            }
            for (domain, ip, outbound), bucket in sorted(buckets.items())
        ]

    def recipients(self) -> dict[str, Any]:
        moera_senders = sorted(self.moera_senders.items(), key=lambda i: (-i[1], i[0]))
        return {
            "ExternalRecipients": {
                "Counted": len(self.external),
                "Peak24h": _peak(self.external, DAY),
                "OnMicrosoft": {
                    "Counted": len(self.moera),
                    "Peak24h": _peak(self.moera, DAY),
                    "Senders": [{"Sender": s, "ExternalRecipients": n} for s, n in moera_senders][
                        :TOP_SENDERS
                    ],
                },
                "Excluded": self.excluded,
            },
            "Senders": _busiest(self.senders),
        }


def _totals(rows: list[Mapping[str, Any]], accepted: Mapping[str, Mapping[str, Any]]) -> Totals:
    totals = Totals(accepted)
    for row in rows:
        totals.add(row)
    return totals


def aggregate(
    rows: list[Mapping[str, Any]], accepted: Mapping[str, Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """Counts of distinct messages per (sender domain, source IP, outbound); a message is
    outbound when any of its recipients is outside the accepted domains."""
    totals = _totals(rows, accepted)
    return totals.aggregates(), totals.without_sender


def peak(times: Iterable[datetime], window: timedelta) -> dict[str, Any]:
    """The most events in any `window` (rolling, as the service counts), and when that window
    began: the earliest such window when several tie."""
    return _peak([_micros(when) for when in times], window)


def _peak(times: Iterable[int], window: timedelta) -> dict[str, Any]:
    """peak() of times in microseconds since the epoch."""
    ordered = sorted(times)
    span = window // _MICROSECOND
    best, start, low = 0, None, 0
    for high, when in enumerate(ordered):
        while when - ordered[low] >= span:
            low += 1
        if high - low + 1 > best:
            best, start = high - low + 1, ordered[low]
    return {"Recipients": best, "PeakStart": _formatted(start)}


def _formatted(micros: int | None) -> str | None:
    return format_time(_time(micros)) if micros is not None else None


@dataclass
class _Sender:
    internal: array[int] = field(default_factory=_times)
    external: array[int] = field(default_factory=_times)


def recipients(
    rows: list[Mapping[str, Any]], accepted: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Recipients as the sending limits count them. External: a recipient whose domain no
    accepted domain covers (a subdomain only through MatchSubDomains). Not counted: the
    expanded group's own row, and mail from an empty or system sender."""
    return _totals(rows, accepted).recipients()


def _busiest(senders: Mapping[str, _Sender]) -> list[dict[str, Any]]:
    """The busiest senders by each measure a limit applies to, each with all its measures."""
    measured = {
        sender: {
            "Sender": sender,
            "Recipients": len(c.internal) + len(c.external),
            "ExternalRecipients": len(c.external),
            "Peak24h": _peak(c.internal + c.external, DAY),
            "Peak24hExternal": _peak(c.external, DAY),
            "PeakHourExternal": _peak(c.external, HOUR),
            "PeakHourInternal": _peak(c.internal, HOUR),
        }
        for sender, c in senders.items()
    }
    kept: set[str] = set()
    for measure in ("Peak24h", "Peak24hExternal", "PeakHourExternal", "PeakHourInternal"):
        ranked = sorted(measured, key=lambda s: (-measured[s][measure]["Recipients"], s))
        kept.update(s for s in ranked[:TOP_SENDERS] if measured[s][measure]["Recipients"])
    return [measured[s] for s in sorted(kept)]


def message_trace(ctx: CollectContext, limiter: RateLimiter | None = None) -> dict[str, Any]:
    exchange = ctx.need_exchange()
    end = ctx.trace_end or ctx.now
    accepted = {
        str(d["DomainName"]).lower(): d for d in ctx.dependencies["exchange.acceptedDomains"]
    }
    limiter = limiter or RateLimiter(
        on_wait=ctx.progress, sleep=lambda seconds: exchange.http.wait(seconds, f"{CMDLET} quota")
    )
    totals = Totals(accepted)
    spans = windows(end, ctx.trace_days)
    # The instants two windows share, as the queries give them (whole seconds).
    seen = Seen(parse_time(format_time(lower)) for lower, _ in spans)
    for start, stop in spans:
        _rows_in_window(exchange, start, stop, limiter, ctx.progress, seen, totals)
    return _summary(totals, end - timedelta(days=ctx.trace_days), end)


def summarise(
    rows: list[Mapping[str, Any]],
    accepted: Mapping[str, Mapping[str, Any]],
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """What the snapshot keeps of the rows of [start, end): counts, never the rows."""
    return _summary(_totals(rows, accepted), start, end)


def _summary(totals: Totals, start: datetime, end: datetime) -> dict[str, Any]:
    data: dict[str, Any] = {
        "StartDate": format_time(start),
        "EndDate": format_time(end),
        "Aggregates": totals.aggregates(),
        "Rows": totals.rows,
        **totals.recipients(),
    }
    if totals.without_sender:
        data["RowsWithoutSender"] = totals.without_sender
    return data
