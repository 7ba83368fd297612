"""The fake tenant's state, built from the demo snapshot: what Graph and Exchange would hold.

The fake holds more than a snapshot keeps (extra fields, non-admin users, raw message trace
rows with subjects and recipients), so collection has something real to trim and aggregate.
Every time is shifted so that the demo's collection time becomes the server's start time:
"created 3 days ago" stays 3 days ago whenever the tests run.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.common.timeutil import format_time, parse_time, utc_now

DEMO = Path(__file__).resolve().parents[2] / "auditor" / "demo" / "snapshot.json"
TIME_FIELDS = {
    "WhenCreatedUTC",
    "WhenChangedUTC",
    "WhenChanged",
    "FirstReceived",
    "LastReceived",
    "CreatedDatetime",
    "ChangedDatetime",
    "createdDateTime",
    "nextLifecycleDateTime",
}
EXCHANGE_TIME_FIELDS = ("WhenCreatedUTC", "WhenChangedUTC", "WhenChanged", "CreatedDatetime")


def shift_times(value: Any, delta: timedelta) -> Any:
    """Move every known time field of a document by `delta` (used both ways by the tests)."""
    if isinstance(value, dict):
        return {
            k: (
                format_time(parse_time(v) + delta)
                if k in TIME_FIELDS and isinstance(v, str)
                else shift_times(v, delta)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [shift_times(v, delta) for v in value]
    return value


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


def _with_sidecars(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in EXCHANGE_TIME_FIELDS and value:
            out[key] = exchange_time(value)
            out[f"{key}@data.type"] = "System.DateTime"
        else:
            out[key] = value
            if isinstance(value, bool):
                out[f"{key}@data.type"] = "System.Boolean"
    out["Guid"] = str(uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(record, sort_keys=True)))
    out["DistinguishedName"] = f"CN={record.get('Name') or record.get('DomainName')},OU=fake"
    return out


@dataclass
class TenantData:
    tenant_id: str
    domain: str  # the initial .onmicrosoft.com domain
    display_name: str
    delta: timedelta  # shift applied to every time
    graph: dict[str, Any] = field(default_factory=dict)
    exchange: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    trace_rows: list[dict[str, Any]] = field(default_factory=list)
    fixture: dict[str, Any] = field(default_factory=dict)  # the shifted demo snapshot


def expand_trace(aggregates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raw rows that aggregate back to `aggregates`: one per message, and a second
    (internal) recipient on every tenth message, rows newest first."""
    rows = []
    for n, agg in enumerate(aggregates):
        count = agg["MessageCount"]
        first, last = parse_time(agg["FirstReceived"]), parse_time(agg["LastReceived"])
        step = (last - first) / (count - 1) if count > 1 else timedelta(0)
        for i in range(count):
            received = last if i == count - 1 else first + step * i
            received = received.replace(microsecond=0)
            # Seven decimals, from a few values only: messages of one second can share one.
            fraction = ((n + i) % 3) * 3_333_333
            trace_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"trace/{n}/{i}"))
            recipient = (
                f"contact{i % 13}@partner{i % 5}.example"
                if agg["Outbound"]
                else f"staff{i % 11}@tailspintoys.com"
            )
            base = {
                "MessageTraceId": trace_id,
                "MessageId": f"<{trace_id}@mail.example>",
                "Received": exchange_time(format_time(received), fraction),
                "SenderAddress": f"sender{i % 7}@{agg['SenderDomain']}",
                "RecipientAddress": recipient,
                "FromIP": agg["FromIP"],
                "ToIP": None,
                "Subject": f"Quarterly update {i} for {recipient}",
                "Status": "Delivered",
                "Size": 20_000 + i,
            }
            rows.append(base)
            if i % 10 == 0:
                rows.append({**base, "RecipientAddress": f"archive{i % 3}@tailspintoys.com"})
    return newest_first(rows)


def newest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first, and by recipient within one instant: the order continuation relies on."""
    rows.sort(key=lambda r: r["RecipientAddress"])
    rows.sort(key=lambda r: ticks(r["Received"]), reverse=True)
    return rows


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


def mailboxes_of(users: list[dict[str, Any]], forwarding: list[dict[str, Any]]) -> list[dict]:
    """Get-Mailbox's records for the demo's users, with the forwarding of those that have it."""
    forwards = {f["PrimarySmtpAddress"].lower(): f for f in forwarding}
    out = []
    for user in users:
        primary = user["mail"]
        record = {
            "PrimarySmtpAddress": primary,
            "EmailAddresses": [*user["proxyAddresses"], f"X500:/o=ExchangeLabs/cn={primary}"],
            "RecipientTypeDetails": "UserMailbox",
            "ForwardingAddress": None,
            "ForwardingSmtpAddress": None,
            "DeliverToMailboxAndForward": False,
        }
        record.update(forwards.get(primary.lower(), {}))
        out.append(record)
    return out


def many_mailboxes(count: int, domain: str) -> list[dict[str, Any]]:
    return [
        {
            "PrimarySmtpAddress": f"staff{i:05d}@{domain}",
            "EmailAddresses": [f"SMTP:staff{i:05d}@{domain}", f"smtp:s{i:05d}@{domain}"],
            "RecipientTypeDetails": "UserMailbox",
            "ForwardingAddress": None,
            "ForwardingSmtpAddress": None,
            "DeliverToMailboxAndForward": False,
        }
        for i in range(count)
    ]


def build(
    now: datetime | None = None, extra_trace_rows: int = 0, extra_mailboxes: int = 0
) -> TenantData:
    demo = json.loads(DEMO.read_text(encoding="utf-8"))
    start = (now or utc_now()).replace(microsecond=0)
    delta = start - parse_time(demo["collectedAt"])
    shifted = shift_times(demo, delta)
    shifted["collectedAt"] = format_time(start)
    sources = {k: v["data"] for k, v in shifted["sources"].items()}
    initial = next(
        d["DomainName"] for d in sources["exchange.acceptedDomains"] if d.get("InitialDomain")
    )
    data = TenantData(
        tenant_id=demo["tenant"]["id"],
        domain=initial,
        display_name=demo["tenant"]["displayName"],
        delta=delta,
        fixture=shifted,
    )

    organization = copy.deepcopy(sources["graph.organization"])
    for org in organization:
        org["verifiedDomains"] = [{"name": d["id"]} for d in sources["graph.domains"]]
        org["tenantType"] = "AAD"
    data.graph["organization"] = organization
    data.graph["domains"] = [
        {**d, "passwordValidityPeriodInDays": 2147483647} for d in sources["graph.domains"]
    ]

    def full_principal(principal: dict[str, Any]) -> dict[str, Any]:
        extra = {"accountEnabled": True, "mail": principal.get("userPrincipalName")}
        return {**principal, **extra}

    for key, source in (
        ("roleAssignments", "graph.roleAssignments"),
        ("roleEligibilitySchedules", "graph.roleEligibilitySchedules"),
    ):
        data.graph[key] = [
            {**a, "principal": full_principal(a["principal"]), "appScopeId": None}
            for a in sources[source]
        ]
    data.graph["groups"] = {
        g["id"]: {
            "displayName": g["displayName"],
            "members": [full_principal(m) for m in g["members"]],
        }
        for g in sources["graph.groupMembers"]
    }
    registration = [
        {**r, "lastUpdatedDateTime": shifted["collectedAt"], "defaultMfaMethod": "none"}
        for r in sources["graph.userRegistrationDetails"]
    ]
    # Everybody else in the tenant is in the report too; the collector must not keep them.
    for user in sources["graph.users"][:12]:
        upn = user["userPrincipalName"]
        if not any(r["userPrincipalName"] == upn for r in registration):
            registration.append(
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"user/{upn}")),
                    "userPrincipalName": upn,
                    "userDisplayName": upn.split("@")[0],
                    "userType": "member",
                    "isAdmin": False,
                    "isMfaRegistered": True,
                    "isMfaCapable": True,
                    "methodsRegistered": ["microsoftAuthenticatorPush"],
                }
            )
    data.graph["userRegistrationDetails"] = registration
    data.graph["conditionalAccessPolicies"] = [
        {**p, "createdDateTime": "2024-01-01T00:00:00Z", "sessionControls": None}
        for p in sources["graph.conditionalAccessPolicies"]
    ]
    data.graph["subscriptions"] = [
        {**sub, "ownerId": None, "ownerType": None} for sub in sources["graph.subscriptions"]
    ]
    data.graph["subscribedSkus"] = [
        {**sku, "appliesTo": "User", "id": f"{data.tenant_id}_{sku['skuId']}"}
        for sku in sources["graph.subscribedSkus"]
    ]
    data.graph["securityDefaults"] = {
        **sources["graph.securityDefaults"],
        "displayName": "Security Defaults",
    }

    for cmdlet, source in (
        ("Get-AcceptedDomain", "exchange.acceptedDomains"),
        ("Get-InboundConnector", "exchange.inboundConnectors"),
        ("Get-OutboundConnector", "exchange.outboundConnectors"),
        ("Get-HostedOutboundSpamFilterPolicy", "exchange.outboundSpamPolicies"),
        ("Get-RemoteDomain", "exchange.remoteDomains"),
        ("Get-TransportRule", "exchange.transportRules"),
        ("Get-BlockedSenderAddress", "exchange.blockedSenders"),
        ("Get-DkimSigningConfig", "exchange.dkimSigningConfig"),
    ):
        data.exchange[cmdlet] = [_with_sidecars(r) for r in sources[source]]
    # Exchange holds every mailbox; the snapshot keeps their addresses (from Graph's users) and
    # the forwarding of those that forward.
    data.exchange["Get-Mailbox"] = [
        _with_sidecars(m)
        for m in mailboxes_of(sources["graph.users"], sources["exchange.forwardingMailboxes"])
    ]
    data.graph["users"] = [
        {**u, "displayName": u["userPrincipalName"].split("@")[0], "accountEnabled": True}
        for u in sources["graph.users"]
    ]
    # Multi-valued transport-rule fields holding one value come as a bare string.
    for rule in data.exchange["Get-TransportRule"]:
        for key in ("RedirectMessageTo", "BlindCopyTo", "CopyTo", "AddToRecipients"):
            if isinstance(rule.get(key), list) and len(rule[key]) == 1:
                rule[key] = rule[key][0]
    if extra_mailboxes:
        default = demo["tenant"]["defaultDomain"]
        more = many_mailboxes(extra_mailboxes, default)
        data.exchange["Get-Mailbox"] += [_with_sidecars(m) for m in more]
        data.graph["users"] += [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"user/{m['PrimarySmtpAddress']}")),
                "userPrincipalName": m["PrimarySmtpAddress"],
                "mail": m["PrimarySmtpAddress"],
                "proxyAddresses": [
                    *m["EmailAddresses"],
                    f"X500:/o=fake/cn={m['PrimarySmtpAddress']}",
                ],
                "displayName": m["PrimarySmtpAddress"].split("@")[0],
                "accountEnabled": True,
            }
            for i, m in enumerate(more)
        ]
    rows = expand_trace(sources["exchange.messageTrace"]["Aggregates"])
    if extra_trace_rows:
        rows += busy_trace(start, extra_trace_rows, demo["tenant"]["defaultDomain"])
    data.trace_rows = newest_first(rows)
    return data
