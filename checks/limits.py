"""Microsoft's sending limits: the .onmicrosoft.com limit (5.7.236), the tenant external
recipient rate limit (TERRL, 5.7.232/5.7.233) and the per-mailbox recipient rate limit.

Each is counted by Exchange Online over a rolling 24 hours. The message trace aggregate holds
recipients counted the way the limits count them (collect/collectors/message_trace.py); the
live TERRL counter, where the gateway offers it, is the ground truth.

Sources: Microsoft's NDR reference (5.7.232 trial tenant, 5.7.233 tenant, 5.7.236
.onmicrosoft.com), the Exchange Team's "Introducing Exchange Online Tenant Outbound Email
Limits" (500 x licences^0.7 + 9500; 5,000 for trial-only tenants), Microsoft's announcement
of the .onmicrosoft.com limit (100 external recipients per tenant per 24 hours, counted after
group expansion), Exchange Online limits (10,000 recipients a day per mailbox) and
CSS-Exchange's Get-TerrlExternalRecipientEstimate (what the trace can and cannot see).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from auditor.judge import CheckContext, Result, Severity, Status, check

MOERA_LIMIT = 100  # external recipients a day from *.onmicrosoft.com senders, per tenant
TRIAL_LIMIT = 5_000  # external recipients a day for a tenant with only trial licences
MAILBOX_LIMIT = 10_000  # recipients a day per mailbox (the recipient rate limit)
APPROACHING = 0.8  # of a limit: the warning line, as CIPP's TERRL alert draws it
_MAILBOX_PLAN = re.compile(r"^EXCHANGE_[SBL]_(STANDARD|ENTERPRISE|DESKLESS)", re.IGNORECASE)
_SYSTEM_MAILBOX = re.compile(r"^(discoverysearchmailbox|systemmailbox|federatedemail)", re.I)


def _trace_counts(ctx: CheckContext) -> Mapping[str, Any] | None:
    """The recipient counts, or None for a snapshot taken before they were collected."""
    return ctx.source("exchange.messageTrace").get("ExternalRecipients")


def _stale(ctx: CheckContext) -> Result:
    return Result(
        f"tenant:{ctx.tenant.id}",
        Status.ERROR,
        "the snapshot's message trace has no recipient counts (collected by an earlier "
        "version): collect it again",
    )


def _period(ctx: CheckContext) -> str:
    trace = ctx.source("exchange.messageTrace")
    return f"{trace['StartDate']} to {trace['EndDate']}"


def _share(value: float, limit: float) -> str:
    return f"{value:,.0f} of {limit:,.0f} ({100 * value / limit:.0f} %)"


def primary_address(user: Mapping[str, Any]) -> str | None:
    """A user's primary SMTP address: the `SMTP:` proxy address (upper case marks it), else
    `mail`."""
    for address in user.get("proxyAddresses") or ():
        if str(address).startswith("SMTP:"):
            return str(address)[5:].lower()
    mail = user.get("mail")
    return str(mail).lower() if mail else None


@check(
    id="LIM-001",
    slug="onmicrosoft-sending-limit",
    title="No mail leaves the tenant from .onmicrosoft.com addresses",
    severity="high",
    requires=("exchange.messageTrace", "graph.users"),
    ndr=("5.7.236",),
    remediation="""Mail to external recipients from any *.onmicrosoft.com address is limited
    to 100 recipients per tenant in any 24 hours; past that, every such message bounces with
    550 5.7.236. Give each mailbox listed a primary address on a custom domain (Microsoft 365
    admin center > Users > Manage username and email, or Set-Mailbox -WindowsEmailAddress),
    make a custom domain the default domain so new mailboxes get it, and point scanners,
    applications and SMTP relays that send as an .onmicrosoft.com address at a custom one.""",
)
def onmicrosoft_sending_limit(ctx: CheckContext) -> Iterator[Result]:
    counts = _trace_counts(ctx)
    if counts is None:
        yield _stale(ctx)
    else:
        moera = counts["OnMicrosoft"]
        peak = moera["Peak24h"]
        senders = [f"{s['Sender']} ({s['ExternalRecipients']})" for s in moera["Senders"]]
        evidence = {
            "externalRecipients": moera["Counted"],
            "busiest24Hours": dict(peak),
            "limit": MOERA_LIMIT,
            "senders": [dict(s) for s in moera["Senders"]],
            "traceWindow": _period(ctx),
        }
        resource = f"tenant:{ctx.tenant.id}"
        if moera["Counted"]:
            reached = peak["Recipients"] >= MOERA_LIMIT
            yield Result(
                resource,
                Status.FAIL,
                f"{moera['Counted']} external recipients from .onmicrosoft.com addresses in "
                f"the trace; the busiest 24 hours (from {peak['PeakStart']}) reached "
                f"{_share(peak['Recipients'], MOERA_LIMIT)}"
                + (": the tenant is being refused (5.7.236)" if reached else "")
                + f"; senders: {', '.join(senders)}",
                evidence,
                severity=Severity.CRITICAL if reached else None,
            )
        else:
            yield Result(
                resource,
                Status.PASS,
                f"no mail from .onmicrosoft.com addresses reached external recipients in "
                f"{_period(ctx)}",
                evidence,
            )
    for user in ctx.source("graph.users"):
        primary = primary_address(user)
        if not primary or not primary.endswith(".onmicrosoft.com"):
            continue
        if _SYSTEM_MAILBOX.match(primary):
            continue  # Exchange's own mailboxes always have one; they do not send outside
        yield Result(
            f"mailbox:{primary}",
            Status.FAIL,
            f"primary address {primary}: what it sends outside counts against the "
            f"{MOERA_LIMIT} external recipients a day of every .onmicrosoft.com sender",
            {"userPrincipalName": user.get("userPrincipalName")},
        )


def licensed_limit(ctx: CheckContext) -> tuple[int, dict[str, Any]]:
    """The tenant's limit from its licences: 500 x (paid mailbox licences ^ 0.7) + 9500, or
    5,000 when every subscription with a mailbox plan is a trial. Only enabled, non-trial
    subscriptions count: a limit too low warns early, one too high would pass a block."""
    paid = trial = 0
    for sub in ctx.source("graph.subscriptions"):
        plans = [p.get("servicePlanName") for p in sub.get("serviceStatus") or ()]
        if not any(_MAILBOX_PLAN.match(str(p or "")) for p in plans):
            continue
        if sub.get("isTrial"):
            trial += int(sub.get("totalLicenses") or 0)
        elif sub.get("status") == "Enabled":
            paid += int(sub.get("totalLicenses") or 0)
    if paid == 0 and trial:
        return TRIAL_LIMIT, {"paidMailboxLicences": 0, "trialLicences": trial, "rule": "trial"}
    limit = round(500 * paid**0.7 + 9500)
    return limit, {
        "paidMailboxLicences": paid,
        "rule": "500 x licences^0.7 + 9500",
    }


@check(
    id="LIM-002",
    slug="tenant-external-recipient-limit",
    title="The tenant stays well below its daily limit of external recipients",
    severity="high",
    requires=(
        "exchange.limitsEnforcementStatus",
        "exchange.messageTrace",
        "graph.subscriptions",
    ),
    ndr=("5.7.232", "5.7.233"),
    remediation="""Exchange Online refuses mail to external recipients once the tenant has
    sent to more of them in 24 hours than its licences allow (5,000 for a trial tenant). Find
    who sends the most (the senders named, and EAC > Reports > Mail flow > Tenant Outbound
    External Recipients); a sender that does not usually send this much is a compromised
    account: reset it, revoke its sessions and remove forwarding and inbox rules. Move
    legitimate bulk mail (newsletters, notifications) to Azure Communication Services or a
    bulk mail provider; add paid licences if the organisation truly needs more. The block
    lifts by itself as the 24-hour window moves on.""",
)
def tenant_external_recipient_limit(ctx: CheckContext) -> Iterator[Result]:
    counts = _trace_counts(ctx)
    estimated_limit, basis = licensed_limit(ctx)
    top = sorted(
        ctx.source("exchange.messageTrace").get("Senders") or (),
        key=lambda s: (-s["Peak24hExternal"]["Recipients"], s["Sender"]),
    )[:5]
    estimate: dict[str, Any] = {
        "limitFromLicences": estimated_limit,
        "licences": basis,
        "topSenders": [
            {"sender": s["Sender"], "busiest24HoursExternal": s["Peak24hExternal"]["Recipients"]}
            for s in top
        ],
    }
    if counts is not None:
        estimate["traceBusiest24Hours"] = dict(counts["Peak24h"])
        estimate["traceWindow"] = _period(ctx)
    live = ctx.source("exchange.limitsEnforcementStatus")
    judged = [
        limit
        for limit in live["Limits"]
        if isinstance(limit.get("Threshold"), int | float)
        and limit["Threshold"] > 0
        and isinstance(limit.get("ObservedValue"), int | float)
    ]
    if live["Offered"] and judged:
        for index, limit in enumerate(judged):
            unnamed = "TenantExternalRecipients" + (f"#{index + 1}" if len(judged) > 1 else "")
            name = limit.get("Name") or limit.get("Identity") or unnamed
            yield _verdict(
                f"limit:{name}",
                float(limit["ObservedValue"]),
                float(limit["Threshold"]),
                "the live counter (Get-LimitsEnforcementStatus)",
                {**estimate, "live": dict(limit)},
                top,
            )
        return
    if live["Offered"]:
        why = "Get-LimitsEnforcementStatus answered without a counter and threshold"
    else:
        why = "the gateway does not offer Get-LimitsEnforcementStatus"
    if counts is None:
        yield _stale(ctx)
        return
    yield _verdict(
        f"tenant:{ctx.tenant.id}",
        float(counts["Peak24h"]["Recipients"]),
        float(estimated_limit),
        f"an estimate from message trace ({why}; the trace lags the live counter and cannot "
        "see every exempt message)",
        estimate,
        top,
    )


def _verdict(
    resource: str,
    observed: float,
    limit: float,
    source: str,
    evidence: dict[str, Any],
    top: list[Mapping[str, Any]],
) -> Result:
    senders = ", ".join(
        f"{s['Sender']} ({s['Peak24hExternal']['Recipients']:,})"
        for s in top
        if s["Peak24hExternal"]["Recipients"]
    )
    named = f"; busiest senders: {senders}" if senders else ""
    share = _share(observed, limit)
    if observed >= limit:
        return Result(
            resource,
            Status.FAIL,
            f"{share} external recipients in 24 hours by {source}: the limit is reached and "
            f"mail to external recipients bounces (5.7.232/5.7.233){named}",
            evidence,
            severity=Severity.CRITICAL,
        )
    if observed >= APPROACHING * limit:
        return Result(  # a warning: below the check's own severity
            resource,
            Status.FAIL,
            f"{share} external recipients in 24 hours by {source}: past "
            f"{APPROACHING:.0%} of the limit{named}",
            evidence,
            severity=Severity.MEDIUM,
        )
    return Result(
        resource,
        Status.PASS,
        f"{share} external recipients in 24 hours by {source}",
        evidence,
    )


_POLICY_LIMITS = (
    ("PeakHourExternal", "RecipientLimitExternalPerHour", "external recipients in an hour"),
    ("PeakHourInternal", "RecipientLimitInternalPerHour", "internal recipients in an hour"),
    ("Peak24h", "RecipientLimitPerDay", "recipients in 24 hours"),
)


@check(
    id="LIM-003",
    slug="mailbox-recipient-limit",
    title="No mailbox comes close to its recipient limits",
    severity="high",
    requires=("exchange.messageTrace", "exchange.outboundSpamPolicies"),
    ndr=("5.7.705", "5.1.8"),
    remediation="""A mailbox that suddenly sends to thousands of recipients is almost always a
    taken-over account, and the usual first step before the whole tenant is restricted
    (5.7.705). For each sender listed: confirm with its owner; if they did not send it, reset
    the password, revoke the sessions, require MFA, remove forwarding and inbox rules, and
    check the outbound spam policy restricted it (OUT-002). Legitimate bulk mail belongs with
    a bulk mail service, not a mailbox: a mailbox may send to 10,000 recipients a day at
    most.""",
)
def mailbox_recipient_limit(ctx: CheckContext) -> Iterator[Result]:
    trace = ctx.source("exchange.messageTrace")
    if "Senders" not in trace:
        yield _stale(ctx)
        return
    default = next(
        (p for p in ctx.source("exchange.outboundSpamPolicies") if p.get("IsDefault")), None
    )
    for sender in trace["Senders"]:
        limits = [("Peak24h", MAILBOX_LIMIT, "recipients in 24 hours (the mailbox limit)")]
        for measure, field, what in _POLICY_LIMITS:
            value = (default or {}).get(field)
            if value:  # 0 means the service's own limits, which the mailbox limit covers
                limits.append((measure, int(value), f"{what} (policy {default['Name']})"))
        problems, reached = [], False
        for measure, limit, what in limits:
            peak = sender[measure]
            if peak["Recipients"] >= APPROACHING * limit:
                reached = reached or peak["Recipients"] >= limit
                verb = "reached" if peak["Recipients"] >= limit else "approaching"
                problems.append(
                    f"{verb} {_share(peak['Recipients'], limit)} {what}, from {peak['PeakStart']}"
                )
        evidence = {
            "recipients": sender["Recipients"],
            "externalRecipients": sender["ExternalRecipients"],
            "busiest24Hours": dict(sender["Peak24h"]),
            "busiest24HoursExternal": dict(sender["Peak24hExternal"]),
            "busiestHourExternal": dict(sender["PeakHourExternal"]),
            "busiestHourInternal": dict(sender["PeakHourInternal"]),
            "policy": default["Name"] if default else None,
        }
        # A sender, not necessarily a mailbox: on-premises applications relay as addresses too.
        resource = f"sender:{sender['Sender']}"
        if problems:
            severity = Severity.CRITICAL if reached else None
            yield Result(resource, Status.FAIL, "; ".join(problems), evidence, severity=severity)
        else:
            yield Result(
                resource,
                Status.PASS,
                f"at most {sender['Peak24h']['Recipients']:,} recipients in 24 hours",
                evidence,
            )
