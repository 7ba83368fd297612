"""The fake tenant's state, built from the demo snapshot: what Graph and Exchange would hold.

The fake holds more than a snapshot keeps (extra fields, non-admin users, raw message trace
rows with subjects and recipients), so collection has something real to trim and aggregate.
Every time is shifted so that the demo's collection time becomes the server's start time:
"created 3 days ago" stays 3 days ago whenever the tests run.
"""

from __future__ import annotations

import copy
import json
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


def exchange_time(value: str) -> str:
    """Exchange writes seven decimals: the collector must normalise them."""
    return parse_time(value).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


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
            trace_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"trace/{n}/{i}"))
            recipient = (
                f"contact{i % 13}@partner{i % 5}.example"
                if agg["Outbound"]
                else f"staff{i % 11}@tailspintoys.com"
            )
            base = {
                "MessageTraceId": trace_id,
                "MessageId": f"<{trace_id}@mail.example>",
                "Received": exchange_time(format_time(received)),
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
    # Newest first, and by recipient within one instant: the order continuation relies on.
    rows.sort(key=lambda r: r["RecipientAddress"])
    rows.sort(key=lambda r: r["Received"], reverse=True)
    return rows


def build(now: datetime | None = None) -> TenantData:
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
    for mailbox in sources["exchange.mailboxes"][:12]:
        upn = mailbox["PrimarySmtpAddress"]
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
        ("Get-Mailbox", "exchange.mailboxes"),
        ("Get-HostedOutboundSpamFilterPolicy", "exchange.outboundSpamPolicies"),
        ("Get-RemoteDomain", "exchange.remoteDomains"),
        ("Get-TransportRule", "exchange.transportRules"),
        ("Get-BlockedSenderAddress", "exchange.blockedSenders"),
        ("Get-DkimSigningConfig", "exchange.dkimSigningConfig"),
    ):
        data.exchange[cmdlet] = [_with_sidecars(r) for r in sources[source]]
    data.trace_rows = expand_trace(sources["exchange.messageTrace"]["Aggregates"])
    return data
