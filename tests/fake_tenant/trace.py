"""The demo tenant's raw message trace, as Get-MessageTraceV2 would answer it: one row per
message and recipient, with the subjects and recipient addresses a snapshot must never keep.

One generator serves both sides: `scripts/make_demo_tenant.py` aggregates these rows with the
collector's own code to write the demo snapshot, and the fake tenant serves the same rows,
moved in time, for live collection to aggregate again. The snapshot is therefore what
collection makes of the rows, not a second hand-written account of them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from auditor.common.timeutil import format_time, parse_time


@dataclass(frozen=True)
class Traffic:
    """Messages of one sender domain through one source IP, evenly spread over a period."""

    domain: str
    from_ip: str | None
    outbound: bool
    count: int
    first: str = "2026-11-13T09:02:11Z"
    last: str = "2026-11-20T05:58:40Z"
    senders: tuple[str, ...] = ()  # local parts; default sender0..sender6


# Senders of the tenant's own domains are its mailboxes (and the on-premises applications
# that relay through the hybrid connector): scripts/make_demo_tenant.py names the people.
US = ("alice.nguyen", "carol.diaz", "frank.li", "rosa.lima", "tina.weiss", "sales", "support")
UK = ("fiona.hughes", "george.evans", "harriet.price", "lucy.bennett")
TRAFFIC = (
    Traffic("tailspintoys.com", None, True, 1412, senders=US),
    Traffic("tailspintoys.com", None, False, 1830, senders=US),
    Traffic("tailspintoys.com", "203.0.113.25", True, 406, senders=("erp", "noreply")),
    Traffic("tailspin.co.uk", None, True, 650, senders=UK),
    Traffic("shop.tailspin.co.uk", "203.0.113.26", True, 61, senders=("orders",)),
    # planted: the scanner's shared mailbox still sends as the .onmicrosoft.com address
    Traffic("tailspintoys.onmicrosoft.com", None, True, 14, senders=("scanner",)),
    Traffic("tailspin-events.com", None, True, 77, senders=("hello",)),
    Traffic("contosopayroll.com", "40.92.18.20", False, 48),
    Traffic("gmail.com", "209.85.220.41", False, 130),
    Traffic("outlook.com", "40.92.10.11", False, 102),
    # planted: the on-premises server relays a domain that is accepted but unverified
    Traffic("wingtipdirect.com", "203.0.113.25", True, 120, senders=("orders", "billing")),
    # planted: spam relayed through the rogue connector's range
    Traffic(
        "wingtip-promo.net",
        "198.51.100.77",
        True,
        842,
        first="2026-11-17T03:10:05Z",
        last="2026-11-20T05:41:12Z",
    ),
)

# planted: Peggy's account, taken over, blasts 84 messages of 100 external recipients each
# (Bcc) in the ten hours before the outbound spam policy restricts her (OUT-002).
BURST_SENDER = "peggy.olson@tailspintoys.com"
BURST_START = "2026-11-19T12:05:00Z"
BURST_MESSAGES = 84
BURST_RECIPIENTS = 100

# A message to a distribution group: its own row is "Expanded", each member has a row.
GROUP = "partners-list@tailspintoys.com"
GROUP_MEMBERS = 6


def exchange_time(value: str, ticks: int = 0) -> str:
    """Exchange writes seven decimals (100 ns ticks): the collector must normalise them."""
    return parse_time(value).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ticks:07d}Z"


_EXCHANGE_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,7}))?Z?$")


def ticks(value: str) -> int:
    """An Exchange time as 100 ns ticks since the epoch: the precision message trace compares
    at (several rows share one `Received`; the next second is another value)."""
    match = _EXCHANGE_TIME.match(value.strip())
    if match is None:
        return int(parse_time(value).timestamp()) * 10_000_000
    whole = parse_time(match.group(1) + "Z")
    fraction = (match.group(2) or "").ljust(7, "0")
    return int(whole.timestamp()) * 10_000_000 + int(fraction)


def _row(trace_id: str, received: datetime, fraction: int, sender: str, recipient: str, **extra):
    return {
        "MessageTraceId": trace_id,
        "MessageId": f"<{trace_id}@mail.example>",
        "Received": exchange_time(format_time(received), fraction),
        "SenderAddress": sender,
        "RecipientAddress": recipient,
        "FromIP": None,
        "ToIP": None,
        "Subject": f"Quarterly update for {recipient}",
        "Status": "Delivered",
        "Size": 20_000,
        **extra,
    }


def _traffic_rows(n: int, traffic: Traffic, delta: timedelta) -> list[dict[str, Any]]:
    """One row per message, and a second (internal) recipient on every tenth message."""
    rows = []
    count = traffic.count
    first, last = parse_time(traffic.first) + delta, parse_time(traffic.last) + delta
    step = (last - first) / (count - 1) if count > 1 else timedelta(0)
    for i in range(count):
        received = (last if i == count - 1 else first + step * i).replace(microsecond=0)
        # Seven decimals, from a few values only: messages of one second can share one.
        fraction = ((n + i) % 3) * 3_333_333
        trace_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"trace/{n}/{i}"))
        recipient = (
            f"contact{i % 13}@partner{i % 5}.example"
            if traffic.outbound
            else f"staff{i % 11}@tailspintoys.com"
        )
        local = traffic.senders[i % len(traffic.senders)] if traffic.senders else f"sender{i % 7}"
        base = _row(
            trace_id,
            received,
            fraction,
            f"{local}@{traffic.domain}",
            recipient,
            FromIP=traffic.from_ip,
            Size=20_000 + i,
        )
        rows.append(base)
        if i % 10 == 0:
            rows.append({**base, "RecipientAddress": f"archive{i % 3}@tailspintoys.com"})
    return rows


def _burst_rows(delta: timedelta) -> list[dict[str, Any]]:
    start = parse_time(BURST_START) + delta
    rows = []
    for m in range(BURST_MESSAGES):
        received = start + timedelta(minutes=7 * m)
        trace_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"burst/{m}"))
        for r in range(BURST_RECIPIENTS):
            rows.append(
                _row(
                    trace_id,
                    received,
                    0,
                    BURST_SENDER,
                    f"lead{m * BURST_RECIPIENTS + r}@prospects{r % 9}.example",
                    Subject="Invoice overdue",
                )
            )
    return rows


def _group_rows(delta: timedelta) -> list[dict[str, Any]]:
    received = parse_time("2026-11-18T10:30:00Z") + delta
    trace_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "group/1"))
    sender = "info@tailspintoys.com"
    rows = [_row(trace_id, received, 0, sender, GROUP, Status="Expanded")]
    rows += [
        _row(trace_id, received, 0, sender, f"partner{k}@reseller{k}.example")
        for k in range(GROUP_MEMBERS)
    ]
    return rows


def newest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first, and by recipient within one instant: the order continuation relies on."""
    rows.sort(key=lambda r: r["RecipientAddress"])
    rows.sort(key=lambda r: ticks(r["Received"]), reverse=True)
    return rows


def demo_rows(delta: timedelta = timedelta(0)) -> list[dict[str, Any]]:
    """Every row of the demo tenant's trace period, moved by `delta`, newest first."""
    rows: list[dict[str, Any]] = []
    for n, traffic in enumerate(TRAFFIC):
        rows += _traffic_rows(n, traffic, delta)
    rows += _burst_rows(delta)
    rows += _group_rows(delta)
    return newest_first(rows)


# A high-volume sender the tenant never registered, planted in the scaled-up trace.
BULK_DOMAIN = "bulk-offers.example"
BULK_IP = "198.51.100.200"


def busy_trace(start: datetime, count: int, domain: str) -> list[dict[str, Any]]:
    """`count` more rows in the hours before `start`, as a busy tenant has them: four messages
    in most instants (so many rows share one `Received` to the tick), a second recipient on
    every third message, and one message in twelve from BULK_DOMAIN through a relay."""
    rows: list[dict[str, Any]] = []
    n = 0
    while len(rows) < count:
        instant = start - timedelta(seconds=1 + n // 8, microseconds=0)
        fraction = (n // 4 % 2) * 5_000_001
        trace_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"busy/{n}"))
        bulk = n % 12 == 0
        sender = f"offers{n % 5}@{BULK_DOMAIN}" if bulk else f"user{n % 97}@{domain}"
        base = {
            "MessageTraceId": trace_id,
            "MessageId": f"<{trace_id}@busy.example>",
            "Received": exchange_time(format_time(instant), fraction),
            "SenderAddress": sender,
            "RecipientAddress": f"rcpt{n % 211}@partner{n % 7}.example",
            "FromIP": BULK_IP if bulk else None,
            "ToIP": None,
            "Subject": f"Busy day {n}",
            "Status": "Delivered",
            "Size": 10_000 + n,
        }
        rows.append(base)
        if n % 3 == 0 and len(rows) < count:
            rows.append({**base, "RecipientAddress": f"team{n % 17}@{domain}"})
        n += 1
    return rows
