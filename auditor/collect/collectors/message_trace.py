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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, groupby
from operator import itemgetter
from typing import Any

from auditor.collect.collectors import CollectContext
from auditor.collect.collectors.trace_store import TraceStore
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
BATCH = 5000  # messages or recipients held before they go to the temporary database
SENDER_CACHE = 10_000  # distinct senders whose facts are kept (see Totals._sender)
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(when: datetime) -> int:
    return (when - _EPOCH) // _MICROSECOND


def _time(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _message_key(trace_id: str) -> bytes | str:
    """A message's key: a GUID (MessageTraceId always is one) as its 16 bytes, the same
    GUID however its letters are cased; any other id as it is (text never equals bytes)."""
    if len(trace_id) == 36 and _GUID.fullmatch(trace_id):
        return bytes.fromhex(trace_id.replace("-", ""))
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


@dataclass(frozen=True, slots=True)
class _SenderFacts:
    domain: str | None  # as the aggregates read it; None: no sender
    address: str  # as the sending limits read it: trimmed, without <>, lower-case
    excluded: str | None  # why the limits do not count its recipients
    own: int  # the index of the tenant's own sender, else -1
    onmicrosoft: bool


class Totals:
    """The counts the snapshot keeps, built one row at a time: distinct messages per sender
    domain, source IP and direction (the aggregates), and recipients as the sending limits
    count them. What would grow with the rows (each distinct message, each counted
    recipient's time) goes to a temporary database (`TraceStore`) a batch at a time. Held in
    memory: the (sender domain, source IP) pairs, the tenant's own and `onmicrosoft.com`
    senders, one batch, and at the end the instants of one busiest window (`_Rolling`).
    Close it (or use it in `with`)."""

    def __init__(self, accepted: Mapping[str, Mapping[str, Any]]):
        self.accepted = accepted
        self.rows = 0
        self.pairs: dict[tuple[str, str | None], int] = {}  # (sender domain, source IP)
        self.without_sender = 0
        self.excluded = {"ExpandedGroup": 0, "NullSender": 0, "SystemSender": 0, "NoRecipient": 0}
        self.external = 0
        self.moera = 0
        self.moera_senders: dict[str, int] = {}
        self.senders: dict[str, int] = {}  # the tenant's own senders, by their index
        self._covered: dict[str, bool] = {}  # domain -> an accepted domain covers it
        self._senders_seen: dict[str | None, _SenderFacts] = {}
        # The batch not yet in the store: each message once (its first row's time and pair,
        # outbound if any row is), and recipients counted per sender, direction and instant
        # (a message's recipients share its `Received`).
        self._messages: dict[bytes | str, tuple[int, int, int]] = {}
        self._recipients: dict[tuple[int, int, int, int], int] = {}
        self._store = TraceStore()

    def __enter__(self) -> Totals:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._store.close()

    def _pair(self, sender_domain: str, ip: str | None) -> int:
        index = self.pairs.get((sender_domain, ip))
        if index is None:
            index = self.pairs[(sender_domain, ip)] = len(self.pairs)
        return index

    def _inside(self, domain: str) -> bool:
        known = self._covered.get(domain)
        if known is None:
            known = self._covered[domain] = covering_domain(domain, self.accepted) is not None
        return known

    def _sender(self, address: Any) -> _SenderFacts:
        """What a row's sender decides, worked out once per distinct sender while the cache
        has room (it is emptied at SENDER_CACHE distinct senders: spam can bring millions)."""
        cacheable = address is None or isinstance(address, str)  # bounces have no sender
        facts = self._senders_seen.get(address) if cacheable else None
        if facts is None:
            facts = self._sender_facts(address)
            if cacheable:
                if len(self._senders_seen) >= SENDER_CACHE:
                    self._senders_seen.clear()
                self._senders_seen[address] = facts
        return facts

    def _sender_facts(self, address: Any) -> _SenderFacts:
        sender = str(address or "").strip().strip("<>").lower()
        domain = address_domain(sender)
        excluded = None
        if not domain:
            excluded = "NullSender"
        elif sender.rsplit("@", 1)[0] in SYSTEM_LOCAL_PARTS:
            excluded = "SystemSender"
        own = -1
        if domain and not excluded and self._inside(domain):  # the tenant's own senders
            own = self.senders.get(sender, -1)
            if own < 0:
                own = self.senders[sender] = len(self.senders)
        onmicrosoft = bool(domain) and domain.endswith(".onmicrosoft.com")
        # The aggregates read the address as it is (`<a@b>` names the domain `b>`).
        return _SenderFacts(address_domain(address), sender, excluded, own, onmicrosoft)

    def add(self, row: Mapping[str, Any], when: datetime | None = None) -> None:
        self.rows += 1
        micros = _micros(when or parse_time(str(row["Received"])))
        recipient = address_domain(row.get("RecipientAddress"))
        outside = recipient is not None and not self._inside(recipient)
        sender = self._sender(row.get("SenderAddress"))
        # The aggregates: every row with a sender, the expanded group's own row included.
        if not sender.domain:
            self.without_sender += 1  # bounces and other mail with an empty envelope sender
        else:
            key = _message_key(str(row.get("MessageTraceId") or row.get("MessageId")))
            held = self._messages.get(key)
            if held is None:
                pair = self._pair(sender.domain, row.get("FromIP") or None)
                self._messages[key] = (micros, pair, int(outside))
            elif outside and not held[2]:
                self._messages[key] = (held[0], held[1], 1)
        # The recipients, as the sending limits count them.
        if str(row.get("Status") or "").strip().lower() == EXPANDED:
            self.excluded["ExpandedGroup"] += 1
        elif sender.excluded:
            self.excluded[sender.excluded] += 1
        elif recipient is None:
            self.excluded["NoRecipient"] += 1
        else:
            moera = outside and sender.onmicrosoft
            if outside:
                self.external += 1
                if moera:
                    self.moera += 1
                    self.moera_senders[sender.address] = (
                        self.moera_senders.get(sender.address, 0) + 1
                    )
            if outside or sender.own >= 0:
                counted = (sender.own, int(outside), int(moera), micros)
                self._recipients[counted] = self._recipients.get(counted, 0) + 1
        if len(self._messages) >= BATCH or len(self._recipients) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        self._store.add(
            [(key, *held) for key, held in self._messages.items()],
            [(*key, count) for key, count in self._recipients.items()],
        )
        self._messages, self._recipients = {}, {}

    def aggregates(self) -> list[dict[str, Any]]:
        self._flush()
        pairs = list(self.pairs)
        found = []
        for pair, outbound, messages, first, last in chain.from_iterable(self._store.buckets()):
            domain, ip = pairs[pair]
            found.append(((domain, ip or "", bool(outbound)), messages, first, last))
        return [
            {
                "SenderDomain": domain,
                "FromIP": ip or None,
                "Outbound": outbound,
                "MessageCount": messages,
                "FirstReceived": _formatted(first),
                "LastReceived": _formatted(last),
            }
            for (domain, ip, outbound), messages, first, last in sorted(found)
        ]

    def recipients(self) -> dict[str, Any]:
        self._flush()
        moera_senders = sorted(self.moera_senders.items(), key=lambda i: (-i[1], i[0]))
        return {
            "ExternalRecipients": {
                "Counted": self.external,
                "Peak24h": self._peak(onmicrosoft=False),
                "OnMicrosoft": {
                    "Counted": self.moera,
                    "Peak24h": self._peak(onmicrosoft=True),
                    "Senders": [{"Sender": s, "ExternalRecipients": n} for s, n in moera_senders][
                        :TOP_SENDERS
                    ],
                },
                "Excluded": self.excluded,
            },
            "Senders": _busiest(self._measured()),
        }

    def _peak(self, *, onmicrosoft: bool) -> dict[str, Any]:
        """The busiest rolling 24 hours of external recipients (of `onmicrosoft.com` senders)."""
        rolling = _Rolling(DAY)
        for batch in self._store.times(onmicrosoft=onmicrosoft):
            rolling.extend(batch)
        return rolling.peak()

    def _measured(self) -> list[dict[str, Any]]:
        """Every measure of each of the tenant's own senders, from its recipients' times
        (earliest first, one sender after another): one sender's rolling windows at a time."""
        names = list(self.senders)
        measured: list[dict[str, Any]] = []
        for index, times in groupby(
            chain.from_iterable(self._store.sender_times()), key=itemgetter(0)
        ):
            every, external_day = _Rolling(DAY), _Rolling(DAY)
            external_hour, internal_hour = _Rolling(HOUR), _Rolling(HOUR)
            for _, outside, micros, count in times:
                every.add(micros, count)
                if outside:
                    external_day.add(micros, count)
                    external_hour.add(micros, count)
                else:
                    internal_hour.add(micros, count)
            measured.append(
                {
                    "Sender": names[index],
                    "Recipients": every.count,
                    "ExternalRecipients": external_day.count,
                    "Peak24h": every.peak(),
                    "Peak24hExternal": external_day.peak(),
                    "PeakHourExternal": external_hour.peak(),
                    "PeakHourInternal": internal_hour.peak(),
                }
            )
        return measured


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
    with _totals(rows, accepted) as totals:
        return totals.aggregates(), totals.without_sender


class _Rolling:
    """The most events in any `window` (rolling, as the service counts) and when that window
    began, the earliest such window when several tie, fed earliest first, a time and how many
    events it had. It holds only the current window: 16 bytes per distinct time (arrays whose
    head moves forward; what the head has passed is dropped once it is half of them)."""

    def __init__(self, window: timedelta):
        self.span = window // _MICROSECOND
        self.times: array[int] = array("q")
        self.counts: array[int] = array("q")
        self.head = 0  # the earliest time still in the window
        self.inside = 0  # events in the window
        self.count = 0  # events in all
        self.best = 0
        self.start: int | None = None

    def add(self, micros: int, count: int = 1) -> None:
        times, counts = self.times, self.counts
        if times and micros < times[-1]:
            raise ValueError("times must come earliest first")
        self.count += count
        times.append(micros)
        counts.append(count)
        inside = self.inside + count
        head = self.head
        while micros - times[head] >= self.span:
            inside -= counts[head]
            head += 1
        if head > len(times) // 2:
            del times[:head], counts[:head]
            head = 0
        self.head, self.inside = head, inside
        if inside > self.best:
            self.best, self.start = inside, times[head]

    def extend(self, events: Iterable[tuple[int, int]]) -> None:
        for micros, count in events:
            self.add(micros, count)

    def peak(self) -> dict[str, Any]:
        return {"Recipients": self.best, "PeakStart": _formatted(self.start)}


def peak(times: Iterable[datetime], window: timedelta) -> dict[str, Any]:
    """The most events in any `window` (rolling, as the service counts), and when that window
    began: the earliest such window when several tie."""
    rolling = _Rolling(window)
    rolling.extend((micros, 1) for micros in sorted(_micros(when) for when in times))
    return rolling.peak()


def _formatted(micros: int | None) -> str | None:
    return format_time(_time(micros)) if micros is not None else None


def recipients(
    rows: list[Mapping[str, Any]], accepted: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Recipients as the sending limits count them. External: a recipient whose domain no
    accepted domain covers (a subdomain only through MatchSubDomains). Not counted: the
    expanded group's own row, and mail from an empty or system sender."""
    with _totals(rows, accepted) as totals:
        return totals.recipients()


def _busiest(measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The busiest senders by each measure a limit applies to, each with all its measures."""
    by_sender = {m["Sender"]: m for m in measured}
    kept: set[str] = set()
    for measure in ("Peak24h", "Peak24hExternal", "PeakHourExternal", "PeakHourInternal"):
        ranked = sorted(by_sender, key=lambda s: (-by_sender[s][measure]["Recipients"], s))
        kept.update(s for s in ranked[:TOP_SENDERS] if by_sender[s][measure]["Recipients"])
    return [by_sender[s] for s in sorted(kept)]


def message_trace(ctx: CollectContext, limiter: RateLimiter | None = None) -> dict[str, Any]:
    exchange = ctx.need_exchange()
    end = ctx.trace_end or ctx.now
    accepted = {
        str(d["DomainName"]).lower(): d for d in ctx.dependencies["exchange.acceptedDomains"]
    }
    limiter = limiter or RateLimiter(
        on_wait=ctx.progress, sleep=lambda seconds: exchange.http.wait(seconds, f"{CMDLET} quota")
    )
    spans = windows(end, ctx.trace_days)
    # The instants two windows share, as the queries give them (whole seconds).
    seen = Seen(parse_time(format_time(lower)) for lower, _ in spans)
    with Totals(accepted) as totals:
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
    with _totals(rows, accepted) as totals:
        return _summary(totals, start, end)


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
