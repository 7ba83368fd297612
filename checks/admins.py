"""Admin identity: a compromised admin without MFA is how rogue connectors get created."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.judge import CheckContext, Result, Status, check
from checks._ca import ids, limits, users_of
from checks._roles import JUDGED_ROLES

USER = "#microsoft.graph.user"
GROUP = "#microsoft.graph.group"
SERVICE_PRINCIPAL = "#microsoft.graph.servicePrincipal"


@dataclass(frozen=True)
class Holding:
    role: str
    assignment: str  # active | eligible
    via_group: str | None
    scope: str

    def evidence(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "assignment": self.assignment,
            "viaGroup": self.via_group,
            "scope": self.scope,
        }

    def describe(self) -> str:
        text = self.role if self.assignment == "active" else f"{self.role} (eligible)"
        return f"{text} via group {self.via_group}" if self.via_group else text


@dataclass
class Principal:
    kind: str
    id: str
    name: str
    app_id: str | None = None
    holdings: list[Holding] = field(default_factory=list)
    role_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Coverage:
    requiring: tuple[str, ...]
    excluded: tuple[str, ...]
    conditional: tuple[str, ...]
    uncertain: tuple[str, ...]


# Methods that are multifactor on their own; any other method alone is a single factor, so an
# authentication strength that allows it does not require MFA.
MULTIFACTOR_ALONE = frozenset(
    {
        "windowsHelloForBusiness",
        "fido2",
        "x509CertificateMultiFactor",
        "deviceBasedPush",
        "temporaryAccessPassOneTime",
        "temporaryAccessPassMultiUse",
        "federatedMultiFactor",
    }
)


def strength_requires_mfa(strength: Mapping[str, Any]) -> tuple[bool | None, str]:
    """Whether an authentication strength demands more than one factor: it must satisfy MFA
    (`requirementsSatisfied` is `mfa`) and allow no single-factor combination (`password`
    alone, `sms` alone...). None when the strength's combinations were not collected."""
    name = str(strength.get("displayName") or strength.get("id") or "(unnamed)")
    combinations = strength.get("allowedCombinations")
    if combinations is None:
        return None, f"the combinations of authentication strength {name!r} were not collected"
    if str(strength.get("requirementsSatisfied") or "").lower() != "mfa":
        return False, f"authentication strength {name!r} does not satisfy MFA"
    if not combinations:
        return False, f"authentication strength {name!r} allows no method combination"
    single = [
        str(c)
        for c in combinations
        if "," not in str(c) and str(c).strip() not in MULTIFACTOR_ALONE
    ]
    if single:
        return False, (
            f"authentication strength {name!r} allows single-factor sign-in ({', '.join(single)})"
        )
    return True, ""


def requires_mfa(policy: Mapping[str, Any]) -> tuple[bool | None, str]:
    """Whether satisfying the policy's grant takes MFA: with OR, every alternative must (a
    compliant device, or a strength that allows a password alone, lets a user through
    without it); with AND, one that does is enough. None when that depends on a strength
    whose combinations are unknown."""
    grant = policy.get("grantControls") or {}
    alternatives: list[tuple[bool | None, str]] = [
        (True, "") if c == "mfa" else (False, f"the {c} control")
        for c in grant.get("builtInControls") or ()
    ]
    if grant.get("authenticationStrength"):
        alternatives.append(strength_requires_mfa(grant["authenticationStrength"]))
    if not alternatives:
        return False, ""
    if str(grant.get("operator") or "AND").upper() == "OR":
        weak = [note for verdict, note in alternatives if verdict is False]
        if weak:
            return False, f"it can be satisfied by {weak[0]} instead"
        unknown = [note for verdict, note in alternatives if verdict is None]
        return (None, unknown[0]) if unknown else (True, "")
    if any(verdict for verdict, _ in alternatives):
        return True, ""
    unknown = [note for verdict, note in alternatives if verdict is None]
    return (None, unknown[0]) if unknown else (False, "")


def _requires_mfa(policy: Mapping[str, Any]) -> bool:
    return requires_mfa(policy)[0] is True


def external_kind(principal_name: str, user_type: str | None) -> str | None:
    """The guestOrExternalUserType Conditional Access matches a user as: a B2B account
    carries #EXT# in its UPN; a guest without it is a local guest. None for a member."""
    external = "#EXT#" in principal_name.upper()
    if str(user_type or "").lower() == "guest":
        return "b2bCollaborationGuest" if external else "internalGuest"
    return "b2bCollaborationMember" if external else None


def guests_match(spec: Mapping[str, Any] | None, kind: str | None) -> bool | None:
    """Whether include/excludeGuestsOrExternalUsers names a user of this kind: True, False,
    or None when it depends on the user's home tenant (named tenants), not collected."""
    if not spec or kind is None:
        return False
    types = {t.strip() for t in str(spec.get("guestOrExternalUserTypes") or "").split(",")}
    if kind not in types:
        return False
    if kind == "internalGuest":
        return True
    tenants = spec.get("externalTenants") or {}
    if str(tenants.get("membershipKind") or "").lower() == "all" or "AllExternalTenants" in str(
        tenants.get("@odata.type") or ""
    ):
        return True
    return None


def _coverage(
    user: Principal,
    groups: set[str],
    policies: Iterable[Mapping[str, Any]],
    known_groups: set[str],
    kind: str | None = None,
) -> Coverage:
    """The enabled policies that require `user` to use MFA, those that exclude the user or
    apply only sometimes, and those whose reach cannot be told from the data (`uncertain`,
    with why)."""
    requiring, excluded, conditional, uncertain = [], [], [], []
    for policy in policies:
        if policy.get("state") != "enabled":
            continue
        mfa, why_not = requires_mfa(policy)
        if mfa is False:
            continue
        users = users_of(policy)
        name = str(policy.get("displayName") or policy.get("id"))
        guest_in = guests_match(users.get("includeGuestsOrExternalUsers"), kind)
        included = (
            "All" in ids(users, "includeUsers")
            or user.id in ids(users, "includeUsers")
            or user.role_ids & ids(users, "includeRoles")
            or groups & ids(users, "includeGroups")
            or guest_in is True
        )
        if not included:
            if guest_in is None:
                uncertain.append(f"{name} (it names guests of some external tenants)")
            continue
        guest_out = guests_match(users.get("excludeGuestsOrExternalUsers"), kind)
        if (
            user.id in ids(users, "excludeUsers")
            or user.role_ids & ids(users, "excludeRoles")
            or groups & ids(users, "excludeGroups")
            or guest_out is True
        ):
            excluded.append(name)
        elif guest_out is None:
            uncertain.append(f"{name} (it excludes guests of some external tenants)")
        elif ids(users, "excludeGroups") - known_groups:
            uncertain.append(f"{name} (the members of a group it excludes were not collected)")
        elif mfa is None:
            uncertain.append(f"{name} ({why_not})")
        elif limits(policy):
            conditional.append(f"{name} ({', '.join(limits(policy))})")
        else:
            requiring.append(name)
    return Coverage(tuple(requiring), tuple(excluded), tuple(conditional), tuple(uncertain))


def _principal_from(raw: Mapping[str, Any] | None, principal_id: str) -> Principal | None:
    if not raw:
        return None
    kind = str(raw.get("@odata.type"))
    name = raw.get("userPrincipalName") or raw.get("displayName") or principal_id
    return Principal(kind=kind, id=str(raw["id"]), name=str(name), app_id=raw.get("appId"))


@check(
    id="ADM-001",
    slug="admin-without-mfa",
    title="Every privileged admin is registered for and required to use MFA",
    severity="critical",
    requires=(
        "graph.roleAssignments",
        "graph.roleEligibilitySchedules",
        "graph.groupMembers",
        "graph.userRegistrationDetails",
        "graph.conditionalAccessPolicies",
        "graph.securityDefaults",
    ),
    ndr=("5.7.705", "5.7.750"),
    remediation="""Have each admin listed register a strong method (Microsoft Authenticator,
    a FIDO2 key) and require MFA with an enabled Conditional Access policy that targets all
    users, or at least the privileged directory roles, for all cloud apps, with no exclusions
    but the break-glass accounts named in the baseline. Where Conditional Access is not
    licensed, turn on security defaults. An admin account taken over without MFA is the usual
    start of the connector and spam abuse that gets a tenant blocked from sending.""",
)
def admins_without_mfa(ctx: CheckContext) -> Iterator[Result]:
    groups = {str(g["id"]): g for g in ctx.source("graph.groupMembers")}
    principals: dict[str, Principal] = {}
    unresolved: list[Result] = []

    def hold(principal: Principal, holding: Holding, role_id: str) -> None:
        entry = principals.setdefault(principal.id, principal)
        entry.holdings.append(holding)
        entry.role_ids.add(role_id)

    assignments = [("active", a) for a in ctx.source("graph.roleAssignments")]
    assignments += [("eligible", a) for a in ctx.source("graph.roleEligibilitySchedules")]
    for kind, assignment in assignments:
        role_id = str(assignment["roleDefinitionId"])
        role = JUDGED_ROLES.get(role_id)
        if role is None:
            continue
        scope = str(assignment.get("directoryScopeId") or "/")
        principal = _principal_from(assignment.get("principal"), str(assignment["principalId"]))
        if principal is None:
            unresolved.append(
                Result(
                    f"principal:{assignment['principalId']}",
                    Status.ERROR,
                    f"holds {role} ({kind}) but the principal could not be resolved",
                    {"roleDefinitionId": role_id},
                )
            )
        elif principal.kind == GROUP:
            group = groups.get(principal.id)
            if group is None:
                unresolved.append(
                    Result(
                        f"group:{principal.name}",
                        Status.ERROR,
                        f"holds {role} ({kind}) but its members were not collected",
                        {"groupId": principal.id, "role": role},
                    )
                )
                continue
            for member in group["members"]:
                member_principal = _principal_from(member, str(member.get("id")))
                if member_principal and member_principal.kind in (USER, SERVICE_PRINCIPAL):
                    hold(member_principal, Holding(role, kind, principal.name, scope), role_id)
        else:
            hold(principal, Holding(role, kind, None, scope), role_id)

    if not principals and not unresolved:
        yield Result(
            f"tenant:{ctx.tenant.id}",
            Status.ERROR,
            "no privileged role assignments at all: every tenant has a Global Administrator, "
            "so the role assignment data is incomplete",
        )
        return
    yield from unresolved

    registration = {str(r["id"]): r for r in ctx.source("graph.userRegistrationDetails")}
    by_upn = {
        str(r.get("userPrincipalName") or "").lower(): r
        for r in ctx.source("graph.userRegistrationDetails")
    }
    member_of: dict[str, set[str]] = defaultdict(set)
    for group in groups.values():
        for member in group["members"]:
            member_of[str(member.get("id"))].add(str(group["id"]))
    policies = ctx.source("graph.conditionalAccessPolicies")
    security_defaults = bool(ctx.source("graph.securityDefaults")["isEnabled"])

    for principal in principals.values():
        roles = sorted({h.describe() for h in principal.holdings})
        evidence: dict[str, Any] = {
            "roles": sorted((h.evidence() for h in principal.holdings), key=lambda e: str(e)),
        }
        if principal.kind == SERVICE_PRINCIPAL:
            evidence["appId"] = principal.app_id
            yield Result(
                f"servicePrincipal:{principal.name}",
                Status.PASS,
                f"application identity holding {', '.join(roles)}: MFA does not apply; "
                "confirm the app needs the role and guard its credentials",
                evidence,
            )
            continue
        if principal.kind != USER:
            continue
        resource = f"user:{principal.name.lower()}"
        exempt = ctx.baseline.break_glass_for(principal.name)
        if exempt is not None:
            evidence["breakGlassReason"] = exempt.reason
            yield Result(
                resource,
                Status.PASS,
                f"break-glass account holding {', '.join(roles)}, exempt by the baseline: "
                f"{exempt.reason}",
                evidence,
            )
            continue
        details = registration.get(principal.id) or by_upn.get(principal.name.lower())
        if details is None:
            yield Result(
                resource,
                Status.ERROR,
                f"holds {', '.join(roles)} but has no entry in the authentication methods "
                "registration report",
                evidence,
            )
            continue
        registered = bool(details["isMfaRegistered"])
        kind = external_kind(principal.name, details.get("userType"))
        coverage = _coverage(
            principal, member_of.get(principal.id, set()), policies, set(groups), kind
        )
        if kind:
            evidence["externalUserType"] = kind
        evidence.update(
            isMfaRegistered=registered,
            methodsRegistered=list(details.get("methodsRegistered") or ()),
            securityDefaults=security_defaults,
            mfaRequiredBy=list(coverage.requiring),
            excludedFrom=list(coverage.excluded),
            conditionalOnly=list(coverage.conditional),
        )
        required = security_defaults or bool(coverage.requiring)
        problems = []
        if not registered:
            problems.append("not registered for MFA")
        if not required:
            why = []
            if coverage.excluded:
                why.append(f"excluded from {', '.join(repr(p) for p in coverage.excluded)}")
            if coverage.conditional:
                why.append(f"required only conditionally by {', '.join(coverage.conditional)}")
            if not why:
                why.append("no enabled Conditional Access policy requiring MFA applies")
            problems.append(f"not required to use MFA: {'; '.join(why)}")
        if problems and coverage.uncertain and registered:
            yield Result(
                resource,
                Status.ERROR,
                f"holds {', '.join(roles)}; cannot tell whether these policies require MFA "
                f"of this admin: {'; '.join(coverage.uncertain)}",
                evidence,
            )
        elif problems:
            yield Result(
                resource, Status.FAIL, f"holds {', '.join(roles)}; {'; '.join(problems)}", evidence
            )
        else:
            by = (
                "security defaults"
                if security_defaults
                else ", ".join(repr(p) for p in coverage.requiring)
            )
            yield Result(
                resource,
                Status.PASS,
                f"holds {', '.join(roles)}; MFA registered and required by {by}",
                evidence,
            )


@check(
    id="ADM-002",
    slug="mfa-enforcement-posture",
    title="MFA is enforced for every user, not only planned or reported",
    severity="high",
    requires=(
        "graph.conditionalAccessPolicies",
        "graph.securityDefaults",
        "graph.roleAssignments",
    ),
    ndr=("5.7.705",),
    remediation="""Require MFA for all users and all cloud apps with an enabled Conditional
    Access policy (or turn on security defaults where Conditional Access is not licensed).
    Move report-only policies to On once their sign-in logs look right, and exclude nobody
    but the break-glass accounts in the baseline. Accounts without MFA are the usual way in
    for the spammers who get a tenant blocked.""",
)
def mfa_enforcement_posture(ctx: CheckContext) -> Iterator[Result]:
    resource = f"tenant:{ctx.tenant.id}"
    if ctx.source("graph.securityDefaults")["isEnabled"]:
        yield Result(
            resource,
            Status.PASS,
            "security defaults are on: every user must use MFA",
            {"securityDefaults": True},
        )
        return
    names = {}
    for assignment in ctx.source("graph.roleAssignments"):
        principal = assignment.get("principal") or {}
        if principal.get("userPrincipalName"):
            names[str(principal["id"])] = str(principal["userPrincipalName"]).lower()
    break_glass = {b.user_principal_name.lower() for b in ctx.baseline.break_glass}

    enforcing, conditional, report_only, unknown, excluded = [], [], [], [], set()
    for policy in ctx.source("graph.conditionalAccessPolicies"):
        users = users_of(policy)
        mfa, why_not = requires_mfa(policy)
        if "All" not in ids(users, "includeUsers") or mfa is False:
            continue
        name = str(policy.get("displayName") or policy.get("id"))
        if mfa is None:
            if policy.get("state") == "enabled":
                unknown.append(f"{name} ({why_not})")
            continue
        if policy.get("state") == "enabledForReportingButNotEnforced":
            report_only.append(name)
        elif policy.get("state") != "enabled":
            continue
        elif limits(policy):
            conditional.append(f"{name} ({', '.join(limits(policy))})")
        else:
            enforcing.append(name)
            excluded |= {names.get(u, f"user {u}") for u in ids(users, "excludeUsers")}
            excluded |= {f"group {g}" for g in ids(users, "excludeGroups")}
            excluded |= {f"role {r}" for r in ids(users, "excludeRoles")}
            guests = users.get("excludeGuestsOrExternalUsers") or {}
            if guests.get("guestOrExternalUserTypes"):
                excluded.add(f"guests and external users ({guests['guestOrExternalUserTypes']})")
    unapproved = sorted(excluded - break_glass)
    evidence = {
        "securityDefaults": False,
        "enforcing": enforcing,
        "conditionalOnly": conditional,
        "reportOnly": report_only,
        "excluded": sorted(excluded),
    }
    problems = []
    if not enforcing:
        problems.append("no enabled Conditional Access policy requires MFA for all users and apps")
    if unapproved:
        problems.append(f"excluded, and not break-glass accounts: {', '.join(unapproved)}")
    if report_only:
        problems.append(f"report-only, so not enforced: {', '.join(report_only)}")
    if conditional and not enforcing:
        problems.append(f"only conditionally: {', '.join(conditional)}")
    if unknown:
        evidence["cannotTell"] = unknown
    if not enforcing and unknown:
        yield Result(
            resource,
            Status.ERROR,
            f"cannot tell whether these policies require MFA: {'; '.join(unknown)}",
            evidence,
        )
    elif not enforcing or unapproved:
        yield Result(resource, Status.FAIL, "; ".join(problems), evidence)
    else:
        notes = f" ({'; '.join(problems)})" if problems else ""
        yield Result(
            resource,
            Status.PASS,
            f"MFA required for all users by {', '.join(enforcing)}{notes}",
            evidence,
        )
