"""DNS lookups through a resolver the admin chooses (Spamhaus refuses public resolvers).

Every answer becomes a small record the snapshot keeps as it is, so the checks judge DNS
without doing I/O: {"status": ok|nxdomain|nodata|error, "answers": [...], "error": "..."}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dns.exception
import dns.rdatatype
import dns.resolver

from auditor.collect.deadline import NO_DEADLINE, Deadline

Lookup = Callable[[str, str], dict[str, Any]]


def parse_server(text: str) -> tuple[str, int]:
    """`IP` or `IP:PORT` (`[IPv6]:PORT` for IPv6); ValueError naming what is wrong."""
    value = text.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.lstrip(":") or "53"
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, "53"
    if not host or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--dns-server {text!r}: give IP, IP:PORT or [IPv6]:PORT")
    return host, int(port)


def render(rdtype: str, rdata: Any) -> str:
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdtype == "MX":
        return f"{rdata.preference} {str(rdata.exchange).rstrip('.').lower()}"
    if rdtype == "CNAME":
        return str(rdata.target).rstrip(".").lower()
    return rdata.to_text()


class DnsClient:
    def __init__(
        self, server: str | None = None, timeout: float = 5.0, deadline: Deadline = NO_DEADLINE
    ):
        self.deadline = deadline
        if server:
            host, port = parse_server(server)
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = [host]
            self.resolver.port = port
            self.label = f"{host}:{port}"
        else:
            self.resolver = dns.resolver.Resolver()
            self.label = "system resolver"
        self.resolver.timeout = timeout
        self.resolver.lifetime = timeout * 2

    def query(self, name: str, rdtype: str) -> dict[str, Any]:
        self.deadline.check(f"DNS {rdtype} {name} was looked up")
        try:
            answer = self.resolver.resolve(
                name,
                rdtype,
                raise_on_no_answer=False,
                lifetime=self.deadline.bound(self.resolver.lifetime),
            )
        except dns.resolver.NXDOMAIN:
            return {"status": "nxdomain", "answers": []}
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            return {"status": "error", "answers": [], "error": type(exc).__name__}
        except dns.exception.DNSException as exc:
            return {"status": "error", "answers": [], "error": f"{type(exc).__name__}"}
        records = [
            render(rdtype, r)
            for r in (answer.rrset or ())
            if dns.rdatatype.to_text(r.rdtype) == rdtype
        ]
        if not records:
            return {"status": "nodata", "answers": []}
        return {"status": "ok", "answers": sorted(records)}
