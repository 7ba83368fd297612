"""Sign-in routes around MFA: SMTP AUTH, legacy authentication, shared mailboxes that sign in.

A password alone is enough on each of these doors, so a phished password sends spam from the
tenant however well MFA is enforced elsewhere. Sources: Microsoft's "Enable or disable SMTP
AUTH in Exchange Online" (the organisation's SmtpClientAuthenticationDisabled, overridden per
mailbox), Conditional Access client app types (`exchangeActiveSync` and `other`, which covers
SMTP, POP and IMAP with basic authentication), security defaults (block legacy
authentication), and "About shared mailboxes" (block sign-in for the shared mailbox account).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from auditor.judge import CheckContext, Result, Status, check
from checks._ca import ids, limits, users_of

LEGACY_CLIENTS = frozenset({"exchangeActiveSync", "other"})


def _accounts(ctx: CheckContext, wanted: set[str]) -> dict[str, Mapping[str, Any]]:
    """The users with these Entra object ids, by id: one pass over the users, keeping the
    few asked for (an index of every user cost more than the check, in a large tenant)."""
    return {str(u["id"]): u for u in ctx.source("graph.users") if u["id"] in wanted}


@check(
    id="SIGN-001",
    slug="smtp-auth",
    title="SMTP AUTH is off, for the organisation and for each mailbox",
    severity="high",
    requires=("exchange.transportConfig", "exchange.smtpAuthMailboxes"),
    ndr=("5.7.705", "5.1.8"),
    remediation="""SMTP AUTH (client submission to smtp.office365.com) accepts a user name and
    password, and with basic authentication no MFA: a phished password is enough to send spam
    as the user. Turn it off for the organisation (Set-TransportConfig
    -SmtpClientAuthenticationDisabled $true) and for each mailbox listed (Set-CASMailbox
    -SmtpClientAuthenticationDisabled $null, or $true). A device or application that must
    send: use OAuth, or an inbound connector from its fixed IP address; waive a mailbox in the
    baseline only while that is arranged, and keep it excluded from nothing in the policy that
    blocks legacy authentication.""",
)
def smtp_auth(ctx: CheckContext) -> Iterator[Result]:
    disabled = ctx.source("exchange.transportConfig")["SmtpClientAuthenticationDisabled"]
    yield Result(
        f"tenant:{ctx.tenant.id}",
        Status.PASS if disabled else Status.FAIL,
        "SMTP AUTH is off for the organisation"
        if disabled
        else "SMTP AUTH is on for the organisation: every mailbox that does not turn it off "
        "accepts a password over SMTP",
        {"SmtpClientAuthenticationDisabled": disabled},
    )
    for mailbox in ctx.source("exchange.smtpAuthMailboxes"):
        address = str(mailbox["PrimarySmtpAddress"]).lower()
        yield Result(
            f"mailbox:{address}",
            Status.FAIL,
            "SMTP AUTH turned on for this mailbox (SmtpClientAuthenticationDisabled is "
            "false), whatever the organisation's setting",
            {"SmtpClientAuthenticationDisabled": False},
        )


def _blocks_legacy(policy: Mapping[str, Any]) -> str | None:
    """Why the policy does not block legacy authentication for everyone, or None when it
    does: enabled, all users, all apps, both legacy client types, block, no other condition.
    Exclusions are judged by the caller against the baseline's break-glass accounts."""
    if policy.get("state") != "enabled":
        return f"its state is {policy.get('state')}"
    if "All" not in ids(users_of(policy), "includeUsers"):
        return "it does not include all users"
    grant = policy.get("grantControls") or {}
    if "block" not in (grant.get("builtInControls") or ()):
        return "it does not block"
    clients = set((policy.get("conditions") or {}).get("clientAppTypes") or ())
    if not (clients >= LEGACY_CLIENTS or "all" in clients):
        missing = sorted(LEGACY_CLIENTS - clients)
        return f"it does not cover the client app types {', '.join(missing)}"
    other = [limit for limit in limits(policy) if limit != "not all client apps"]
    if other:
        return f"it applies {', '.join(other)}"
    return None


@check(
    id="SIGN-002",
    slug="legacy-authentication-blocked",
    title="Legacy authentication is blocked for everyone",
    severity="high",
    requires=("graph.conditionalAccessPolicies", "graph.securityDefaults", "graph.users"),
    ndr=("5.7.705", "5.1.8"),
    remediation="""Block legacy authentication with an enabled Conditional Access policy: all
    users (excluding only the baseline's break-glass accounts), all cloud apps, client apps
    'Exchange ActiveSync clients' and 'Other clients', grant 'Block access' (or turn on
    security defaults where Conditional Access is not licensed). Legacy protocols (SMTP AUTH,
    POP, IMAP, ActiveSync with basic authentication) never ask for MFA, and an account
    excluded from the block is one whose password alone sends mail.""",
)
def legacy_authentication_blocked(ctx: CheckContext) -> Iterator[Result]:
    resource = f"tenant:{ctx.tenant.id}"
    if ctx.source("graph.securityDefaults")["isEnabled"]:
        yield Result(resource, Status.PASS, "security defaults block legacy authentication")
        return
    break_glass = {b.user_principal_name.lower() for b in ctx.baseline.break_glass}
    blocking, others = [], []
    for policy in ctx.source("graph.conditionalAccessPolicies"):
        clients = set((policy.get("conditions") or {}).get("clientAppTypes") or ())
        if not clients & (LEGACY_CLIENTS | {"all"}):
            continue
        if "block" not in ((policy.get("grantControls") or {}).get("builtInControls") or ()):
            continue
        name = str(policy.get("displayName") or policy.get("id"))
        why = _blocks_legacy(policy)
        (others if why else blocking).append((name, why, policy))
    if not blocking:
        near = "; ".join(f"{name}: {why}" for name, why, _ in others)
        yield Result(
            resource,
            Status.FAIL,
            "no enabled Conditional Access policy blocks legacy authentication for all users"
            + (f" ({near})" if near else ""),
            {"securityDefaults": False, "notBlocking": [f"{n}: {w}" for n, w, _ in others]},
        )
        return
    accounts = _accounts(
        ctx, {u for _, _, policy in blocking for u in ids(users_of(policy), "excludeUsers")}
    )
    for name, _, policy in blocking:
        users = users_of(policy)
        excluded = {
            str(accounts[u].get("userPrincipalName") or u).lower() if u in accounts else f"user {u}"
            for u in ids(users, "excludeUsers")
        }
        excluded |= {f"group {g}" for g in ids(users, "excludeGroups")}
        excluded |= {f"role {r}" for r in ids(users, "excludeRoles")}
        unapproved = sorted(excluded - break_glass)
        evidence = {"excluded": sorted(excluded), "breakGlass": sorted(break_glass & excluded)}
        if unapproved:
            yield Result(
                f"policy:{name}",
                Status.FAIL,
                f"blocks legacy authentication but excludes {', '.join(unapproved)}, who can "
                "still sign in with a password alone over SMTP, POP or IMAP",
                evidence,
            )
        else:
            yield Result(
                f"policy:{name}",
                Status.PASS,
                "blocks legacy authentication for all users"
                + (" but the break-glass accounts" if excluded else ""),
                evidence,
            )


@check(
    id="SIGN-003",
    slug="shared-mailbox-sign-in",
    title="Shared mailboxes cannot be signed in to",
    severity="medium",
    requires=("exchange.sharedMailboxes", "graph.users"),
    ndr=("5.7.705", "5.1.8"),
    remediation="""Block sign-in for each shared mailbox listed (Microsoft 365 admin center >
    Users > Active users > the mailbox > Block sign-in, or Graph accountEnabled false). Its
    users reach it through their own accounts and permissions; an enabled account has a
    password somebody set once and nobody owns, so its use goes unnoticed.""",
)
def shared_mailbox_sign_in(ctx: CheckContext) -> Iterator[Result]:
    mailboxes = ctx.source("exchange.sharedMailboxes")
    accounts = _accounts(ctx, {str(m.get("ExternalDirectoryObjectId")) for m in mailboxes})
    for mailbox in mailboxes:
        address = str(mailbox["PrimarySmtpAddress"]).lower()
        resource = f"mailbox:{address}"
        account = accounts.get(str(mailbox.get("ExternalDirectoryObjectId")))
        if account is None:
            yield Result(
                resource,
                Status.ERROR,
                "its Entra ID account was not found among the users read",
                {"ExternalDirectoryObjectId": mailbox.get("ExternalDirectoryObjectId")},
            )
            continue
        enabled = account.get("accountEnabled")
        if enabled is None:
            yield Result(
                resource,
                Status.ERROR,
                "the users were read without accountEnabled (an older snapshot): collect again",
            )
        elif enabled:
            yield Result(
                resource,
                Status.FAIL,
                f"the shared mailbox's account {account.get('userPrincipalName')} can sign in "
                "(accountEnabled)",
                {"accountEnabled": True},
            )
        else:
            yield Result(resource, Status.PASS, "sign-in blocked", {"accountEnabled": False})
