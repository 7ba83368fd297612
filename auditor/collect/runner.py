"""Collect: run the collectors the selected checks need, concurrently, into one snapshot.

Each source stands alone: one that fails is recorded as `error` with a one-line reason that
names the permission or licence to grant, and fails only the checks that need it.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from auditor import snapshot
from auditor.collect.auth import AuthError, DeviceCode, TokenSource, token_claims
from auditor.collect.catalogue import describe, with_dependencies
from auditor.collect.clouds import Cloud
from auditor.collect.collectors import CollectContext
from auditor.collect.deadline import DeadlineExceeded
from auditor.collect.dnsquery import DnsClient
from auditor.collect.exchange import APP_ANCHOR, ExchangeClient
from auditor.collect.graph import GraphClient
from auditor.collect.http import ApiError, HttpClient
from auditor.common.redact import redact
from auditor.common.timeutil import format_time, utc_now

GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
DEFAULT_DEADLINE = 1800.0  # 30 minutes: far inside GitHub's 6-hour job limit
# Cmdlets in flight at once against the Exchange admin API. No public limit is documented
# for the REST gateway; throttling answers (429 with a wait) are honoured by the client.
EXCHANGE_CONCURRENCY = 3
# Sources whose requests follow one another the longest: started first among equals.
LONG_SOURCES = frozenset({"exchange.messageTrace", "graph.users", "exchange.sharedMailboxes"})


@dataclass(frozen=True)
class CollectOptions:
    trace_days: int = 7
    trace_end: datetime | None = None
    workers: int = 16  # sources in flight at once (they wait on the network)
    dns_server: str | None = None
    dnsbl_zones: tuple[str, ...] = ("zen.spamhaus.org",)
    dnsbl_max_addresses: int = 16
    deadline: float = DEFAULT_DEADLINE  # seconds for the whole collection, sign-in included


def api_cause(name: str, exc: ApiError, delegated: bool) -> dict[str, str]:
    """What kind of failure an API answer was, and what to change: said once per root cause
    in reports, however many sources it stopped."""
    info = describe(name)
    summary = exc.message or f"HTTP {exc.status}"
    if exc.status not in (401, 403):
        return {"kind": "service", "summary": summary}
    service = "Exchange Online" if info.service == "exchange" else "Microsoft Graph"
    summary = f"{service} refused access: {summary}"
    if info.licence and "licen" in exc.message.lower():
        return {
            "kind": "licence",
            "summary": summary,
            "fix": f"the tenant needs {info.licence} to read {info.api}",
        }
    if info.service == "exchange":
        if delegated:
            fix = (
                "sign in as an admin who holds the Entra role Global Reader (or another role "
                "that reads Exchange Online), with the delegated Exchange.Manage permission "
                "consented"
            )
        elif exc.status == 403:
            # The gateway's 403 (often a body of NUL bytes) is the app without a directory role.
            fix = "assign the Entra role Global Reader to the app's service principal"
        else:
            fix = (
                "grant the app the application permission Exchange.ManageAsApp (Office 365 "
                "Exchange Online) with admin consent, and the Entra role Global Reader"
            )
    elif delegated:
        fix = (
            f"consent to the delegated Microsoft Graph permission {info.permission}, and sign "
            "in as an admin whose role can read it (Global Reader does)"
        )
    else:
        fix = (
            f"grant the app the Microsoft Graph application permission {info.permission} "
            "with admin consent"
        )
    if info.licence:
        fix += f" (the tenant needs {info.licence})"
    return {"kind": "permission", "summary": summary, "fix": fix}


def tenant_guid(*candidates: Any) -> str | None:
    """The first candidate that is a tenant GUID (--tenant, a token's `tid`), lower-case."""
    for candidate in candidates:
        if isinstance(candidate, str) and GUID.match(candidate):
            return candidate.lower()
    return None


def exchange_anchor(tenant_id: str, claims: dict[str, Any], delegated: bool) -> str:
    """`X-AnchorMailbox` for the gateway: the app's system mailbox, or for a delegated sign-in
    the signed-in admin's own mailbox."""
    user = claims.get("upn") or claims.get("preferred_username")
    if delegated and user:
        return f"UPN:{user}"
    return f"{APP_ANCHOR}{tenant_id}"


def _reason(cause: dict[str, str]) -> str:
    """The one-line error kept beside the cause: what happened, then what to do."""
    return f"{cause['summary']}; {cause['fix']}" if cause.get("fix") else cause["summary"]


class Collector:
    def __init__(
        self,
        tenant: str,
        cloud: Cloud,
        tokens: TokenSource,
        http: HttpClient,
        options: CollectOptions = CollectOptions(),
        progress: Callable[[str], None] = lambda _text: None,
    ):
        self.tenant = tenant
        self.cloud = cloud
        self.tokens = tokens
        self.http = http
        self.options = options
        self.progress = progress
        self.deadline = http.deadline
        self.missed: list[str] = []  # sources the deadline stopped
        # Each source's entry as the snapshot's text will hold it, encoded as it came in.
        self.encoded: dict[str, str] = {}
        self.exchange_problem = ""  # why Exchange could not be reached at all
        self.delegated = isinstance(getattr(tokens, "credential", None), DeviceCode)

    def _clients(self, services: set[str]) -> tuple[GraphClient | None, ExchangeClient | None]:
        """Tokens first, before any thread starts: an auth failure stops the run at once."""
        graph = exchange = None
        if "graph" in services:
            self.tokens.token(self.cloud.graph_scope)
            graph = GraphClient(
                self.http,
                lambda: self.tokens.token(self.cloud.graph_scope),
                self.cloud.graph_url,
                lambda stale: self.tokens.renew(self.cloud.graph_scope, stale),
            )
        if "exchange" in services:
            claims = token_claims(self.tokens.token(self.cloud.exchange_scope))
            try:
                tenant_id = self._tenant_id(claims, graph)
            except ApiError as exc:
                self.exchange_problem = (
                    f"the tenant's GUID, which the Exchange gateway needs, could not be read: "
                    f"{exc.message}"
                )
                return graph, None
            exchange = ExchangeClient(
                self.http,
                lambda: self.tokens.token(self.cloud.exchange_scope),
                self.cloud.exchange_url,
                tenant_id,
                exchange_anchor(tenant_id, claims, self.delegated),
                lambda stale: self.tokens.renew(self.cloud.exchange_scope, stale),
            )
        return graph, exchange

    def _tenant_id(self, claims: dict[str, Any], graph: GraphClient | None) -> str:
        """The tenant's GUID: the gateway answers 401 to a domain in its URL. --tenant may be
        one already; else the Exchange token says it (`tid`); else Graph's /organization."""
        found = tenant_guid(self.tenant, claims.get("tid"))
        if found:
            return found
        if graph is None:
            raise ApiError(None, "the token carries no tenant id and Graph is not in use")
        rows = graph.get_all("organization", {"$select": "id"}, label="tenant id")
        if len(rows) != 1 or not GUID.match(str(rows[0].get("id", ""))):
            raise ApiError(200, "GET /organization did not answer one organization id")
        return str(rows[0]["id"]).lower()

    def collect(self, sources: Iterable[str]) -> dict[str, Any]:
        """A snapshot document (not yet written) for `sources` and their dependencies."""
        names = with_dependencies(sources)
        services = {describe(n).service for n in names}
        graph, exchange = self._clients(services)
        dns = (
            DnsClient(self.options.dns_server, deadline=self.deadline)
            if "dns" in services
            else None
        )
        started = utc_now()
        data: dict[str, Any] = {}
        records: dict[str, dict[str, Any]] = {}

        def context_for(dependencies: Mapping[str, Any]) -> CollectContext:
            return CollectContext(
                graph=graph,
                exchange=exchange,
                now=started,
                trace_days=self.options.trace_days,
                trace_end=self.options.trace_end,
                dns=dns,
                dnsbl_zones=self.options.dnsbl_zones,
                dnsbl_max_addresses=self.options.dnsbl_max_addresses,
                dependencies=dependencies,
                progress=self.progress,
            )

        def prefetch(name: str) -> Any:
            """The source's prefetch, run now; its future holds the result or the error,
            which `Future.result()` raises again in the source's own collection."""
            step = describe(name).prefetch
            assert step is not None
            return step(context_for({}))

        def run(name: str, early: Future | None = None) -> dict[str, Any]:
            info = describe(name)
            for dependency in info.depends:
                if records[dependency]["status"] != "ok":
                    summary = f"not collected: {dependency} failed"
                    return self._error(
                        name, {"kind": "dependency", "summary": summary, "source": dependency}
                    )
            context = replace(
                context_for({d: data[d] for d in info.depends}),
                prefetched=early.result if early is not None else None,
            )
            if info.collect is None:
                return self._error(
                    name,
                    {"kind": "plugin", "summary": "no collector for this source (plugin source)"},
                )
            if info.service == "exchange" and exchange is None and self.exchange_problem:
                return self._error(name, {"kind": "tenant-id", "summary": self.exchange_problem})
            self.progress(f"{name}: collecting ({info.api})")
            try:
                self.deadline.check(f"{name} was collected")
                result = info.collect(context)
            except DeadlineExceeded as exc:
                self.missed.append(name)
                fix = "give --deadline more seconds, or audit fewer checks (--check)"
                return self._error(name, {"kind": "deadline", "summary": str(exc), "fix": fix})
            except ApiError as exc:
                return self._error(name, api_cause(name, exc, self.delegated))
            except AuthError as exc:
                return self._error(name, {"kind": "sign-in", "summary": str(exc)})
            except Exception as exc:  # an answer no collector expected: this source only
                detail = str(exc).splitlines()[0][:200] if str(exc) else ""
                summary = f"collector failed: {type(exc).__name__}: {detail}"
                return self._error(name, {"kind": "collector", "summary": summary})
            problem = snapshot.data_problem(name, result)
            if problem:
                return self._error(name, {"kind": "data", "summary": problem})
            data[name] = result
            count = len(result) if isinstance(result, list) else 1
            self.progress(f"{name}: {count} records")
            record = {"status": "ok", "collectedAt": format_time(utc_now()), "data": result}
            if context.notes:
                record["note"] = "; ".join(context.notes)
            return record

        self._schedule(names, run, prefetch, records)
        return snapshot.document(self.tenant, self.cloud.name, records, started)

    def _schedule(
        self,
        names: list[str],
        run: Callable[[str, Future | None], dict[str, Any]],
        prefetch: Callable[[str], Any],
        records: dict[str, dict[str, Any]],
    ) -> None:
        """Run the sources as a dependency graph: a source starts when everything it needs is
        done, so no thread ever waits on another source; the longest chains start first.
        Every independent source runs at once (threads wait on the network, not the CPU),
        except that at most EXCHANGE_CONCURRENCY cmdlets run against the Exchange gateway."""
        dependents: dict[str, set[str]] = {n: set() for n in names}
        for name in names:
            for dependency in describe(name).depends:
                dependents[dependency].add(name)

        def chain(name: str) -> int:  # the longest path of sources that wait on this one
            return 1 + max((chain(d) for d in dependents[name]), default=0)

        def priority(name: str) -> tuple[int, int, str]:
            return (-chain(name), 0 if name in LONG_SOURCES else 1, name)

        gates = {"exchange": threading.BoundedSemaphore(EXCHANGE_CONCURRENCY)}

        early: dict[str, Future] = {}

        def gated(name: str, step: Callable[[str], Any]) -> Any:
            gate = gates.get(describe(name).service)
            if gate is None:
                return step(name)
            with gate:
                return step(name)

        def collect(name: str) -> dict[str, Any]:
            return run(name, early.get(name))

        def collect_and_encode(name: str) -> dict[str, Any]:
            record = gated(name, collect)
            # Encoded now (outside the gate), while other sources wait on the network, not
            # after the last one. Data that is not JSON is left for the whole document's
            # encoding to refuse, as before.
            with contextlib.suppress(TypeError, ValueError):
                self.encoded[name] = snapshot.encode_record(record)
            return record

        pending = set(names)
        workers = max(1, min(len(names), self.options.workers))
        pool = ThreadPoolExecutor(max_workers=workers)
        stopped = False
        try:
            # What a source can read before its dependencies are done starts with the first.
            for name in sorted(n for n in names if describe(n).prefetch and describe(n).depends):
                early[name] = pool.submit(gated, name, prefetch)
            running: dict[Future, str] = {}
            while pending or running:
                ready = [n for n in pending if all(d in records for d in describe(n).depends)]
                for name in sorted(ready, key=priority):
                    pending.discard(name)
                    running[pool.submit(collect_and_encode, name)] = name
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    records[running.pop(future)] = future.result()
        except BaseException:  # Ctrl-C: leave the requests in flight, do not wait for them
            stopped = True
            raise
        finally:
            pool.shutdown(wait=not stopped, cancel_futures=stopped)

    @staticmethod
    def _error(name: str, cause: dict[str, str]) -> dict[str, Any]:
        cause = {key: redact(value) for key, value in cause.items()}
        return {
            "status": "error",
            "collectedAt": format_time(utc_now()),
            "error": f"{name}: {_reason(cause)}",
            "cause": cause,
        }
