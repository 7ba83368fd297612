"""Sources read through Exchange Online's InvokeCommand gateway."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.collectors import CollectContext, normalise_time, project

ACCEPTED_DOMAIN_FIELDS = (
    "DomainName",
    "DomainType",
    "Default",
    "InitialDomain",
    "MatchSubDomains",
    "SendingFromDomainDisabled",
    "AuthenticationType",
)
INBOUND_FIELDS = (
    "Name",
    "Identity",
    "Enabled",
    "ConnectorType",
    "ConnectorSource",
    "Comment",
    "SenderIPAddresses",
    "SenderDomains",
    "TrustedOrganizations",
    "AssociatedAcceptedDomains",
    "RequireTls",
    "RestrictDomainsToIPAddresses",
    "RestrictDomainsToCertificate",
    "TlsSenderCertificateName",
    "CloudServicesMailEnabled",
    "TreatMessagesAsInternal",
    "EFTestMode",
    "EFSkipLastIP",
    "WhenCreatedUTC",
    "WhenChangedUTC",
)
OUTBOUND_FIELDS = (
    "Name",
    "Enabled",
    "ConnectorType",
    "UseMXRecord",
    "SmartHosts",
    "RecipientDomains",
    "TlsSettings",
    "TlsDomain",
    "IsTransportRuleScoped",
    "RouteAllMessagesViaOnPremises",
    "CloudServicesMailEnabled",
    "AllAcceptedDomains",
    "WhenCreatedUTC",
    "WhenChangedUTC",
)
MAILBOX_FIELDS = (
    "PrimarySmtpAddress",
    "EmailAddresses",
    "RecipientTypeDetails",
    "ForwardingAddress",
    "ForwardingSmtpAddress",
    "DeliverToMailboxAndForward",
)
TIME_FIELDS = ("WhenCreatedUTC", "WhenChangedUTC")


def _records(rows: Iterable[dict[str, Any]], fields: tuple[str, ...], key: str) -> list[dict]:
    out = []
    for row in rows:
        record = project(row, fields)
        for name in TIME_FIELDS:
            if name in record:
                record[name] = normalise_time(record[name])
        out.append(record)
    return sorted(out, key=lambda r: str(r.get(key, "")).lower())


def accepted_domains(ctx: CollectContext) -> list[dict[str, Any]]:
    rows = ctx.need_exchange().invoke("Get-AcceptedDomain")
    return _records(rows, ACCEPTED_DOMAIN_FIELDS, "DomainName")


def inbound_connectors(ctx: CollectContext) -> list[dict[str, Any]]:
    return _records(ctx.need_exchange().invoke("Get-InboundConnector"), INBOUND_FIELDS, "Name")


def outbound_connectors(ctx: CollectContext) -> list[dict[str, Any]]:
    return _records(ctx.need_exchange().invoke("Get-OutboundConnector"), OUTBOUND_FIELDS, "Name")


def mailboxes(ctx: CollectContext) -> list[dict[str, Any]]:
    rows = ctx.need_exchange().invoke("Get-Mailbox", {"ResultSize": "Unlimited"})
    return _records(rows, MAILBOX_FIELDS, "PrimarySmtpAddress")
