"""Build the bundled demo tenant snapshot (auditor/demo/snapshot.json).

Tailspin Toys is fictional. Most of it is clean; each check has planted problems, listed in
docs/demo-tenant.md, which the tests pin. Run `python scripts/make_demo_tenant.py` after
changing this file; a test fails when the committed snapshot and this script disagree.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "auditor" / "demo" / "snapshot.json"
sys.path.insert(0, str(ROOT))

# The DNS the demo tenant publishes is the fake DNS server's zone: the snapshot holds what
# the real collector functions read from it, so live collection must give the same.
from auditor.collect.collectors.dns_sources import (  # noqa: E402
    mail_records,
    sending_addresses,
    zone_tests,
)
from auditor.collect.collectors.message_trace import summarise  # noqa: E402
from auditor.common.timeutil import parse_time  # noqa: E402
from auditor.mail.domains import sending_domains  # noqa: E402
from tests.fake_tenant.dns_server import load_zone, zone_lookup  # noqa: E402
from tests.fake_tenant.trace import demo_rows  # noqa: E402

TENANT_ID = "6f0c3b8e-2d4a-4c1e-9b7f-5a3d2e1c0b9a"
COLLECTED = "2026-11-20T06:00:00Z"
TRACE_START = "2026-11-13T06:00:00Z"

ROLE = {
    "ga": "62e90394-69f5-4237-9190-012177145e10",
    "exchange": "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "exchange_recipient": "31392ffb-586c-42d1-9346-e59415a2cc4e",
    "security_admin": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "helpdesk": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "user_admin": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "security_reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
    "global_reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "pra": "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "priv_auth": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    "message_center_reader": "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",
}


def oid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://demo.tailspintoys.example/{name}"))


def user(upn: str) -> dict:
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": oid(upn),
        "displayName": upn.split("@")[0].replace(".", " ").title(),
        "userPrincipalName": upn,
    }


def source(data) -> dict:
    return {"status": "ok", "collectedAt": COLLECTED, "data": data}


# --- Exchange: accepted domains and Entra ID domains --------------------------------------

ACCEPTED = [
    ("tailspintoys.com", "Authoritative", True, False, False),
    ("tailspintoys.onmicrosoft.com", "Authoritative", False, True, False),
    ("tailspin.co.uk", "InternalRelay", False, False, True),
    ("wingtipdirect.com", "Authoritative", False, False, False),  # planted: unverified
    ("tailspin-events.com", "Authoritative", False, False, False),  # planted: not in baseline
]


def accepted_domains() -> list[dict]:
    return sorted(_accepted_domains(), key=lambda d: d["DomainName"])


def _accepted_domains() -> list[dict]:
    return [
        {
            "DomainName": name,
            "DomainType": kind,
            "Default": default,
            "InitialDomain": initial,
            "MatchSubDomains": match_sub,
            "SendingFromDomainDisabled": False,
            "AuthenticationType": "Managed",
        }
        for name, kind, default, initial, match_sub in ACCEPTED
    ]


def graph_domains() -> list[dict]:
    return sorted(_graph_domains(), key=lambda d: d["id"])


def _graph_domains() -> list[dict]:
    def entry(name, verified, services, default=False, initial=False):
        return {
            "id": name,
            "isVerified": verified,
            "isDefault": default,
            "isInitial": initial,
            "isRoot": True,
            "authenticationType": "Managed",
            "supportedServices": services,
        }

    return [
        entry("tailspintoys.com", True, ["Email", "OfficeCommunicationsOnline"], default=True),
        entry(
            "tailspintoys.onmicrosoft.com",
            True,
            ["Email", "OfficeCommunicationsOnline"],
            initial=True,
        ),
        entry("tailspin.co.uk", True, ["Email"]),
        entry("wingtipdirect.com", False, []),
        entry("tailspin-events.com", True, ["Email"]),
    ]


# --- Exchange: connectors ------------------------------------------------------------------


def inbound_connectors() -> list[dict]:
    return sorted(_inbound_connectors(), key=lambda c: c["Name"].lower())


def _inbound_connectors() -> list[dict]:
    base = {
        "Comment": None,
        "TrustedOrganizations": [],
        "AssociatedAcceptedDomains": [],
        "CloudServicesMailEnabled": False,
        "EFTestMode": False,
        "EFSkipLastIP": False,
    }
    return [
        {
            **base,
            "Name": "On-Prem Hybrid",
            "Identity": "On-Prem Hybrid",
            "Enabled": True,
            "ConnectorType": "OnPremises",
            "ConnectorSource": "HybridWizard",
            "SenderIPAddresses": ["203.0.113.25", "203.0.113.26"],
            "SenderDomains": ["smtp:tailspintoys.com;1", "smtp:tailspin.co.uk;1"],
            "RequireTls": False,  # planted: the baseline expects true
            "RestrictDomainsToIPAddresses": False,
            "RestrictDomainsToCertificate": True,
            "TlsSenderCertificateName": "mail.tailspintoys.com",
            "CloudServicesMailEnabled": True,
            "TreatMessagesAsInternal": False,
            "WhenCreatedUTC": "2023-03-14T09:12:44Z",
            "WhenChangedUTC": "2026-09-30T16:05:10Z",
        },
        {
            **base,
            "Name": "Scanner Relay",
            "Identity": "Scanner Relay",
            "Enabled": True,
            "ConnectorType": "OnPremises",
            "ConnectorSource": "AdminUI",
            "Comment": "Multifunction printers at the Leeds and Denver offices",
            "SenderIPAddresses": ["203.0.113.128/25"],  # planted: wide, but waived
            "SenderDomains": ["smtp:tailspintoys.com;1"],
            "RequireTls": False,
            "RestrictDomainsToIPAddresses": True,
            "RestrictDomainsToCertificate": False,
            "TlsSenderCertificateName": None,
            "TreatMessagesAsInternal": True,
            "WhenCreatedUTC": "2024-05-02T11:40:00Z",
            "WhenChangedUTC": "2025-01-17T08:22:31Z",
        },
        {
            **base,
            "Name": "Partner - Contoso Payroll",
            "Identity": "Partner - Contoso Payroll",
            "Enabled": True,
            "ConnectorType": "Partner",
            "ConnectorSource": "AdminUI",
            "SenderIPAddresses": [],
            "SenderDomains": ["smtp:contosopayroll.com;1"],
            "RequireTls": True,
            "RestrictDomainsToIPAddresses": False,
            "RestrictDomainsToCertificate": True,
            "TlsSenderCertificateName": "mx.contosopayroll.com",
            "TreatMessagesAsInternal": False,
            "WhenCreatedUTC": "2022-10-03T13:00:00Z",
            "WhenChangedUTC": "2022-10-03T13:00:00Z",
        },
        {
            # planted: what an attacker adds with a stolen admin account
            **base,
            "Name": "Relay-Backup",
            "Identity": "Relay-Backup",
            "Enabled": True,
            "ConnectorType": "OnPremises",
            "ConnectorSource": "AdminUI",
            "Comment": "temp relay",
            "SenderIPAddresses": ["198.51.100.0/24"],
            "SenderDomains": ["smtp:*;1"],
            "RequireTls": False,
            "RestrictDomainsToIPAddresses": False,
            "RestrictDomainsToCertificate": False,
            "TlsSenderCertificateName": None,
            "TreatMessagesAsInternal": False,
            "WhenCreatedUTC": "2026-11-17T02:47:19Z",
            "WhenChangedUTC": "2026-11-17T02:47:19Z",
        },
    ]


def outbound_connectors() -> list[dict]:
    return sorted(_outbound_connectors(), key=lambda c: c["Name"].lower())


def _outbound_connectors() -> list[dict]:
    return [
        {
            "Name": "Outbound to On-Prem",
            "Enabled": True,
            "ConnectorType": "OnPremises",
            "UseMXRecord": False,
            "SmartHosts": ["mail.tailspintoys.com"],
            "RecipientDomains": [],
            "TlsSettings": "DomainValidation",
            "TlsDomain": "mail.tailspintoys.com",
            "IsTransportRuleScoped": False,
            "RouteAllMessagesViaOnPremises": False,
            "CloudServicesMailEnabled": True,
            "AllAcceptedDomains": False,
            "WhenCreatedUTC": "2023-03-14T09:13:02Z",
            "WhenChangedUTC": "2023-03-14T09:13:02Z",
        },
        {
            # planted: a third-party relay nobody approved, without certificate checks
            "Name": "Marketing relay",
            "Enabled": True,
            "ConnectorType": "Partner",
            "UseMXRecord": False,
            "SmartHosts": ["smtp.bulkrelay.example"],
            "RecipientDomains": ["newsletters.tailspintoys.com"],
            "TlsSettings": "EncryptionOnly",
            "TlsDomain": None,
            "IsTransportRuleScoped": False,
            "RouteAllMessagesViaOnPremises": False,
            "CloudServicesMailEnabled": False,
            "AllAcceptedDomains": False,
            "WhenCreatedUTC": "2026-08-21T15:30:00Z",
            "WhenChangedUTC": "2026-08-21T15:30:00Z",
        },
    ]


# --- Exchange: mailboxes -------------------------------------------------------------------

US_STAFF = [
    "alice.nguyen",
    "bob.fischer",
    "carol.diaz",
    "dave.okafor",
    "erin.walsh",
    "frank.li",
    "grace.kim",
    "heidi.brown",
    "ivan.petrov",
    "judy.moreau",
    "mallory.stone",
    "oscar.reyes",
    "peggy.olson",
    "quentin.hale",
    "rosa.lima",
    "sam.turner",
    "tina.weiss",
    "umar.shah",
    "victor.ames",
    "wendy.cho",
    "xavier.roux",
    "yara.haddad",
    "zoe.park",
    "aaron.bell",
    "bianca.costa",
    "caleb.moss",
    "dina.farah",
    "eli.brooks",
]
UK_STAFF = [
    "fiona.hughes",
    "george.evans",
    "harriet.price",
    "ian.morgan",
    "jessica.lloyd",
    "kieran.walsh",
    "lucy.bennett",
    "mark.dawson",
]
SHARED = ["info", "sales", "support", "careers", "press"]


def mailboxes() -> list[dict]:
    boxes = []
    forwarding = {
        # planted: a user forwards everything to a private mailbox outside
        "quentin.hale": {"ForwardingSmtpAddress": "smtp:qhale1979@outlook.example"},
        # internal delegation: fine
        "sam.turner": {"ForwardingAddress": "Sales", "DeliverToMailboxAndForward": True},
    }
    for name in US_STAFF:
        boxes.append(
            {
                "PrimarySmtpAddress": f"{name}@tailspintoys.com",
                "EmailAddresses": [
                    f"SMTP:{name}@tailspintoys.com",
                    f"smtp:{name}@tailspintoys.onmicrosoft.com",
                    f"X500:/o=ExchangeLabs/ou=Exchange Administrative Group"
                    f"/cn=Recipients/cn={name}",
                ],
                "RecipientTypeDetails": "UserMailbox",
                "ForwardingAddress": None,
                "ForwardingSmtpAddress": None,
                "DeliverToMailboxAndForward": False,
                **forwarding.get(name, {}),
            }
        )
    for name in UK_STAFF:
        boxes.append(
            {
                "PrimarySmtpAddress": f"{name}@tailspin.co.uk",
                "EmailAddresses": [
                    f"SMTP:{name}@tailspin.co.uk",
                    f"smtp:{name}@tailspintoys.com",
                    f"smtp:{name}@tailspintoys.onmicrosoft.com",
                ],
                "RecipientTypeDetails": "UserMailbox",
                "ForwardingAddress": None,
                "ForwardingSmtpAddress": None,
                "DeliverToMailboxAndForward": False,
            }
        )
    shared_forwarding = {
        # approved in the baseline: payroll queries go to the payroll provider
        "careers": {
            "ForwardingSmtpAddress": "smtp:intake@contosopayroll.com",
            "DeliverToMailboxAndForward": True,
        },
    }
    for name in SHARED:
        boxes.append(
            {
                "PrimarySmtpAddress": f"{name}@tailspintoys.com",
                "EmailAddresses": [
                    f"SMTP:{name}@tailspintoys.com",
                    f"smtp:{name}@tailspintoys.onmicrosoft.com",
                ],
                "RecipientTypeDetails": "SharedMailbox",
                "ForwardingAddress": None,
                "ForwardingSmtpAddress": None,
                "DeliverToMailboxAndForward": False,
                **shared_forwarding.get(name, {}),
            }
        )
    boxes.append(
        {
            # planted: a proxy address left behind when oldtailspin.com was removed
            "PrimarySmtpAddress": "legacy.archive@tailspintoys.com",
            "EmailAddresses": [
                "SMTP:legacy.archive@tailspintoys.com",
                "smtp:archive@oldtailspin.com",
                "smtp:legacy.archive@tailspintoys.onmicrosoft.com",
            ],
            "RecipientTypeDetails": "SharedMailbox",
            "ForwardingAddress": None,
            "ForwardingSmtpAddress": None,
            "DeliverToMailboxAndForward": False,
        }
    )
    events = {
        "PrimarySmtpAddress": "hello@tailspin-events.com",
        "EmailAddresses": [
            "SMTP:hello@tailspin-events.com",
            "smtp:hello@tailspintoys.onmicrosoft.com",
        ],
        "RecipientTypeDetails": "SharedMailbox",
        "ForwardingAddress": None,
        "ForwardingSmtpAddress": None,
        "DeliverToMailboxAndForward": False,
    }
    boxes.append(events)
    # planted: the scanner's shared mailbox, made before the custom domain, was never moved:
    # what it sends outside leaves as the .onmicrosoft.com address (LIM-001)
    boxes.append(
        {
            "PrimarySmtpAddress": "scanner@tailspintoys.onmicrosoft.com",
            "EmailAddresses": ["SMTP:scanner@tailspintoys.onmicrosoft.com"],
            "RecipientTypeDetails": "SharedMailbox",
            "ForwardingAddress": None,
            "ForwardingSmtpAddress": None,
            "DeliverToMailboxAndForward": False,
        }
    )
    return sorted(boxes, key=lambda b: b["PrimarySmtpAddress"].lower())


# --- Exchange: message trace, aggregated ---------------------------------------------------


SIGN_IN_SHARED = "support@tailspintoys.com"
SMTP_AUTH_MAILBOX = "scanner@tailspintoys.onmicrosoft.com"


def user_id(primary: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"user/{primary}"))


def users() -> list[dict]:
    """Graph's view of the same people: mail and the SMTP proxy addresses."""
    out = []
    for box in mailboxes():
        primary = box["PrimarySmtpAddress"]
        shared = box["RecipientTypeDetails"] == "SharedMailbox"
        out.append(
            {
                "id": user_id(primary),
                "userPrincipalName": primary,
                "mail": primary,
                "proxyAddresses": sorted(
                    a for a in box["EmailAddresses"] if a.lower().startswith("smtp:")
                ),
                # A shared mailbox's account is disabled when created in the admin centre;
                # planted: support@'s was enabled (and its password shared) years ago, and the
                # scanner's signs in to send with SMTP AUTH.
                "accountEnabled": not shared or primary in (SIGN_IN_SHARED, SMTP_AUTH_MAILBOX),
            }
        )
    return sorted(out, key=lambda u: u["userPrincipalName"].lower())


def shared_mailboxes() -> list[dict]:
    """Get-Mailbox -RecipientTypeDetails SharedMailbox: which mailboxes are shared, and their
    Entra ID object (ExternalDirectoryObjectId) whose account should be disabled."""
    return [
        {
            "PrimarySmtpAddress": box["PrimarySmtpAddress"],
            "RecipientTypeDetails": "SharedMailbox",
            "ExternalDirectoryObjectId": user_id(box["PrimarySmtpAddress"]),
        }
        for box in mailboxes()
        if box["RecipientTypeDetails"] == "SharedMailbox"
    ]


def transport_config() -> dict:
    """Get-TransportConfig: SMTP AUTH is off for the organisation (the default for new
    tenants)."""
    return {"SmtpClientAuthenticationDisabled": True}


def smtp_auth_mailboxes() -> list[dict]:
    """Get-CASMailbox -Filter 'SmtpClientAuthenticationDisabled -eq $false': planted, the
    scanner's mailbox turns SMTP AUTH on for itself, so it can send with a password."""
    return [{"PrimarySmtpAddress": SMTP_AUTH_MAILBOX, "SmtpClientAuthenticationDisabled": False}]


def forwarding_mailboxes() -> list[dict]:
    """What Get-Mailbox -Filter returns: only the mailboxes that forward."""
    keep = (
        "PrimarySmtpAddress",
        "RecipientTypeDetails",
        "ForwardingAddress",
        "ForwardingSmtpAddress",
        "DeliverToMailboxAndForward",
    )
    forwarding = [
        {k: box[k] for k in keep}
        for box in mailboxes()
        if box["ForwardingSmtpAddress"] or box["ForwardingAddress"]
    ]
    return sorted(forwarding, key=lambda box: box["PrimarySmtpAddress"].lower())


def message_trace() -> dict:
    """What collection makes of the demo's raw trace (tests/fake_tenant/trace.py): the same
    rows the fake tenant serves, aggregated by the collector's own code."""
    accepted = {d["DomainName"].lower(): d for d in accepted_domains()}
    return summarise(demo_rows(), accepted, parse_time(TRACE_START), parse_time(COLLECTED))


def limits_enforcement() -> dict:
    """Get-LimitsEnforcementStatus as the gateway answers it: the live counter of external
    recipients in the last 24 hours. Planted: 83 % of the tenant's limit. The seven-day trace
    shows less, as message trace lags the counter (CSS-Exchange's TERRL estimator says so)."""
    return {
        "Offered": True,
        "Limits": [
            {
                "EnforcementEnabled": True,
                "ObservedValue": 13374,
                "Threshold": 16113,
                "Verdict": "Allowed",
            }
        ],
    }


# --- Entra ID: roles, groups, MFA ----------------------------------------------------------


def sp(name: str) -> dict:
    return {
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": oid(f"sp/{name}"),
        "displayName": name,
        "appId": oid(f"app/{name}"),
    }


HELPDESK_GROUP = {
    "@odata.type": "#microsoft.graph.group",
    "id": oid("group/SG-Helpdesk-Admins"),
    "displayName": "SG-Helpdesk-Admins",
}

ACTIVE = [
    ("alice.nguyen@tailspintoys.com", "ga"),
    ("bob.fischer@tailspintoys.com", "ga"),
    ("bg-admin1@tailspintoys.onmicrosoft.com", "ga"),
    ("bg-admin2@tailspintoys.onmicrosoft.com", "ga"),
    ("carol.diaz@tailspintoys.com", "exchange"),
    ("dave.okafor@tailspintoys.com", "exchange"),
    ("heidi.brown@tailspintoys.com", "user_admin"),
    ("ivan.petrov@tailspintoys.com", "security_reader"),
    ("mallory.stone@tailspintoys.com", "priv_auth"),
    ("oscar.reyes@tailspintoys.com", "message_center_reader"),
]
ELIGIBLE = [
    ("erin.walsh@tailspintoys.com", "security_admin"),
    ("judy.moreau@tailspintoys.com", "global_reader"),
    ("alice.nguyen@tailspintoys.com", "pra"),
]
HELPDESK_MEMBERS = ["frank.li@tailspintoys.com", "grace.kim@tailspintoys.com"]
NOT_REGISTERED = {
    "bob.fischer@tailspintoys.com",
    "bg-admin1@tailspintoys.onmicrosoft.com",
    "erin.walsh@tailspintoys.com",
    "grace.kim@tailspintoys.com",
    "oscar.reyes@tailspintoys.com",
}


def role_assignments() -> list[dict]:
    out = []
    for upn, role in ACTIVE:
        principal = user(upn)
        out.append(
            {
                "id": oid(f"assignment/{upn}/{role}"),
                "roleDefinitionId": ROLE[role],
                "principalId": principal["id"],
                "directoryScopeId": "/",
                "principal": principal,
            }
        )
    out.append(
        {
            "id": oid("assignment/helpdesk-group"),
            "roleDefinitionId": ROLE["helpdesk"],
            "principalId": HELPDESK_GROUP["id"],
            "directoryScopeId": "/",
            "principal": HELPDESK_GROUP,
        }
    )
    migration = sp("Mail Migration Service")
    out.append(
        {
            "id": oid("assignment/sp-migration"),
            "roleDefinitionId": ROLE["exchange"],
            "principalId": migration["id"],
            "directoryScopeId": "/",
            "principal": migration,
        }
    )
    return sorted(out, key=lambda a: a["id"])


def role_eligibility() -> list[dict]:
    out = []
    for upn, role in ELIGIBLE:
        principal = user(upn)
        out.append(
            {
                "id": oid(f"eligibility/{upn}/{role}"),
                "roleDefinitionId": ROLE[role],
                "principalId": principal["id"],
                "directoryScopeId": "/",
                "principal": principal,
            }
        )
    return sorted(out, key=lambda a: a["id"])


def group_members() -> list[dict]:
    return [
        {
            "id": HELPDESK_GROUP["id"],
            "displayName": HELPDESK_GROUP["displayName"],
            "membersListed": "all",
            "members": sorted((user(upn) for upn in HELPDESK_MEMBERS), key=lambda m: m["id"]),
        }
    ]


def registration_details() -> list[dict]:
    upns = sorted({u for u, _ in ACTIVE} | {u for u, _ in ELIGIBLE} | set(HELPDESK_MEMBERS))
    direct = {u for u, _ in ACTIVE}
    out = []
    for upn in upns:
        registered = upn not in NOT_REGISTERED
        out.append(
            {
                "id": oid(upn),
                "userPrincipalName": upn,
                "userDisplayName": user(upn)["displayName"],
                "userType": "member",
                # The report marks direct role holders; eligible and group-based admins are
                # not marked, so the collector fetches them by id.
                "isAdmin": upn in direct,
                "isMfaRegistered": registered,
                "isMfaCapable": registered,
                "methodsRegistered": ["microsoftAuthenticatorPush", "softwareOneTimePasscode"]
                if registered
                else [],
            }
        )
    return out


def conditional_access() -> list[dict]:
    admin_roles = [
        ROLE[r]
        for r in (
            "ga",
            "exchange",
            "exchange_recipient",
            "security_admin",
            "helpdesk",
            "user_admin",
            "security_reader",
            "global_reader",
            "pra",
        )
    ]

    def policy(name, state, users, grant, apps=("All",), client=("all",), locations=None):
        conditions = {
            "users": {
                "includeUsers": [],
                "excludeUsers": [],
                "includeGroups": [],
                "excludeGroups": [],
                "includeRoles": [],
                "excludeRoles": [],
                **users,
            },
            "applications": {"includeApplications": list(apps), "excludeApplications": []},
            "clientAppTypes": list(client),
        }
        if locations:
            conditions["locations"] = locations
        return {
            "id": oid(f"ca/{name}"),
            "displayName": name,
            "state": state,
            "conditions": conditions,
            "grantControls": {
                "operator": "OR",
                "builtInControls": grant,
                "authenticationStrength": None,
            },
        }

    policies = [
        policy(
            "CA001 Require MFA for administrators",
            "enabled",
            {
                "includeRoles": admin_roles,
                "excludeUsers": [
                    oid("bg-admin1@tailspintoys.onmicrosoft.com"),
                    oid("bg-admin2@tailspintoys.onmicrosoft.com"),
                    oid("dave.okafor@tailspintoys.com"),  # planted: excluded "temporarily"
                ],
            },
            ["mfa"],
        ),
        policy(
            "CA002 Require MFA for all users",
            "enabledForReportingButNotEnforced",
            {
                "includeUsers": ["All"],
                "excludeUsers": [oid("bg-admin1@tailspintoys.onmicrosoft.com")],
            },
            ["mfa"],
        ),
        policy(
            "CA003 Block legacy authentication",
            "enabled",
            # planted: the scanner is excluded so that it can send with SMTP AUTH and a password
            {"includeUsers": ["All"], "excludeUsers": [user_id(SMTP_AUTH_MAILBOX)]},
            ["block"],
            client=("exchangeActiveSync", "other"),
        ),
        policy(
            "CA004 Require MFA outside trusted locations",
            "enabled",
            {
                "includeUsers": ["All"],
                "excludeUsers": [oid("bg-admin1@tailspintoys.onmicrosoft.com")],
            },
            ["mfa"],
            locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]},
        ),
    ]
    return sorted(policies, key=lambda p: p["id"])


# --- Exchange: outbound spam, remote domains, transport rules, blocked senders, DKIM --------


def outbound_spam_policies() -> list[dict]:
    return [
        {
            "Name": "Default",
            "IsDefault": True,
            "Enabled": True,
            "RecipientLimitExternalPerHour": 0,
            "RecipientLimitInternalPerHour": 0,
            "RecipientLimitPerDay": 0,
            "ActionWhenThresholdReached": "BlockUserForToday",
            "AutoForwardingMode": "Automatic",
            "BccSuspiciousOutboundMail": False,
            "BccSuspiciousOutboundAdditionalRecipients": [],
            "NotifyOutboundSpam": False,
            "NotifyOutboundSpamRecipients": [],
        },
        {
            "Name": "Executives",
            "IsDefault": False,
            "Enabled": True,
            "RecipientLimitExternalPerHour": 400,
            "RecipientLimitInternalPerHour": 800,
            "RecipientLimitPerDay": 1000,
            "ActionWhenThresholdReached": "BlockUser",
            "AutoForwardingMode": "Off",
            "BccSuspiciousOutboundMail": True,
            "BccSuspiciousOutboundAdditionalRecipients": ["soc@tailspintoys.com"],
            "NotifyOutboundSpam": True,
            "NotifyOutboundSpamRecipients": ["soc@tailspintoys.com"],
        },
    ]


def remote_domains() -> list[dict]:
    return [
        {
            "Name": "Contoso Payroll",
            "DomainName": "contosopayroll.com",
            "AutoForwardEnabled": False,
            "AutoReplyEnabled": False,
            "AllowedOOFType": "External",
        },
        {
            "Name": "Default",
            "DomainName": "*",
            "AutoForwardEnabled": True,
            "AutoReplyEnabled": True,
            "AllowedOOFType": "External",
        },
    ]


def transport_rules() -> list[dict]:
    def rule(name, priority, state, **props):
        base = {
            "Name": name,
            "Priority": priority,
            "State": state,
            "Mode": "Enforce",
            "FromScope": None,
            "SentToScope": None,
            "SenderDomainIs": [],
            "SetSCL": None,
            "RedirectMessageTo": [],
            "BlindCopyTo": [],
            "AddToRecipients": [],
            "CopyTo": [],
            "RouteMessageOutboundConnector": None,
            "Conditions": [],
            "Actions": [],
            "WhenChanged": "2025-02-11T14:20:00Z",
        }
        return {**base, **props}

    return [
        rule(
            "External disclaimer",
            0,
            "Enabled",
            SentToScope="NotInOrganization",
            Conditions=["SentToScope"],
            Actions=["ApplyHtmlDisclaimer"],
        ),
        rule(
            "Legacy journal copy",
            2,
            "Disabled",
            BlindCopyTo=["journal@mailvault.example"],
            Conditions=[],
            Actions=["BlindCopyTo"],
        ),
        rule(
            "Skip filtering for payroll partner",
            1,
            "Enabled",
            FromScope="NotInOrganization",
            SenderDomainIs=["contosopayroll.com"],
            SetSCL=-1,
            Conditions=["FromScope", "SenderDomainIs"],
            Actions=["SetSCL"],
            WhenChanged="2026-10-02T09:45:00Z",
        ),
    ]


GRAPH_API = "Microsoft Graph"
EXO_API = "Office 365 Exchange Online"


def mail_apps() -> list[dict]:
    """Service principals with application permissions over every mailbox. Planted: a CRM
    mailer from an unverified publisher, consented last month, unscoped and not approved; the
    notifications app is limited by an application access policy; the payroll export is
    approved in the baseline with its owner."""

    def app(name, publisher, verified, permissions):
        return {
            "id": oid(f"sp/{name}"),
            "appId": oid(f"app/{name}"),
            "displayName": name,
            "publisherName": publisher,
            "appOwnerOrganizationId": oid(f"tenant/{publisher}"),
            "verifiedPublisher": publisher if verified else None,
            "permissions": [
                {"resource": resource, "permission": value, "grantedAt": at}
                for resource, value, at in permissions
            ],
        }

    apps = [
        app(
            "Contoso CRM Mailer",
            "Contoso Marketing Tools",
            False,
            [(GRAPH_API, "Mail.Send", "2026-10-02T14:11:00Z")],
        ),
        app(
            "Tailspin Notifications",
            "Tailspin Toys",
            True,
            [(GRAPH_API, "Mail.Send", "2025-03-10T09:00:00Z")],
        ),
        app(
            "Payroll Export",
            "Contoso Payroll",
            True,
            [(EXO_API, "full_access_as_app", "2024-06-01T08:30:00Z")],
        ),
    ]
    return sorted(apps, key=lambda a: (a["displayName"].lower(), a["id"]))


def application_access_policies() -> list[dict]:
    return [
        {
            "AppId": oid("app/Tailspin Notifications"),
            "ScopeName": "SG-Notification-Senders",
            "ScopeIdentity": "SG-Notification-Senders",
            "AccessRight": "RestrictAccess",
            "Description": "Notifications send only as noreply@ and alerts@",
        }
    ]


def security_alerts() -> list[dict]:
    """alerts_v2 of the week, as the collector keeps them. Planted: EOP's default policies
    fired for Peggy's burst and her restriction; the malware alert is not about a block."""

    def alert(n, title, severity, created, subjects, source="microsoftDefenderForOffice365"):
        return {
            "id": f"fa{n:016x}",
            "title": title,
            "severity": severity,
            "status": "new",
            "category": "ThreatManagement",
            "serviceSource": source,
            "createdDateTime": created,
            "alertWebUrl": f"https://security.microsoft.com/alerts/fa{n:016x}",
            "subjects": subjects,
        }

    peggy = ["peggy.olson@tailspintoys.com"]
    return [
        alert(1, "Malware campaign detected after delivery", "medium", "2026-11-15T10:12:00Z", []),
        alert(
            2, "Suspicious email sending patterns detected", "medium", "2026-11-19T18:40:00Z", peggy
        ),
        alert(3, "User restricted from sending email", "high", "2026-11-19T22:14:30Z", peggy),
    ]


def restricted_inbox_rules() -> list[dict]:
    """Get-InboxRule -Mailbox for each restricted user. Planted: Peggy's mailbox has a rule
    named "." that forwards to an outside address and hides the replies in RSS Feeds, the
    classic sign of a taken-over mailbox; her own rule for newsletters is harmless."""
    return [
        {
            "Mailbox": "peggy.olson@tailspintoys.com",
            "Rules": [
                {
                    "Name": ".",
                    "Enabled": True,
                    "ForwardTo": ['"Peg" [SMTP:peg.olson1970@freemail.example]'],
                    "ForwardAsAttachmentTo": [],
                    "RedirectTo": [],
                    "DeleteMessage": False,
                    "SoftDeleteMessage": False,
                    "MoveToFolder": "RSS Feeds",
                    "MarkAsRead": True,
                },
                {
                    "Name": "Newsletters",
                    "Enabled": True,
                    "ForwardTo": [],
                    "ForwardAsAttachmentTo": [],
                    "RedirectTo": [],
                    "DeleteMessage": False,
                    "SoftDeleteMessage": False,
                    "MoveToFolder": "Newsletters",
                    "MarkAsRead": False,
                },
            ],
        }
    ]


def blocked_senders() -> list[dict]:
    return [
        {
            "SenderAddress": "peggy.olson@tailspintoys.com",
            "Reason": "OutboundSpamLast24Hours",
            "CreatedDatetime": "2026-11-19T22:14:03Z",
            "ChangedDatetime": "2026-11-19T22:14:03Z",
        }
    ]


def dkim_signing() -> list[dict]:
    def config(domain, enabled):
        label = domain.replace(".", "-")
        return {
            "Domain": domain,
            "Enabled": enabled,
            "Status": "Valid" if enabled else "CnameMissing",
            "Selector1CNAME": f"selector1-{label}._domainkey.tailspintoys.r-v1.dkim.mail.microsoft",
            "Selector2CNAME": f"selector2-{label}._domainkey.tailspintoys.r-v1.dkim.mail.microsoft",
        }

    return [
        config("tailspin-events.com", False),
        config("tailspin.co.uk", True),
        config("tailspintoys.com", True),
        config("tailspintoys.onmicrosoft.com", True),
        config("wingtipdirect.com", False),
    ]


# --- Entra ID: subscriptions -----------------------------------------------------------------


def subscriptions() -> list[dict]:
    def sub(name, sku, status, next_date, trial=False, total=40, plans=("EXCHANGE_S_ENTERPRISE",)):
        return {
            "id": oid(f"subscription/{name}"),
            "commerceSubscriptionId": oid(f"commerce/{name}"),
            "skuId": oid(f"sku/{sku}"),
            "skuPartNumber": sku,
            "status": status,
            "isTrial": trial,
            "totalLicenses": total,
            "createdDateTime": "2023-03-01T00:00:00Z",
            "nextLifecycleDateTime": next_date,
            "serviceStatus": [
                {"servicePlanName": p, "provisioningStatus": "Success"} for p in plans
            ],
        }

    subs = [
        sub("m365-e3", "SPE_E3", "Enabled", "2027-06-30T00:00:00Z"),
        # planted: the Exchange plan for the UK office lapses in 12 days and is in grace
        sub(
            "exo-plan1",
            "EXCHANGESTANDARD",
            "Warning",
            "2026-12-02T00:00:00Z",
            total=10,
            plans=("EXCHANGE_S_STANDARD",),
        ),
        sub(
            "entra-p2-trial",
            "AAD_PREMIUM_P2",
            "Enabled",
            "2027-01-15T00:00:00Z",
            trial=True,
            total=25,
            plans=("AAD_PREMIUM_P2",),
        ),
    ]
    return sorted(subs, key=lambda s: s["id"])


def subscribed_skus() -> list[dict]:
    def sku(part, status, enabled, warning, consumed, plans):
        return {
            "skuId": oid(f"sku/{part}"),
            "skuPartNumber": part,
            "capabilityStatus": status,
            "prepaidUnits": {
                "enabled": enabled,
                "warning": warning,
                "suspended": 0,
                "lockedOut": 0,
            },
            "consumedUnits": consumed,
            "servicePlans": [
                {"servicePlanName": p, "provisioningStatus": "Success", "appliesTo": "User"}
                for p in plans
            ],
        }

    skus = [
        sku("SPE_E3", "Enabled", 40, 0, 36, ("EXCHANGE_S_ENTERPRISE", "AAD_PREMIUM")),
        sku("EXCHANGESTANDARD", "Warning", 0, 10, 8, ("EXCHANGE_S_STANDARD",)),
        sku("AAD_PREMIUM_P2", "Enabled", 25, 0, 12, ("AAD_PREMIUM_P2",)),
    ]
    return sorted(skus, key=lambda s: s["skuId"])


def dns_records() -> dict:
    lookup = zone_lookup(load_zone())
    return {
        "resolver": "demo",
        "queries": mail_records(lookup, sending_domains(accepted_domains())),
    }


def dns_blocklists() -> dict:
    lookup = zone_lookup(load_zone())
    zone = "zen.spamhaus.org"
    found, skipped, unresolved = sending_addresses(
        inbound_connectors(), outbound_connectors(), message_trace(), lookup, 16
    )
    addresses = []
    for address in sorted(found, key=lambda a: tuple(int(p) for p in a.split("."))):
        reverse = ".".join(reversed(address.split(".")))
        addresses.append(
            {
                "address": address,
                "sources": sorted(found[address]),
                "results": {zone: lookup(f"{reverse}.{zone}", "A")},
            }
        )
    return {
        "resolver": "demo",
        "zones": [zone],
        "zoneTests": zone_tests(lookup, [zone]),
        "maxAddressesPerRange": 16,
        "addresses": addresses,
        "skipped": skipped,
        "unresolved": unresolved,
    }


def build() -> dict:
    return {
        "schema": "m365-mail-auditor/snapshot",
        "schemaVersion": 1,
        "tool": {"name": "m365-mail-auditor", "version": "demo"},
        "tenant": {
            "id": TENANT_ID,
            "displayName": "Tailspin Toys (demo)",
            "defaultDomain": "tailspintoys.com",
            "cloud": "global",
        },
        "collectedAt": COLLECTED,
        "sources": {
            "graph.organization": source(
                [{"id": TENANT_ID, "displayName": "Tailspin Toys (demo)"}]
            ),
            "graph.domains": source(graph_domains()),
            "graph.roleAssignments": source(role_assignments()),
            "graph.roleEligibilitySchedules": source(role_eligibility()),
            "graph.groupMembers": source(group_members()),
            "graph.userRegistrationDetails": source(registration_details()),
            "graph.users": source(users()),
            "graph.conditionalAccessPolicies": source(conditional_access()),
            "graph.mailApps": source(mail_apps()),
            "graph.securityAlerts": source(security_alerts()),
            "graph.subscriptions": source(subscriptions()),
            "graph.subscribedSkus": source(subscribed_skus()),
            "graph.securityDefaults": source(
                {"id": "00000000-0000-0000-0000-000000000000", "isEnabled": False}
            ),
            "exchange.acceptedDomains": source(accepted_domains()),
            "exchange.inboundConnectors": source(inbound_connectors()),
            "exchange.outboundConnectors": source(outbound_connectors()),
            "exchange.forwardingMailboxes": source(forwarding_mailboxes()),
            "exchange.applicationAccessPolicies": source(application_access_policies()),
            "exchange.sharedMailboxes": source(shared_mailboxes()),
            "exchange.transportConfig": source(transport_config()),
            "exchange.smtpAuthMailboxes": source(smtp_auth_mailboxes()),
            "exchange.outboundSpamPolicies": source(outbound_spam_policies()),
            "exchange.remoteDomains": source(remote_domains()),
            "exchange.transportRules": source(transport_rules()),
            "exchange.blockedSenders": source(blocked_senders()),
            "exchange.restrictedInboxRules": source(restricted_inbox_rules()),
            "exchange.dkimSigningConfig": source(dkim_signing()),
            "exchange.messageTrace": source(message_trace()),
            "exchange.limitsEnforcementStatus": source(limits_enforcement()),
            "dns.records": source(dns_records()),
            "dns.blocklists": source(dns_blocklists()),
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
