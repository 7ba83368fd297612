"""Sources read through Exchange Online's InvokeCommand gateway."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from auditor.collect.collectors import CollectContext, normalise_time, project
from auditor.collect.http import ApiError

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
FORWARDING_FIELDS = (
    "PrimarySmtpAddress",
    "RecipientTypeDetails",
    "ForwardingAddress",
    "ForwardingSmtpAddress",
    "DeliverToMailboxAndForward",
)
# OPATH, evaluated by Exchange: only mailboxes that forward come back, so a tenant of any size
# needs one page, not every mailbox (whose paging the gateway may refuse to continue).
FORWARDING_FILTER = "ForwardingSmtpAddress -ne $null -or ForwardingAddress -ne $null"
TIME_FIELDS = (
    "WhenCreatedUTC",
    "WhenChangedUTC",
    "WhenChanged",
    "CreatedDatetime",
    "ChangedDatetime",
)


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


def forwarding_mailboxes(ctx: CollectContext) -> list[dict[str, Any]]:
    parameters = {"Filter": FORWARDING_FILTER, "ResultSize": "Unlimited"}
    rows = ctx.need_exchange().invoke("Get-Mailbox", parameters)
    # The filter is the server's; what comes back is checked here too (as public scripts do).
    forwarding = [r for r in rows if r.get("ForwardingSmtpAddress") or r.get("ForwardingAddress")]
    return _records(forwarding, FORWARDING_FIELDS, "PrimarySmtpAddress")


OUTBOUND_SPAM_FIELDS = (
    "Name",
    "IsDefault",
    "Enabled",
    "RecipientLimitExternalPerHour",
    "RecipientLimitInternalPerHour",
    "RecipientLimitPerDay",
    "ActionWhenThresholdReached",
    "AutoForwardingMode",
    "BccSuspiciousOutboundMail",
    "BccSuspiciousOutboundAdditionalRecipients",
    "NotifyOutboundSpam",
    "NotifyOutboundSpamRecipients",
)
REMOTE_DOMAIN_FIELDS = (
    "Name",
    "DomainName",
    "AutoForwardEnabled",
    "AutoReplyEnabled",
    "AllowedOOFType",
)
TRANSPORT_RULE_FIELDS = (
    "Name",
    "Priority",
    "State",
    "Mode",
    "FromScope",
    "SentToScope",
    "SenderDomainIs",
    "SetSCL",
    "RedirectMessageTo",
    "BlindCopyTo",
    "AddToRecipients",
    "CopyTo",
    "RouteMessageOutboundConnector",
    "Conditions",
    "Actions",
    "WhenChanged",
)
# Field names of Get-BlockedSenderAddress are not confirmed by a primary source; the snapshot
# schema requires SenderAddress, so a different shape is an error, never silently empty.
BLOCKED_SENDER_FIELDS = ("SenderAddress", "Reason", "CreatedDatetime", "ChangedDatetime")
DKIM_FIELDS = ("Domain", "Enabled", "Status", "Selector1CNAME", "Selector2CNAME")


def outbound_spam_policies(ctx: CollectContext) -> list[dict[str, Any]]:
    rows = ctx.need_exchange().invoke("Get-HostedOutboundSpamFilterPolicy")
    return _records(rows, OUTBOUND_SPAM_FIELDS, "Name")


def remote_domains(ctx: CollectContext) -> list[dict[str, Any]]:
    return _records(ctx.need_exchange().invoke("Get-RemoteDomain"), REMOTE_DOMAIN_FIELDS, "Name")


# Multi-valued recipient and domain fields come as an array, a bare string or null, depending
# on how many values the rule holds (public clients read them as "an array or a string").
TRANSPORT_RULE_LISTS = ("RedirectMessageTo", "BlindCopyTo", "AddToRecipients", "CopyTo")
TRANSPORT_RULE_LISTS += ("SenderDomainIs", "Conditions", "Actions")


def as_list(value: Any) -> list[Any] | None:
    """An Exchange multi-valued property as a list: a lone value is a list of one."""
    if value is None or isinstance(value, list):
        return value
    return [value]


def transport_rules(ctx: CollectContext) -> list[dict[str, Any]]:
    rows = ctx.need_exchange().invoke("Get-TransportRule", {"ResultSize": "Unlimited"})
    records = _records(rows, TRANSPORT_RULE_FIELDS, "Name")
    for record in records:
        for name in TRANSPORT_RULE_LISTS:
            if name in record:
                record[name] = as_list(record[name])
    return records


def blocked_senders(ctx: CollectContext) -> list[dict[str, Any]]:
    rows = ctx.need_exchange().invoke("Get-BlockedSenderAddress")
    return _records(rows, BLOCKED_SENDER_FIELDS, "SenderAddress")


def dkim_signing(ctx: CollectContext) -> list[dict[str, Any]]:
    return _records(ctx.need_exchange().invoke("Get-DkimSigningConfig"), DKIM_FIELDS, "Domain")


# Field names as CIPP (its TERRL alert) and CSS-Exchange's TERRL estimator read them; the
# cmdlet's reference page is not public (docs/fake-tenant.md).
LIMITS_FIELDS = ("Identity", "Name", "Verdict", "EnforcementEnabled", "Threshold", "ObservedValue")
_NOT_OFFERED = re.compile(r"not recognized|CommandNotFoundException", re.IGNORECASE)


def limits_enforcement(ctx: CollectContext) -> dict[str, Any]:
    """The live counter of the tenant external recipient rate limit. Where the gateway does
    not know the cmdlet (another cloud, an older service), `Offered` is false: the checks then
    estimate from message trace and say so; any other failure is this source's error."""
    try:
        rows = ctx.need_exchange().invoke("Get-LimitsEnforcementStatus")
    except ApiError as exc:
        if exc.status == 400 and _NOT_OFFERED.search(exc.message):
            ctx.notes.append("Get-LimitsEnforcementStatus is not offered by this gateway")
            return {"Offered": False, "Limits": []}
        raise
    limits = [project(r, LIMITS_FIELDS) for r in rows]
    for limit in limits:
        for name in ("Threshold", "ObservedValue"):
            limit[name] = _number(limit.get(name))
    return {"Offered": True, "Limits": limits}


def _number(value: Any) -> Any:
    """A count as a number, whether the gateway sends 13374 or "13374"; anything else as it
    came, for the snapshot's schema to refuse."""
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    return value


SHARED_MAILBOX_FIELDS = ("PrimarySmtpAddress", "RecipientTypeDetails", "ExternalDirectoryObjectId")


def shared_mailboxes(ctx: CollectContext) -> list[dict[str, Any]]:
    """The shared mailboxes (the cmdlet's own RecipientTypeDetails parameter): few in any
    tenant, with the Entra ID object whose sign-in should be blocked."""
    parameters = {"RecipientTypeDetails": "SharedMailbox", "ResultSize": "Unlimited"}
    rows = ctx.need_exchange().invoke("Get-Mailbox", parameters)
    shared = [r for r in rows if r.get("RecipientTypeDetails") == "SharedMailbox"]
    return _records(shared, SHARED_MAILBOX_FIELDS, "PrimarySmtpAddress")


def transport_config(ctx: CollectContext) -> dict[str, Any]:
    rows = ctx.need_exchange().invoke("Get-TransportConfig")
    if len(rows) != 1:
        raise ApiError(200, f"Get-TransportConfig answered {len(rows)} records, not one")
    return project(rows[0], ("SmtpClientAuthenticationDisabled",))


# SMTP AUTH turned on for a mailbox itself ($false; $null follows the organisation). The
# property is not in Microsoft's list of confirmed filterable properties, so a gateway that
# refuses the filter gets the whole list, judged here (docs/fake-tenant.md).
SMTP_AUTH_FILTER = "SmtpClientAuthenticationDisabled -eq $false"
SMTP_AUTH_FIELDS = ("PrimarySmtpAddress", "SmtpClientAuthenticationDisabled")
_FILTER_REFUSED = re.compile(r"InvalidFilter|filter", re.IGNORECASE)


def smtp_auth_mailboxes(ctx: CollectContext) -> list[dict[str, Any]]:
    exchange = ctx.need_exchange()
    try:
        rows = exchange.invoke(
            "Get-CASMailbox", {"Filter": SMTP_AUTH_FILTER, "ResultSize": "Unlimited"}
        )
    except ApiError as exc:
        if exc.status != 400 or not _FILTER_REFUSED.search(exc.message):
            raise
        ctx.notes.append("the gateway refused the SMTP AUTH filter: every mailbox was read")
        rows = exchange.invoke("Get-CASMailbox", {"ResultSize": "Unlimited"})
    enabled = [r for r in rows if r.get("SmtpClientAuthenticationDisabled") is False]
    return _records(enabled, SMTP_AUTH_FIELDS, "PrimarySmtpAddress")


# What a taken-over mailbox's rules do: forward, redirect, delete, or hide mail in a folder
# nobody reads (Hawk's and Microsoft Sentinel's BEC rules look at the same properties).
INBOX_RULE_FIELDS = (
    "Name",
    "Enabled",
    "ForwardTo",
    "ForwardAsAttachmentTo",
    "RedirectTo",
    "DeleteMessage",
    "SoftDeleteMessage",
    "MoveToFolder",
    "MarkAsRead",
)
MAX_RESTRICTED_MAILBOXES = 50  # a tenant with more has one problem, not fifty to read


def restricted_inbox_rules(ctx: CollectContext) -> list[dict[str, Any]]:
    """The inbox rules of each user the outbound spam policy restricted, and only theirs: a
    few calls however large the tenant. A mailbox that cannot be read keeps its error."""
    exchange = ctx.need_exchange()
    senders = sorted(
        {str(b["SenderAddress"]).lower() for b in ctx.dependencies["exchange.blockedSenders"]}
    )
    if len(senders) > MAX_RESTRICTED_MAILBOXES:
        ctx.notes.append(
            f"{len(senders)} restricted users: the rules of the first "
            f"{MAX_RESTRICTED_MAILBOXES} were read"
        )
    out = []
    for address in senders[:MAX_RESTRICTED_MAILBOXES]:
        try:
            rows = exchange.invoke("Get-InboxRule", {"Mailbox": address})
        except ApiError as exc:
            if exc.status in (401, 403) or exc.status is None or exc.status >= 500:
                raise  # the gateway or the grant, not this mailbox: the source's error
            out.append({"Mailbox": address, "Error": exc.message[:300]})
            continue
        rules = []
        for row in rows:
            rule = project(row, INBOX_RULE_FIELDS)
            for name in ("ForwardTo", "ForwardAsAttachmentTo", "RedirectTo"):
                if name in rule:
                    rule[name] = as_list(rule[name]) or []
            rules.append(rule)
        out.append({"Mailbox": address, "Rules": sorted(rules, key=lambda r: str(r["Name"]))})
    return out


APPLICATION_ACCESS_FIELDS = ("AppId", "ScopeName", "ScopeIdentity", "AccessRight", "Description")


def application_access_policies(ctx: CollectContext) -> list[dict[str, Any]]:
    """Get-ApplicationAccessPolicy: which apps' mail permissions are limited to (or kept from)
    a group of mailboxes."""
    rows = ctx.need_exchange().invoke("Get-ApplicationAccessPolicy")
    return _records(rows, APPLICATION_ACCESS_FIELDS, "AppId")
