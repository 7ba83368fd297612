"""A fake DNS server on 127.0.0.1 (UDP) serving the demo tenant's zone and a blocklist zone,
so DNS and DNSBL lookups are real queries over a real socket, answered from a fixture."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

ZONE_FILE = Path(__file__).resolve().parent / "demo_zone.json"


def load_zone(path: Path = ZONE_FILE) -> dict[str, list[str]]:
    return {
        k.split(" ", 1)[0] + " " + k.split(" ", 1)[1].lower(): v
        for k, v in json.loads(path.read_text()).items()
    }


def zone_lookup(zone: dict[str, list[str]]):
    """The answer record a resolver would give, straight from the zone (no socket)."""
    names = {key.split(" ", 1)[1] for key in zone}

    def lookup(name: str, rdtype: str) -> dict[str, Any]:
        name = name.lower().rstrip(".")
        answers = zone.get(f"{rdtype} {name}")
        if answers:
            return {"status": "ok", "answers": sorted(answers)}
        if name in names:
            return {"status": "nodata", "answers": []}
        return {"status": "nxdomain", "answers": []}

    return lookup


def _rdata_text(rdtype: str, value: str) -> str:
    if rdtype == "TXT":
        chunks = [value[i : i + 250] for i in range(0, len(value), 250)] or [""]
        return " ".join('"' + c.replace('"', '\\"') + '"' for c in chunks)
    if rdtype in ("CNAME",):
        return value + "."
    if rdtype == "MX":
        preference, host = value.split(" ", 1)
        return f"{preference} {host}."
    return value


BLOCKLIST_ZONES = (".zen.spamhaus.org", ".bl.spamcop.net", ".b.barracudacentral.org")


class FakeDns:
    def __init__(self, zone: dict[str, list[str]] | None = None):
        self.zone = zone if zone is not None else load_zone()
        self.names = {key.split(" ", 1)[1] for key in self.zone}
        self.counts: Counter[str] = Counter()
        self.fail: set[str] = set()  # names answered SERVFAIL
        # Whole kinds of names misbehaving: "blocklists" (names under a blocklist zone) or
        # "records" (every other name) -> "servfail" or "silent" (no answer at all).
        self.misbehave: dict[str, str] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def __enter__(self) -> FakeDns:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                query = dns.message.from_wire(wire)
            except Exception:
                continue
            answer = self._answer(query)
            if answer is not None:
                self.sock.sendto(answer.to_wire(max_size=65535), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message | None:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.counts[f"{rdtype} {name}"] += 1
        kind = self.misbehave.get("blocklists" if name.endswith(BLOCKLIST_ZONES) else "records")
        if kind == "silent":
            return None
        if name in self.fail or kind == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        answers = self.zone.get(f"{rdtype} {name}")
        if answers:
            rrset = dns.rrset.from_text_list(
                question.name, 300, "IN", rdtype, [_rdata_text(rdtype, a) for a in answers]
            )
            response.answer.append(rrset)
        elif name not in self.names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response
