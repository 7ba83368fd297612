"""Sources read from Microsoft Graph v1.0."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from auditor.collect.collectors import CollectContext, normalise_time, project
from auditor.collect.graph import batch_failure
from auditor.collect.http import ApiError, describe_error_body
from auditor.common.timeutil import format_time

PRINCIPAL_FIELDS = ("@odata.type", "id", "displayName", "userPrincipalName", "appId")
ASSIGNMENT_FIELDS = ("id", "roleDefinitionId", "principalId", "directoryScopeId")
REGISTRATION_FIELDS = (
    "id",
    "userPrincipalName",
    "userDisplayName",
    "userType",
    "isAdmin",
    "isMfaRegistered",
    "isMfaCapable",
    "methodsRegistered",
)
GROUP = "#microsoft.graph.group"
USER = "#microsoft.graph.user"
# $top where Graph documents it for the endpoint: directory objects page at up to 999.
DIRECTORY_PAGE = "999"
MEMBER_GROUPS_LIMIT = 20  # checkMemberGroups takes at most 20 group ids


def organization(ctx: CollectContext) -> list[dict[str, Any]]:
    rows = ctx.need_graph().get_all("organization", {"$select": "id,displayName"})
    return [project(r, ("id", "displayName")) for r in rows]


DOMAIN_FIELDS = (
    "id",
    "isVerified",
    "isDefault",
    "isInitial",
    "isRoot",
    "authenticationType",
    "supportedServices",
)


def domains(ctx: CollectContext) -> list[dict[str, Any]]:
    rows = ctx.need_graph().get_all("domains", {"$select": ",".join(DOMAIN_FIELDS)})
    return sorted((project(r, DOMAIN_FIELDS) for r in rows), key=lambda d: d["id"])


def _assignments(ctx: CollectContext, path: str) -> list[dict[str, Any]]:
    rows = ctx.need_graph().get_all(
        path, {"$select": ",".join(ASSIGNMENT_FIELDS), "$expand": "principal"}
    )
    out = []
    for row in rows:
        record = project(row, ASSIGNMENT_FIELDS)
        principal = row.get("principal")
        record["principal"] = project(principal, PRINCIPAL_FIELDS) if principal else None
        out.append(record)
    return sorted(out, key=lambda a: str(a.get("id")))


def role_assignments(ctx: CollectContext) -> list[dict[str, Any]]:
    return _assignments(ctx, "roleManagement/directory/roleAssignments")


def role_eligibility(ctx: CollectContext) -> list[dict[str, Any]]:
    try:
        return _assignments(ctx, "roleManagement/directory/roleEligibilitySchedules")
    except ApiError as exc:
        # Without Entra ID P2 there is no PIM, so no eligible assignment can exist: an empty
        # list is the truth, and the note says why it is empty.
        if exc.status in (400, 403) and "licen" in exc.message.lower():
            ctx.notes.append(
                "no Entra ID P2 (PIM) licence: the tenant cannot have eligible assignments"
            )
            return []
        raise


def _role_groups(ctx: CollectContext) -> dict[str, str]:
    """Groups holding directory roles (role-assignable groups, small): id -> name."""
    groups: dict[str, str] = {}
    for source in ("graph.roleAssignments", "graph.roleEligibilitySchedules"):
        for assignment in ctx.dependencies.get(source) or ():
            principal = assignment.get("principal") or {}
            if principal.get("@odata.type") == GROUP:
                groups[str(principal["id"])] = str(principal.get("displayName") or "")
    return groups


def _policy_groups(ctx: CollectContext) -> set[str]:
    """Groups Conditional Access includes or excludes: any size, up to the whole directory."""
    found: set[str] = set()
    for policy in ctx.dependencies.get("graph.conditionalAccessPolicies") or ():
        users = (policy.get("conditions") or {}).get("users") or {}
        for key in ("includeGroups", "excludeGroups"):
            found |= {str(gid) for gid in users.get(key) or ()}
    return found


def _batch_error(failure: Any) -> ApiError:
    detail = describe_error_body(failure.body)
    return ApiError(failure.status, f"HTTP {failure.status} {detail}".strip())


def _expand(graph: Any, groups: dict[str, str], notes: list[str]) -> list[dict[str, Any]]:
    """Every member of each group (transitively), with its name when it was not known."""
    select = ",".join(f for f in PRINCIPAL_FIELDS if not f.startswith("@"))
    requests: list[Any] = []
    for gid in sorted(groups):
        requests.append(
            (
                f"members:{gid}",
                f"/groups/{gid}/transitiveMembers?$select={select}&$top={DIRECTORY_PAGE}",
            )
        )
        if not groups[gid]:
            requests.append((f"group:{gid}", f"/groups/{gid}?$select=id,displayName"))
    answers = graph.batch(requests, label="graph.groupMembers") if requests else {}
    out = []
    for gid in sorted(groups):
        name = groups[gid]
        group_answer = answers.get(f"group:{gid}")
        failure = batch_failure(answers[f"members:{gid}"])
        if failure is not None and failure.status == 404:
            # Deleted, or not readable: either way its members are unknown, so the group is
            # left out, and the checks say so for whoever it could concern (never "no one").
            notes.append(f"group {name or gid} could not be read (HTTP 404): left out")
            continue
        if failure is not None:
            raise _batch_error(failure)
        if group_answer is not None and batch_failure(group_answer) is None:
            name = str(group_answer.get("displayName") or name)
        page = answers[f"members:{gid}"]
        members = list(page.get("value") or ())
        link = page.get("@odata.nextLink")
        if link:
            members += graph.get_all(link, label="graph.groupMembers")
        out.append(
            {
                "id": gid,
                "displayName": name,
                "membersListed": "all",
                "members": sorted(
                    (project(m, PRINCIPAL_FIELDS) for m in members), key=lambda m: str(m["id"])
                ),
            }
        )
    return out


def _admin_users(ctx: CollectContext, expanded: list[dict[str, Any]]) -> dict[str, dict]:
    """Every user holding a directory role, directly, as eligible or through a role group."""
    users: dict[str, dict] = {}
    for source in ("graph.roleAssignments", "graph.roleEligibilitySchedules"):
        for assignment in ctx.dependencies.get(source) or ():
            principal = assignment.get("principal") or {}
            if principal.get("@odata.type") == USER:
                users[str(principal["id"])] = principal
    for group in expanded:
        for member in group["members"]:
            if member.get("@odata.type") == USER:
                users.setdefault(str(member["id"]), member)
    return users


def _admin_memberships(
    graph: Any, groups: list[str], admins: dict[str, dict], notes: list[str]
) -> list[dict[str, Any]]:
    """For groups Conditional Access names, which admins are members: one checkMemberGroups
    per admin and 20 groups (transitive membership), 20 to a $batch. The cost grows with the
    admins, never with the size of the groups; `membersListed: admins` says the list holds
    the admins who are members, not everybody."""
    names = graph.batch(
        [(gid, f"/groups/{gid}?$select=id,displayName") for gid in groups],
        label="graph.groupMembers",
    )
    alive, out = [], []
    for gid in groups:
        failure = batch_failure(names[gid])
        if failure is not None and failure.status == 404:
            # Conditional Access may name a deleted group, or one the app cannot read: its
            # members are unknown, so it is left out and the policy's reach stays uncertain.
            notes.append(f"group {gid}, named by Conditional Access, could not be read: left out")
        elif failure is not None:
            raise _batch_error(failure)
        else:
            alive.append(gid)
    members: dict[str, list[dict[str, Any]]] = {gid: [] for gid in alive}
    requests: list[Any] = []
    for uid in sorted(admins):
        for start in range(0, len(alive), MEMBER_GROUPS_LIMIT):
            chunk = alive[start : start + MEMBER_GROUPS_LIMIT]
            requests.append(
                (f"{uid}|{start}", f"/users/{uid}/checkMemberGroups", {"groupIds": chunk})
            )
    answers = graph.batch(requests, label="graph.groupMembers") if requests else {}
    for rid, answer in sorted(answers.items()):
        failure = batch_failure(answer)
        if failure is not None:
            raise _batch_error(failure)
        uid = rid.split("|", 1)[0]
        for gid in answer.get("value") or ():
            if str(gid) in members:
                members[str(gid)].append(project(admins[uid], PRINCIPAL_FIELDS))
    for gid in alive:
        out.append(
            {
                "id": gid,
                "displayName": str(names[gid].get("displayName") or ""),
                "membersListed": "admins",
                "members": sorted(members[gid], key=lambda m: str(m["id"])),
            }
        )
    return out


def group_members(ctx: CollectContext) -> list[dict[str, Any]]:
    """Role-holding groups with every member; groups Conditional Access names with the admins
    among their members (their full membership is not needed, and can be the directory)."""
    graph = ctx.need_graph()
    role_groups = _role_groups(ctx)
    expanded = _expand(graph, role_groups, ctx.notes)
    policy_groups = sorted(_policy_groups(ctx) - set(role_groups))
    if policy_groups:
        expanded += _admin_memberships(graph, policy_groups, _admin_users(ctx, expanded), ctx.notes)
    return sorted(expanded, key=lambda g: g["id"])


def _principal_users(ctx: CollectContext) -> set[str]:
    users: set[str] = set()
    for source in ("graph.roleAssignments", "graph.roleEligibilitySchedules"):
        for assignment in ctx.dependencies.get(source) or ():
            principal = assignment.get("principal") or {}
            if principal.get("@odata.type") == USER:
                users.add(str(principal["id"]))
    role_groups = {
        str((a.get("principal") or {}).get("id"))
        for source in ("graph.roleAssignments", "graph.roleEligibilitySchedules")
        for a in ctx.dependencies.get(source) or ()
        if (a.get("principal") or {}).get("@odata.type") == GROUP
    }
    for group in ctx.dependencies.get("graph.groupMembers") or ():
        if group["id"] in role_groups:
            users |= {str(m["id"]) for m in group["members"] if m.get("@odata.type") == USER}
    return users


REGISTRATION_PATH = "reports/authenticationMethods/userRegistrationDetails"


def marked_admins(ctx: CollectContext) -> list[dict[str, Any]]:
    """The registration report's own admins (its isAdmin filter): needs no other source, so
    it is read while the role assignments are."""
    return ctx.need_graph().get_all(
        REGISTRATION_PATH, {"$filter": "isAdmin eq true"}, label="graph.userRegistrationDetails"
    )


def registration_details(ctx: CollectContext) -> list[dict[str, Any]]:
    """Admins from the report's own isAdmin filter, then any role holder it did not mark
    (eligible admins, admins through a group) fetched by id."""
    graph = ctx.need_graph()
    rows = ctx.prefetched() if ctx.prefetched else marked_admins(ctx)
    found = {str(r.get("id")): project(r, REGISTRATION_FIELDS) for r in rows}
    missing = sorted(_principal_users(ctx) - set(found))
    if missing:
        answers = graph.batch(
            [(uid, f"/{REGISTRATION_PATH}/{uid}") for uid in missing], label=REGISTRATION_PATH
        )
        for uid in missing:
            failure = batch_failure(answers[uid])
            if failure is not None and failure.status == 404:
                continue  # no entry: ADM-001 reports that admin as `error`
            if failure is not None:
                raise ApiError(
                    failure.status,
                    f"HTTP {failure.status} {describe_error_body(failure.body)}".strip(),
                )
            found[uid] = project(answers[uid], REGISTRATION_FIELDS)
    return sorted(found.values(), key=lambda r: str(r.get("userPrincipalName") or r["id"]))


USER_FIELDS = ("id", "userPrincipalName", "mail", "proxyAddresses", "accountEnabled")


def users(ctx: CollectContext) -> list[dict[str, Any]]:
    """Every user's mail addresses, for DOM-001. Graph's paging of /users is reliable at any
    size, where Exchange's Get-Mailbox paging may be refused mid-way."""
    rows = ctx.need_graph().get_all(
        "users", {"$select": ",".join(USER_FIELDS), "$top": DIRECTORY_PAGE}, label="graph.users"
    )
    out = []
    for row in rows:
        record = project(row, USER_FIELDS)
        # Only mail addresses: X500, SIP and other proxy types say nothing about sending.
        record["proxyAddresses"] = sorted(
            str(a) for a in row.get("proxyAddresses") or () if str(a).lower().startswith("smtp:")
        )
        out.append(record)
    return sorted(out, key=lambda u: str(u.get("userPrincipalName") or u["id"]).lower())


CA_FIELDS = ("id", "displayName", "state", "conditions", "grantControls")


def conditional_access(ctx: CollectContext) -> list[dict[str, Any]]:
    try:
        rows = ctx.need_graph().get_all(
            "identity/conditionalAccess/policies", {"$select": ",".join(CA_FIELDS)}
        )
    except ApiError as exc:
        # Without Entra ID P1 no Conditional Access policy can be in force: none is the truth,
        # and security defaults are then what protects the tenant.
        if exc.status == 403 and "licen" in exc.message.lower():
            ctx.notes.append("no Entra ID P1 licence: Conditional Access cannot be used")
            return []
        raise
    return sorted((project(r, CA_FIELDS) for r in rows), key=lambda p: str(p["id"]))


def security_defaults(ctx: CollectContext) -> dict[str, Any]:
    body = ctx.need_graph().get(
        "policies/identitySecurityDefaultsEnforcementPolicy", {"$select": "id,isEnabled"}
    )
    return project(body, ("id", "isEnabled"))


SUBSCRIPTION_FIELDS = (
    "id",
    "commerceSubscriptionId",
    "skuId",
    "skuPartNumber",
    "status",
    "isTrial",
    "totalLicenses",
    "createdDateTime",
    "nextLifecycleDateTime",
    "serviceStatus",
)
SKU_FIELDS = (
    "skuId",
    "skuPartNumber",
    "capabilityStatus",
    "prepaidUnits",
    "consumedUnits",
    "servicePlans",
)


def subscriptions(ctx: CollectContext) -> list[dict[str, Any]]:
    rows = ctx.need_graph().get_all(
        "directory/subscriptions", {"$select": ",".join(SUBSCRIPTION_FIELDS)}
    )
    return sorted((project(r, SUBSCRIPTION_FIELDS) for r in rows), key=lambda s: str(s["id"]))


def subscribed_skus(ctx: CollectContext) -> list[dict[str, Any]]:
    rows = ctx.need_graph().get_all("subscribedSkus", {"$select": ",".join(SKU_FIELDS)})
    return sorted((project(r, SKU_FIELDS) for r in rows), key=lambda s: str(s["skuId"]))


ALERT_FIELDS = (
    "id",
    "title",
    "severity",
    "status",
    "category",
    "serviceSource",
    "createdDateTime",
    "alertWebUrl",
)
ALERTS_PAGE = "100"  # $top; the list is documented with $filter on createdDateTime and nextLink


def _alert_subjects(evidence: Any) -> list[str]:
    """Who an alert is about: the mailboxes and accounts its evidence names, nothing else of
    it (message evidence holds subjects and recipients, which the snapshot never keeps)."""
    subjects = set()
    for item in evidence or ():
        if not isinstance(item, dict):
            continue
        account = item.get("userAccount") or {}
        for value in (item.get("primaryAddress"), account.get("userPrincipalName")):
            if value:
                subjects.add(str(value).lower())
    return sorted(subjects)


def security_alerts(ctx: CollectContext) -> list[dict[str, Any]]:
    """The alerts of the collection period (the trace period): Microsoft raises some when a
    block is building or has happened (`checks/alerts.py` names them)."""
    start = format_time((ctx.trace_end or ctx.now) - timedelta(days=ctx.trace_days))
    rows = ctx.need_graph().get_all(
        "security/alerts_v2",
        {"$filter": f"createdDateTime ge {start}", "$top": ALERTS_PAGE},
        label="graph.securityAlerts",
    )
    out = []
    for row in rows:
        record = project(row, ALERT_FIELDS)
        record["createdDateTime"] = normalise_time(record.get("createdDateTime"))
        record["subjects"] = _alert_subjects(row.get("evidence"))
        out.append(record)
    return sorted(out, key=lambda a: (str(a.get("createdDateTime")), str(a["id"])))


# The resources whose application permissions let an app send or read mail as any user, and
# those permissions (app roles, by value). Mail.Send.Shared is delegated-only; it is listed so
# that a tenant where it appears as an app role is not missed.
MAIL_RESOURCES = {
    "00000003-0000-0000-c000-000000000000": "Microsoft Graph",
    "00000002-0000-0ff1-ce00-000000000000": "Office 365 Exchange Online",
}
MAIL_ROLES = frozenset(
    {"Mail.Send", "Mail.ReadWrite", "Mail.Send.Shared", "full_access_as_app", "SMTP.SendAsApp"}
)
CLIENT_FIELDS = ("id", "appId", "displayName", "publisherName", "appOwnerOrganizationId")


def mail_apps(ctx: CollectContext) -> list[dict[str, Any]]:
    """Every service principal holding an application permission that sends or reads mail as
    any user, with its publisher and when each permission was granted (admin consent)."""
    graph = ctx.need_graph()
    held: dict[str, list[dict[str, Any]]] = {}
    for app_id, resource_name in MAIL_RESOURCES.items():
        resource = graph.get(
            f"servicePrincipals(appId='{app_id}')",
            {"$select": "id,appId,displayName,appRoles"},
            label=f"the {resource_name} service principal",
        )
        roles = {
            str(r.get("id")): str(r.get("value"))
            for r in resource.get("appRoles") or ()
            if str(r.get("value")) in MAIL_ROLES
        }
        assignments = graph.get_all(
            f"servicePrincipals/{resource['id']}/appRoleAssignedTo",
            {"$top": DIRECTORY_PAGE},
            label="graph.mailApps",
        )
        for assignment in assignments:
            value = roles.get(str(assignment.get("appRoleId")))
            if value is None or assignment.get("principalType") != "ServicePrincipal":
                continue
            held.setdefault(str(assignment["principalId"]), []).append(
                {
                    "resource": resource_name,
                    "permission": value,
                    "grantedAt": normalise_time(assignment.get("createdDateTime")),
                }
            )
    out = []
    for principal_id, permissions in sorted(held.items()):
        client = graph.get(
            f"servicePrincipals/{principal_id}",
            {"$select": ",".join((*CLIENT_FIELDS, "verifiedPublisher"))},
            label="graph.mailApps",
        )
        record = project(client, CLIENT_FIELDS)
        verified = client.get("verifiedPublisher") or {}
        record["verifiedPublisher"] = verified.get("displayName") or None
        record["permissions"] = sorted(permissions, key=lambda p: (p["resource"], p["permission"]))
        out.append(record)
    return sorted(out, key=lambda a: (str(a.get("displayName")).lower(), str(a["id"])))
