"""The catalogue of named sources: what each reads, with what access, and its collector.

Checks name the sources they require; collection, `checks list`, `permissions` and the
README's permission table all come from this one list, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from auditor.collect.collectors import CollectContext, dns_sources
from auditor.collect.collectors import exchange_sources as exo
from auditor.collect.collectors import graph_sources as graph
from auditor.collect.collectors.message_trace import message_trace

EXCHANGE_PERMISSION = "Exchange.ManageAsApp + Entra role Global Reader"


@dataclass(frozen=True)
class SourceInfo:
    name: str
    api: str
    permission: str
    licence: str = ""
    collect: Callable[[CollectContext], Any] | None = None
    depends: tuple[str, ...] = ()
    # The part of the collection that needs no dependency, started with the first sources
    # (its context has no dependencies); `collect` then finds it in `ctx.prefetched`.
    prefetch: Callable[[CollectContext], Any] | None = None

    @property
    def service(self) -> str:
        return self.name.split(".", 1)[0]


_CATALOGUE = (
    SourceInfo(
        "graph.organization",
        "GET /organization",
        "Organization.Read.All",
        collect=graph.organization,
    ),
    SourceInfo("graph.domains", "GET /domains", "Domain.Read.All", collect=graph.domains),
    SourceInfo(
        "graph.roleAssignments",
        "GET /roleManagement/directory/roleAssignments?$expand=principal",
        "RoleManagement.Read.Directory",
        collect=graph.role_assignments,
    ),
    SourceInfo(
        "graph.roleEligibilitySchedules",
        "GET /roleManagement/directory/roleEligibilitySchedules?$expand=principal",
        "RoleEligibilitySchedule.Read.Directory",
        "Entra ID P2 for PIM (without it: no eligible assignments)",
        collect=graph.role_eligibility,
    ),
    SourceInfo(
        "graph.groupMembers",
        "POST /$batch of GET /groups/{id}/transitiveMembers (role-holding groups) and POST "
        "/users/{id}/checkMemberGroups (admins in groups Conditional Access names)",
        "GroupMember.Read.All",
        collect=graph.group_members,
        depends=(
            "graph.roleAssignments",
            "graph.roleEligibilitySchedules",
            "graph.conditionalAccessPolicies",
        ),
    ),
    SourceInfo(
        "graph.userRegistrationDetails",
        "GET /reports/authenticationMethods/userRegistrationDetails?$filter=isAdmin eq true",
        "AuditLog.Read.All",
        "Entra ID P1",
        collect=graph.registration_details,
        depends=("graph.roleAssignments", "graph.roleEligibilitySchedules", "graph.groupMembers"),
        prefetch=graph.marked_admins,
    ),
    SourceInfo(
        "graph.users",
        "GET /users?$select=id,userPrincipalName,mail,proxyAddresses,accountEnabled&$top=999",
        "User.Read.All",
        collect=graph.users,
    ),
    SourceInfo(
        "graph.conditionalAccessPolicies",
        "GET /identity/conditionalAccess/policies",
        "Policy.Read.All",
        "Entra ID P1",
        collect=graph.conditional_access,
    ),
    SourceInfo(
        "graph.securityDefaults",
        "GET /policies/identitySecurityDefaultsEnforcementPolicy",
        "Policy.Read.All",
        collect=graph.security_defaults,
    ),
    SourceInfo(
        "graph.mailApps",
        "GET /servicePrincipals/{Graph and Exchange Online}/appRoleAssignedTo, and each holder",
        "Application.Read.All",
        collect=graph.mail_apps,
    ),
    SourceInfo(
        "graph.securityAlerts",
        "GET /security/alerts_v2?$filter=createdDateTime ge <start of the trace period>",
        "SecurityAlert.Read.All",
        "a Microsoft Defender licence that exposes alerts to Graph",
        collect=graph.security_alerts,
    ),
    SourceInfo(
        "graph.subscriptions",
        "GET /directory/subscriptions",
        "Organization.Read.All",
        collect=graph.subscriptions,
    ),
    SourceInfo(
        "graph.subscribedSkus",
        "GET /subscribedSkus",
        "LicenseAssignment.Read.All",
        collect=graph.subscribed_skus,
    ),
    SourceInfo(
        "exchange.acceptedDomains",
        "Get-AcceptedDomain",
        EXCHANGE_PERMISSION,
        collect=exo.accepted_domains,
    ),
    SourceInfo(
        "exchange.inboundConnectors",
        "Get-InboundConnector",
        EXCHANGE_PERMISSION,
        collect=exo.inbound_connectors,
    ),
    SourceInfo(
        "exchange.outboundConnectors",
        "Get-OutboundConnector",
        EXCHANGE_PERMISSION,
        collect=exo.outbound_connectors,
    ),
    SourceInfo(
        "exchange.forwardingMailboxes",
        "Get-Mailbox -Filter 'ForwardingSmtpAddress -ne $null -or ForwardingAddress -ne $null'",
        EXCHANGE_PERMISSION,
        collect=exo.forwarding_mailboxes,
    ),
    SourceInfo(
        "exchange.applicationAccessPolicies",
        "Get-ApplicationAccessPolicy",
        EXCHANGE_PERMISSION,
        collect=exo.application_access_policies,
    ),
    SourceInfo(
        "exchange.sharedMailboxes",
        "Get-Mailbox -RecipientTypeDetails SharedMailbox",
        EXCHANGE_PERMISSION,
        collect=exo.shared_mailboxes,
    ),
    SourceInfo(
        "exchange.transportConfig",
        "Get-TransportConfig (SmtpClientAuthenticationDisabled)",
        EXCHANGE_PERMISSION,
        collect=exo.transport_config,
    ),
    SourceInfo(
        "exchange.smtpAuthMailboxes",
        "Get-CASMailbox -Filter 'SmtpClientAuthenticationDisabled -eq $false'",
        EXCHANGE_PERMISSION,
        collect=exo.smtp_auth_mailboxes,
    ),
    SourceInfo(
        "exchange.outboundSpamPolicies",
        "Get-HostedOutboundSpamFilterPolicy",
        EXCHANGE_PERMISSION,
        collect=exo.outbound_spam_policies,
    ),
    SourceInfo(
        "exchange.remoteDomains",
        "Get-RemoteDomain",
        EXCHANGE_PERMISSION,
        collect=exo.remote_domains,
    ),
    SourceInfo(
        "exchange.transportRules",
        "Get-TransportRule -ResultSize Unlimited",
        EXCHANGE_PERMISSION,
        collect=exo.transport_rules,
    ),
    SourceInfo(
        "exchange.blockedSenders",
        "Get-BlockedSenderAddress",
        EXCHANGE_PERMISSION,
        collect=exo.blocked_senders,
    ),
    SourceInfo(
        "exchange.restrictedInboxRules",
        "Get-InboxRule -Mailbox, for each user restricted from sending",
        EXCHANGE_PERMISSION,
        collect=exo.restricted_inbox_rules,
        depends=("exchange.blockedSenders",),
    ),
    SourceInfo(
        "exchange.dkimSigningConfig",
        "Get-DkimSigningConfig",
        EXCHANGE_PERMISSION,
        collect=exo.dkim_signing,
    ),
    SourceInfo(
        "exchange.limitsEnforcementStatus",
        "Get-LimitsEnforcementStatus (the live tenant external recipient counter)",
        EXCHANGE_PERMISSION,
        collect=exo.limits_enforcement,
    ),
    SourceInfo(
        "exchange.messageTrace",
        "Get-MessageTraceV2 (aggregated: sender domain x source IP x direction)",
        EXCHANGE_PERMISSION,
        collect=message_trace,
        depends=("exchange.acceptedDomains",),
    ),
)

_CATALOGUE += (
    SourceInfo(
        "dns.records",
        "DNS: MX, SPF (TXT, with includes), DMARC and DKIM selector CNAMEs of accepted domains",
        "none (public DNS through --dns-server)",
        collect=dns_sources.records,
        depends=("exchange.acceptedDomains",),
    ),
    SourceInfo(
        "dns.blocklists",
        "DNS: blocklist zones (--dnsbl-zone) for connector and smart host addresses",
        "none (a resolver the blocklist accepts: not a public one)",
        collect=dns_sources.blocklists,
        depends=(
            "exchange.inboundConnectors",
            "exchange.outboundConnectors",
            "exchange.messageTrace",
        ),
    ),
)

CATALOGUE: dict[str, SourceInfo] = {s.name: s for s in _CATALOGUE}
# Always collected: the tenant's own id and name label every snapshot.
ALWAYS = ("graph.organization",)


def describe(name: str) -> SourceInfo:
    """Known sources from the catalogue; a plugin's own source is described as such."""
    return CATALOGUE.get(name) or SourceInfo(name, "(provided by a plugin)", "(see the plugin)")


def with_dependencies(names: Iterable[str], always: bool = True) -> list[str]:
    """The sources to collect, dependencies first (a stable order for the same input)."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for dependency in describe(name).depends:
            visit(dependency)
        ordered.append(name)

    for name in sorted(set(names) | (set(ALWAYS) if always else set())):
        visit(name)
    return ordered
