"""Collectors: one function per named source, reading one API and trimming its records."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditor.collect.dnsquery import DnsClient
from auditor.collect.exchange import ExchangeClient
from auditor.collect.graph import GraphClient
from auditor.collect.http import ApiError
from auditor.common.timeutil import format_time, parse_time


@dataclass
class CollectContext:
    graph: GraphClient | None
    exchange: ExchangeClient | None
    now: datetime
    trace_days: int = 7
    trace_end: datetime | None = None
    dns: DnsClient | None = None
    dnsbl_zones: tuple[str, ...] = ("zen.spamhaus.org",)
    dnsbl_max_addresses: int = 16
    dependencies: Mapping[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    progress: Callable[[str], None] = lambda _text: None
    # What the source's `prefetch` read while its dependencies were still being collected:
    # its result, or its exception raised again. None when the source has no prefetch.
    prefetched: Callable[[], Any] | None = None

    def need_graph(self) -> GraphClient:
        if self.graph is None:
            raise ApiError(None, "no Graph client")
        return self.graph

    def need_dns(self) -> DnsClient:
        if self.dns is None:
            raise ApiError(None, "no DNS resolver")
        return self.dns

    def need_exchange(self) -> ExchangeClient:
        if self.exchange is None:
            raise ApiError(None, "no Exchange client")
        return self.exchange


def project(record: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Keep only the fields the checks use: smaller snapshots, nothing personal by accident."""
    return {f: record[f] for f in fields if f in record}


_DOTNET_DATE = re.compile(r"^/Date\((-?\d+)")


def normalise_time(value: Any) -> Any:
    """Exchange writes times as ISO 8601 with seven decimals, or as `/Date(ms)/`; the
    snapshot holds them as whole-second UTC with a Z."""
    if not isinstance(value, str) or not value:
        return value
    dotnet = _DOTNET_DATE.match(value)
    if dotnet:
        return format_time(datetime.fromtimestamp(int(dotnet.group(1)) / 1000, UTC))
    try:
        return format_time(parse_time(value))
    except ValueError:
        return value
