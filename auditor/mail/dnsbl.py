"""DNS blocklists (RFC 5782): whether a zone's answers can be trusted, and what an answer
means (Spamhaus ZEN's return codes, and the codes that mean the query was refused)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SPAMHAUS_ZEN = "zen.spamhaus.org"
_PBL = "ask the owner of the address (the ISP) to delist it, or send through a static address"
_FIX_THEN_DELIST = (
    "find and stop what sends the spam, then request removal on Spamhaus' lookup page"
)
# Spamhaus ZEN return codes: what the listing is, and what to do about it.
ZEN_CODES = {
    "127.0.0.2": ("SBL (spam source)", _FIX_THEN_DELIST),
    "127.0.0.3": ("CSS (snowshoe spam)", _FIX_THEN_DELIST),
    "127.0.0.4": ("XBL (exploited or infected host)", "clean the host, then " + _FIX_THEN_DELIST),
    "127.0.0.5": ("XBL (exploited or infected host)", "clean the host, then " + _FIX_THEN_DELIST),
    "127.0.0.6": ("XBL (exploited or infected host)", "clean the host, then " + _FIX_THEN_DELIST),
    "127.0.0.7": ("XBL (exploited or infected host)", "clean the host, then " + _FIX_THEN_DELIST),
    "127.0.0.9": ("DROP (hijacked network)", "stop using this network for mail"),
    "127.0.0.10": ("PBL (ISP: not meant to send mail directly)", _PBL),
    "127.0.0.11": ("PBL (Spamhaus: not meant to send mail directly)", _PBL),
}
# Answers that mean the query was refused, not that the address is listed.
REFUSALS = {
    "127.255.255.252": "typing error in the blocklist zone name",
    "127.255.255.254": "query through a public or open resolver, which Spamhaus refuses",
    "127.255.255.255": "too many queries (over the free quota): use a Spamhaus DQS key zone",
}


def zone_distrust(zone: str, tests: Mapping[str, Any] | None) -> str | None:
    """Why a zone's answers cannot be trusted, or None. RFC 5782 section 5: a DNSxL MUST list
    127.0.0.2 and MUST NOT list 127.0.0.1; a resolver that answers NXDOMAIN for every name
    (or a listing for every name) fails one of the two."""
    if tests is None:
        return f"{zone}: its RFC 5782 test entries were not looked up, so its answers prove nothing"
    listed, unlisted = tests.get("listed") or {}, tests.get("unlisted") or {}
    for label, answer in (("127.0.0.2", listed), ("127.0.0.1", unlisted)):
        if answer.get("status") == "error":
            return f"{zone}: the test entry {label} could not be looked up ({answer.get('error')})"
    found, refused = judge_answer(zone, listed.get("answers") or ())
    if listed.get("status") != "ok" or not found:
        detail = "; ".join(refused) or f"answered {listed.get('status')}"
        return (
            f"{zone}: the resolver does not answer blocklist queries truthfully (the test "
            f"entry 127.0.0.2, always listed, {detail}): use --dns-server with a resolver the "
            "blocklist accepts"
        )
    if unlisted.get("status") == "ok" and unlisted.get("answers"):
        return (
            f"{zone}: the resolver answers a listing for 127.0.0.1, which no blocklist lists: "
            "its answers cannot be trusted; use --dns-server"
        )
    return None


def judge_answer(zone: str, answers: Sequence[str]) -> tuple[list[str], list[str]]:
    """(listings, refusals) in one blocklist answer."""
    listings, refusals = [], []
    for code in answers:
        if code in REFUSALS:
            refusals.append(f"{zone} refused the query ({code}: {REFUSALS[code]})")
        elif zone.endswith(SPAMHAUS_ZEN) or "spamhaus" in zone:
            name, action = ZEN_CODES.get(code, (f"listed ({code})", _FIX_THEN_DELIST))
            listings.append(f"{zone}: {name}: {action}")
        else:
            listings.append(f"{zone}: listed ({code})")
    return listings, refusals
