"""Outbound spam: the policy that stops a compromised mailbox, and the users it stopped."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.judge import CheckContext, Result, Status, check

_LIMITS = (
    ("RecipientLimitExternalPerHour", "outboundRecipientLimitExternalPerHour"),
    ("RecipientLimitInternalPerHour", "outboundRecipientLimitInternalPerHour"),
    ("RecipientLimitPerDay", "outboundRecipientLimitPerDay"),
)
_BLOCKING_ACTIONS = ("BlockUser", "BlockUserForToday")


@check(
    id="OUT-001",
    slug="outbound-spam-policy",
    title="Outbound spam policies block and report a sender that bursts",
    severity="medium",
    requires=("exchange.outboundSpamPolicies",),
    ndr=("5.7.705", "5.1.8", "5.7.520"),
    remediation="""In the Defender portal (Email & collaboration > Policies > Anti-spam >
    Outbound), set every policy to restrict the user (BlockUser or BlockUserForToday) when a
    limit is reached, set recipient limits no looser than the baseline's, name who is
    notified (NotifyOutboundSpamRecipients, or an alert policy for 'User restricted from
    sending email' with a recipient), and set automatic forwarding to Off, allowing it only
    through a separate policy for the few senders who need it. A compromised mailbox that is
    not stopped quickly is how a whole tenant reaches its sending threshold (5.7.705).""",
)
def outbound_spam_policies(ctx: CheckContext) -> Iterator[Result]:
    policies = sorted(
        ctx.source("exchange.outboundSpamPolicies"),
        key=lambda p: (not p.get("IsDefault"), str(p["Name"]).lower()),
    )
    for policy in policies:
        problems = []
        if not policy.get("NotifyOutboundSpamRecipients"):
            problems.append(
                "nobody is notified when a sender is restricted (NotifyOutboundSpamRecipients "
                "is empty: make sure an alert policy notifies someone)"
            )
        action = policy.get("ActionWhenThresholdReached")
        if action not in _BLOCKING_ACTIONS:
            problems.append(f"ActionWhenThresholdReached is {action}: the sender is not stopped")
        for field, threshold in _LIMITS:
            allowed = ctx.thresholds.get(threshold)
            value = policy.get(field)
            if allowed is None or value is None:
                continue
            if value == 0:
                problems.append(f"{field} is 0 (the service default), looser than {allowed}")
            elif value > allowed:
                problems.append(f"{field} is {value}, looser than {allowed}")
        mode = policy.get("AutoForwardingMode")
        if mode == "On":
            problems.append("AutoForwardingMode is On: external automatic forwarding is allowed")
        elif mode != "Off":
            problems.append(
                f"AutoForwardingMode is {mode}: what it allows varies by tenant; set Off"
            )
        evidence = {
            "IsDefault": bool(policy.get("IsDefault")),
            "ActionWhenThresholdReached": action,
            "AutoForwardingMode": mode,
            "NotifyOutboundSpamRecipients": list(policy.get("NotifyOutboundSpamRecipients") or ()),
            **{field: policy.get(field) for field, _ in _LIMITS},
        }
        resource = f"policy:{policy['Name']}"
        if problems:
            yield Result(resource, Status.FAIL, "; ".join(problems), evidence)
        else:
            yield Result(
                resource,
                Status.PASS,
                f"{action} at the limits, notifies "
                f"{', '.join(policy['NotifyOutboundSpamRecipients'])}, forwarding Off",
                evidence,
            )


@check(
    id="OUT-002",
    slug="restricted-senders",
    title="No user is restricted from sending after outbound spam",
    severity="high",
    requires=("exchange.blockedSenders",),
    ndr=("5.1.8", "5.7.705"),
    remediation="""A restricted user almost always means a compromised account. Before you
    unblock it: reset the password and revoke its sessions, require MFA, find how it was
    compromised (sign-in logs, new inbox rules, forwarding, OAuth consents) and undo it,
    clear or purge what is still queued in its Outbox, then remove the restriction in the
    Defender portal (Restricted entities) or with Remove-BlockedSenderAddress. Unblocking
    first lets the spam resume and pushes the tenant toward 5.7.705.""",
)
def restricted_senders(ctx: CheckContext) -> Iterator[Result]:
    blocked = ctx.source("exchange.blockedSenders")
    if not blocked:
        yield Result(f"tenant:{ctx.tenant.id}", Status.PASS, "no user is restricted from sending")
        return
    for entry in blocked:
        address = str(entry["SenderAddress"]).lower()
        since = entry.get("CreatedDatetime") or "an unknown time"
        yield Result(
            f"user:{address}",
            Status.FAIL,
            f"restricted from sending since {since} ({entry.get('Reason') or 'no reason given'}): "
            "treat the account as compromised; recover it before you unblock it",
            {k: entry.get(k) for k in ("Reason", "CreatedDatetime", "ChangedDatetime")},
        )
