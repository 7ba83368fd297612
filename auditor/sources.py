"""The catalogue of named sources: what each reads and what access that needs.

Checks name the sources they require; `checks list` and the README's permission table are
derived from this one list, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

EXCHANGE_ROLE = "Exchange.ManageAsApp + Entra role Global Reader"


@dataclass(frozen=True)
class SourceInfo:
    name: str
    api: str
    permission: str
    licence: str = ""


_CATALOGUE = (
    SourceInfo("graph.organization", "GET /organization", "Organization.Read.All"),
    SourceInfo("graph.domains", "GET /domains", "Domain.Read.All"),
    SourceInfo(
        "graph.roleAssignments",
        "GET /roleManagement/directory/roleAssignments?$expand=principal",
        "RoleManagement.Read.Directory",
    ),
    SourceInfo(
        "graph.roleEligibilitySchedules",
        "GET /roleManagement/directory/roleEligibilitySchedules?$expand=principal",
        "RoleEligibilitySchedule.Read.Directory",
        "Entra ID P2 (PIM)",
    ),
    SourceInfo(
        "graph.groupMembers",
        "GET /groups/{id}/transitiveMembers (role-holding and CA-referenced groups)",
        "GroupMember.Read.All",
    ),
    SourceInfo(
        "graph.userRegistrationDetails",
        "GET /reports/authenticationMethods/userRegistrationDetails",
        "AuditLog.Read.All",
        "Entra ID P1",
    ),
    SourceInfo(
        "graph.conditionalAccessPolicies",
        "GET /identity/conditionalAccess/policies",
        "Policy.Read.All",
        "Entra ID P1",
    ),
    SourceInfo(
        "graph.securityDefaults",
        "GET /policies/identitySecurityDefaultsEnforcementPolicy",
        "Policy.Read.All",
    ),
    SourceInfo("exchange.acceptedDomains", "Get-AcceptedDomain", EXCHANGE_ROLE),
    SourceInfo("exchange.inboundConnectors", "Get-InboundConnector", EXCHANGE_ROLE),
    SourceInfo("exchange.outboundConnectors", "Get-OutboundConnector", EXCHANGE_ROLE),
    SourceInfo("exchange.mailboxes", "Get-Mailbox -ResultSize Unlimited", EXCHANGE_ROLE),
    SourceInfo(
        "exchange.messageTrace",
        "Get-MessageTraceV2 (aggregated: sender domain x source IP x direction)",
        EXCHANGE_ROLE,
    ),
)

CATALOGUE: dict[str, SourceInfo] = {s.name: s for s in _CATALOGUE}


def describe(name: str) -> SourceInfo:
    """Known sources from the catalogue; a plugin's own source is described as such."""
    return CATALOGUE.get(name) or SourceInfo(name, "(provided by a plugin)", "(see the plugin)")
