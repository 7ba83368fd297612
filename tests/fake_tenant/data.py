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
from tests.fake_tenant.trace import (  # noqa: F401 (BULK_*: what the tests plant and find)
    BULK_DOMAIN,
    BULK_IP,
    busy_trace,
    demo_rows,
    exchange_time,
    newest_first,
    ticks,
)

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
    "PeakStart",
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
    inbox_rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by mailbox
    fixture: dict[str, Any] = field(default_factory=dict)  # the shifted demo snapshot


def mailboxes_of(
    users: list[dict[str, Any]], forwarding: list[dict[str, Any]], shared: list[dict[str, Any]]
) -> list[dict]:
    """Get-Mailbox's records for the demo's users: shared or not, and the forwarding of those
    that forward."""
    forwards = {f["PrimarySmtpAddress"].lower(): f for f in forwarding}
    shared_ones = {m["PrimarySmtpAddress"].lower() for m in shared}
    out = []
    for user in users:
        primary = user["mail"]
        kind = "SharedMailbox" if primary.lower() in shared_ones else "UserMailbox"
        record = {
            "PrimarySmtpAddress": primary,
            "EmailAddresses": [*user["proxyAddresses"], f"X500:/o=ExchangeLabs/cn={primary}"],
            "ExternalDirectoryObjectId": user["id"],
            "RecipientTypeDetails": kind,
            "ForwardingAddress": None,
            "ForwardingSmtpAddress": None,
            "DeliverToMailboxAndForward": False,
        }
        record.update(forwards.get(primary.lower(), {}))
        out.append(record)
    return out


RESOURCE_APPS = {
    "Microsoft Graph": "00000003-0000-0000-c000-000000000000",
    "Office 365 Exchange Online": "00000002-0000-0ff1-ce00-000000000000",
}
# Roles of each resource, the mail ones among others, as Graph lists a service principal's
# appRoles (id and value).
RESOURCE_ROLES = {
    "Microsoft Graph": ("Mail.Send", "Mail.ReadWrite", "Mail.Read", "User.Read.All"),
    "Office 365 Exchange Online": ("full_access_as_app", "SMTP.SendAsApp", "Exchange.ManageAsApp"),
}


def _role_id(resource: str, value: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"role/{resource}/{value}"))


def service_principals(apps: list[dict[str, Any]], tenant: str) -> dict[str, Any]:
    """The resource service principals (Graph, Exchange Online) with their app roles, the
    assignments of those roles (to the snapshot's apps, plus ones the collector must skip: a
    user, a role that is not about mail), and each app's own service principal."""
    sps: dict[str, dict[str, Any]] = {}
    assigned: dict[str, list[dict[str, Any]]] = {}
    for resource, app_id in RESOURCE_APPS.items():
        sp_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"resource/{resource}"))
        sps[sp_id] = {
            "id": sp_id,
            "appId": app_id,
            "displayName": resource,
            "appRoles": [
                {"id": _role_id(resource, v), "value": v, "allowedMemberTypes": ["Application"]}
                for v in RESOURCE_ROLES[resource]
            ],
        }
        assigned[sp_id] = [
            {
                "id": f"noise-{resource}",
                "appRoleId": _role_id(resource, RESOURCE_ROLES[resource][-1]),
                "principalId": "00000000-0000-0000-0000-00000000aaaa",
                "principalType": "ServicePrincipal",
                "resourceId": sp_id,
                "createdDateTime": "2023-01-01T00:00:00Z",
            }
        ]
    for app in apps:
        sps[app["id"]] = {
            "id": app["id"],
            "appId": app["appId"],
            "displayName": app["displayName"],
            "publisherName": app["publisherName"],
            "appOwnerOrganizationId": app["appOwnerOrganizationId"],
            "verifiedPublisher": {
                "displayName": app["verifiedPublisher"],
                "verifiedPublisherId": "1",
            }
            if app["verifiedPublisher"]
            else {"displayName": None, "verifiedPublisherId": None},
            "servicePrincipalType": "Application",
        }
        for grant in app["permissions"]:
            resource_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"resource/{grant['resource']}"))
            assigned[resource_id].append(
                {
                    "id": f"{app['id']}/{grant['permission']}",
                    "appRoleId": _role_id(grant["resource"], grant["permission"]),
                    "principalId": app["id"],
                    "principalDisplayName": app["displayName"],
                    "principalType": "ServicePrincipal",
                    "resourceId": resource_id,
                    "createdDateTime": exchange_time(grant["grantedAt"], 1_234_567),
                }
            )
    # A user holding a mail role by assignment is not an app: the collector skips it.
    graph_sp = str(uuid.uuid5(uuid.NAMESPACE_URL, "resource/Microsoft Graph"))
    assigned[graph_sp].append(
        {
            "id": "user-grant",
            "appRoleId": _role_id("Microsoft Graph", "Mail.Send"),
            "principalId": "user-1",
            "principalType": "User",
            "resourceId": graph_sp,
            "createdDateTime": "2024-01-01T00:00:00Z",
        }
    )
    # The noise principal exists, as every assignment's principal does.
    sps["00000000-0000-0000-0000-00000000aaaa"] = {
        "id": "00000000-0000-0000-0000-00000000aaaa",
        "appId": "00000000-0000-0000-0000-00000000bbbb",
        "displayName": f"Directory reader of {tenant}",
        "publisherName": "Tailspin Toys",
    }
    return {"servicePrincipals": sps, "appRoleAssignedTo": assigned}


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


def add_policy_group(data: TenantData, members: int, admins: int = 2) -> str:
    """A large group ("All staff": `members` generated users and the first `admins` direct role
    holders) named by a disabled Conditional Access policy: the collector must learn which
    admins are in it without reading its members; the judging does not change (the policy is
    off). Returns the group's id."""
    gid = str(uuid.uuid5(uuid.NAMESPACE_URL, "group/All staff"))
    holders = [
        a["principal"]
        for a in data.graph["roleAssignments"]
        if a["principal"].get("@odata.type") == "#microsoft.graph.user"
    ][:admins]
    staff = [
        {
            "@odata.type": "#microsoft.graph.user",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"staff/{i}")),
            "displayName": f"Staff {i}",
            "userPrincipalName": f"staff{i}@{data.domain}",
        }
        for i in range(members)
    ]
    data.graph["groups"][gid] = {"displayName": "All staff", "members": holders + staff}
    data.graph["conditionalAccessPolicies"].append(
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "policy/CA900")),
            "displayName": "CA900 Pilot for all staff (off)",
            "state": "disabled",
            "createdDateTime": "2024-01-01T00:00:00Z",
            "sessionControls": None,
            "conditions": {
                "users": {
                    "includeUsers": [],
                    "excludeUsers": [],
                    "includeGroups": [gid],
                    "excludeGroups": [],
                    "includeRoles": [],
                    "excludeRoles": [],
                },
                "applications": {"includeApplications": ["All"], "excludeApplications": []},
                "clientAppTypes": ["all"],
            },
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
        }
    )
    return gid


def add_admins(data: TenantData, active: int, eligible: int) -> None:
    """More role holders (User Administrator, active; Security Administrator, eligible), each
    with a registration report entry: a large tenant's directory roles."""
    roles = {
        "active": "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "eligible": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    }
    for kind, count, key in (
        ("active", active, "roleAssignments"),
        ("eligible", eligible, "roleEligibilitySchedules"),
    ):
        for i in range(count):
            upn = f"{kind}-admin{i}@{data.domain}"
            uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"user/{upn}"))
            principal = {
                "@odata.type": "#microsoft.graph.user",
                "id": uid,
                "displayName": upn.split("@")[0],
                "userPrincipalName": upn,
                "accountEnabled": True,
                "mail": upn,
            }
            data.graph[key].append(
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"assignment/{upn}")),
                    "roleDefinitionId": roles[kind],
                    "principalId": uid,
                    "directoryScopeId": "/",
                    "principal": principal,
                    "appScopeId": None,
                }
            )
            data.graph["userRegistrationDetails"].append(
                {
                    "id": uid,
                    "userPrincipalName": upn,
                    "userDisplayName": upn.split("@")[0],
                    "userType": "member",
                    "isAdmin": kind == "active",
                    "isMfaRegistered": True,
                    "isMfaCapable": True,
                    "methodsRegistered": ["microsoftAuthenticatorPush"],
                    "lastUpdatedDateTime": "2026-01-01T00:00:00Z",
                    "defaultMfaMethod": "none",
                }
            )


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
    data.graph.update(service_principals(sources["graph.mailApps"], data.tenant_id))
    # Alerts as alerts_v2 has them: description, evidence with the message's subject and
    # recipient (the collector must keep neither), times with seven decimals.
    data.graph["securityAlerts"] = [
        {
            **{k: v for k, v in alert.items() if k != "subjects"},
            "createdDateTime": exchange_time(alert["createdDateTime"], 7_211_305),
            "description": "An alert policy fired.",
            "evidence": [
                *(
                    {
                        "@odata.type": "#microsoft.graph.security.mailboxEvidence",
                        "primaryAddress": subject,
                        "userAccount": {"userPrincipalName": subject},
                    }
                    for subject in alert["subjects"]
                ),
                {
                    "@odata.type": "#microsoft.graph.security.analyzedMessageEvidence",
                    "subject": "Invoice overdue",
                    "recipientEmailAddress": "lead0@prospects0.example",
                },
            ],
        }
        for alert in sources["graph.securityAlerts"]
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
        ("Get-ApplicationAccessPolicy", "exchange.applicationAccessPolicies"),
    ):
        data.exchange[cmdlet] = [_with_sidecars(r) for r in sources[source]]
    # Exchange holds every mailbox; the snapshot keeps their addresses (from Graph's users) and
    # the forwarding of those that forward.
    mailboxes = mailboxes_of(
        sources["graph.users"],
        sources["exchange.forwardingMailboxes"],
        sources["exchange.sharedMailboxes"],
    )
    data.exchange["Get-Mailbox"] = [_with_sidecars(m) for m in mailboxes]
    # Client access settings of every mailbox: SMTP AUTH $null (follow the organisation)
    # unless the mailbox sets it.
    smtp = {
        m["PrimarySmtpAddress"].lower(): m["SmtpClientAuthenticationDisabled"]
        for m in sources["exchange.smtpAuthMailboxes"]
    }
    data.exchange["Get-CASMailbox"] = [
        {
            "PrimarySmtpAddress": m["PrimarySmtpAddress"],
            "ImapEnabled": True,
            "PopEnabled": False,
            "SmtpClientAuthenticationDisabled": smtp.get(m["PrimarySmtpAddress"].lower()),
        }
        for m in mailboxes
    ]
    # Inbox rules by mailbox, with what the snapshot does not keep (identity, description).
    data.inbox_rules = {
        entry["Mailbox"].lower(): [
            {
                **rule,
                "Identity": f"{entry['Mailbox']}\\{rule['Name']}",
                "Description": f"If the message includes 'invoice': {rule['Name']}",
                "Priority": n + 1,
            }
            for n, rule in enumerate(entry.get("Rules") or ())
        ]
        for entry in sources["exchange.restrictedInboxRules"]
    }
    data.exchange["Get-InboxRule"] = []  # answered per mailbox by the server
    data.exchange["Get-TransportConfig"] = [
        {
            **sources["exchange.transportConfig"],
            "JournalingReportNdrTo": "",
            "MaxRecipientEnvelopeLimit": "500",
        }
    ]
    data.graph["users"] = [
        {**u, "displayName": u["userPrincipalName"].split("@")[0]} for u in sources["graph.users"]
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
    # The live TERRL counter (the gateway answers Get-LimitsEnforcementStatus with plain
    # numbers); deleting the cmdlet makes the gateway answer "not recognized".
    limits = sources["exchange.limitsEnforcementStatus"]
    if limits["Offered"]:
        data.exchange["Get-LimitsEnforcementStatus"] = copy.deepcopy(limits["Limits"])
    rows = demo_rows(delta)
    if extra_trace_rows:
        rows += busy_trace(start, extra_trace_rows, demo["tenant"]["defaultDomain"])
    data.trace_rows = newest_first(rows)
    return data
