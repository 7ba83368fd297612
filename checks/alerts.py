"""Alerts Microsoft raises when a block is building or has happened.

Exchange Online Protection's default alert policies fire when a user or the whole tenant is
restricted from sending, when sending patterns look like spam, and when connectors or
forwarding behave suspiciously (Microsoft: alert policies in the Microsoft Defender portal).
They reach Microsoft Graph's alerts_v2 list; this check reads those of the collection period.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.judge import CheckContext, Result, Severity, Status, check

# Default alert policy names, lower case, and the severity a fired one deserves here.
BLOCK_ALERTS = {
    "tenant restricted from sending email": Severity.CRITICAL,
    "tenant restricted from sending unprovisioned email": Severity.CRITICAL,
    "user restricted from sending email": Severity.HIGH,
    "email sending limit exceeded": Severity.HIGH,
    "suspicious email sending patterns detected": Severity.HIGH,
    "suspicious connector activity": Severity.HIGH,
    "suspicious email forwarding activity": Severity.HIGH,
}


@check(
    id="ALERT-001",
    slug="block-alerts",
    title="No alert says the tenant or a user is being restricted from sending",
    severity="high",
    requires=("graph.securityAlerts",),
    ndr=("5.7.705", "5.1.8", "5.7.750"),
    remediation="""Each alert listed is Microsoft telling you a block is building or has
    happened. Open it in the Defender portal (the link in the evidence), find the account,
    connector or forwarding it names, secure it (reset the password, revoke sessions, require
    MFA, remove rules and connectors nobody approved), and only then release any restriction.
    Make sure each of these alert policies notifies someone who reads it.""",
)
def block_alerts(ctx: CheckContext) -> Iterator[Result]:
    alerts = ctx.source("graph.securityAlerts")
    fired = [a for a in alerts if str(a.get("title") or "").strip().lower() in BLOCK_ALERTS]
    if not fired:
        yield Result(
            f"tenant:{ctx.tenant.id}",
            Status.PASS,
            f"none of the {len(alerts)} alerts of the collection period is about a sending block",
            {"alertsRead": len(alerts)},
        )
        return
    for alert in fired:
        title = str(alert["title"]).strip()
        about = ", ".join(alert.get("subjects") or ()) or "no account named"
        yield Result(
            f"alert:{alert['id']}",
            Status.FAIL,
            f"{title!r} at {alert.get('createdDateTime')} ({about}); status "
            f"{alert.get('status') or 'unknown'}",
            {k: alert.get(k) for k in alert},
            severity=BLOCK_ALERTS[title.lower()],
        )
