"""Apps that send as anyone: application permissions to send or read every mailbox's mail.

A consented app with Mail.Send (Graph), full_access_as_app or SMTP.SendAsApp (Exchange
Online) sends as any user without a sign-in, so its secret or certificate is as good as an
admin account to a spammer. Sources: Microsoft Graph permissions reference (application
permissions), "Limiting application permissions to specific Exchange mailboxes" (application
access policies), Exchange Online SMTP OAuth (SMTP.SendAsApp).
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.judge import CheckContext, Result, Status, check

SENDS = frozenset({"Mail.Send", "full_access_as_app", "SMTP.SendAsApp", "Mail.Send.Shared"})


@check(
    id="APP-001",
    slug="mail-apps",
    title="Apps that can send or read mail as any user are scoped or approved",
    severity="high",
    requires=("graph.mailApps", "exchange.applicationAccessPolicies"),
    ndr=("5.7.705",),
    remediation="""For each app listed: if nobody owns it, remove its permissions (Entra admin
    center > Enterprise applications > the app > Permissions, or delete the app) and rotate
    or remove its secrets and certificates. If it is needed, limit it to the mailboxes it
    needs (New-ApplicationAccessPolicy -AccessRight RestrictAccess with a mail-enabled
    security group, or RBAC for Applications) and approve it in the baseline's mailApps with
    its owner. An app that can send as anyone is how a stolen client secret becomes a spam
    run from the tenant.""",
)
def mail_apps(ctx: CheckContext) -> Iterator[Result]:
    policies = {}
    for policy in ctx.source("exchange.applicationAccessPolicies"):
        policies.setdefault(str(policy["AppId"]).lower(), []).append(policy)
    for app in ctx.source("graph.mailApps"):
        app_id = str(app.get("appId") or "")
        name = app.get("displayName") or app_id
        granted = ", ".join(
            f"{p['permission']} ({p['resource']}, granted {p.get('grantedAt') or 'when unknown'})"
            for p in app["permissions"]
        )
        publisher = app.get("verifiedPublisher") or app.get("publisherName") or "unknown"
        verified = "verified" if app.get("verifiedPublisher") else "unverified"
        evidence = {
            "appId": app_id,
            "publisher": publisher,
            "publisherVerified": bool(app.get("verifiedPublisher")),
            "permissions": [dict(p) for p in app["permissions"]],
        }
        resource = f"app:{name}"
        approved = ctx.baseline.mail_app(app_id)
        scoped = [
            p
            for p in policies.get(app_id.lower(), [])
            if p.get("AccessRight") in ("RestrictAccess", "DenyAccess")
        ]
        if approved is not None:
            yield Result(
                resource,
                Status.PASS,
                f"approved in the baseline, owned by {approved.owner}: {granted}",
                {**evidence, "owner": approved.owner, "reason": approved.reason},
            )
        elif scoped:
            scopes = ", ".join(
                f"{p['AccessRight']} {p.get('ScopeName') or p.get('ScopeIdentity')}" for p in scoped
            )
            yield Result(
                resource,
                Status.PASS,
                f"limited by an application access policy ({scopes}): {granted}",
                {**evidence, "accessPolicies": [dict(p) for p in scoped]},
            )
        else:
            can = (
                "send as any user"
                if any(p["permission"] in SENDS for p in app["permissions"])
                else "read and change any mailbox"
            )
            yield Result(
                resource,
                Status.FAIL,
                f"can {can}, unscoped and not approved: {granted}; publisher {publisher} "
                f"({verified})",
                evidence,
            )
