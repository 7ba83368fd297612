"""Outbound spam: the policy that stops a compromised mailbox, the users it stopped, and what
the attacker left in their mailboxes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from auditor.judge import CheckContext, Result, Status, check
from auditor.mail.domains import address_domain, covering_domain

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


# Folders nobody reads, where an attacker hides the replies to the spam (Microsoft Sentinel's
# "Malicious Mailbox Rules (BEC)" looks for the same names).
HIDING_FOLDERS = frozenset(
    {"archive", "rss feeds", "rss subscriptions", "deleted items", "conversation history"}
)
_RULE_ADDRESS = re.compile(r"\[(?:SMTP|smtp|EX|ex):([^\]]+)\]")


def rule_destinations(values: Iterable[str] | None) -> list[str]:
    """The addresses an inbox rule sends to: `"Name" [SMTP:a@b.c]` gives a@b.c; a value with
    no bracket is taken as it is."""
    out = []
    for value in values or ():
        match = _RULE_ADDRESS.search(str(value))
        out.append((match.group(1) if match else str(value)).strip().lower())
    return out


def rule_problems(rule: Mapping[str, Any], accepted: Mapping[str, Mapping[str, Any]]) -> list[str]:
    problems = []
    for field, verb in (
        ("ForwardTo", "forwards to"),
        ("ForwardAsAttachmentTo", "forwards as attachment to"),
        ("RedirectTo", "redirects to"),
    ):
        for address in rule_destinations(rule.get(field)):
            domain = address_domain(address)
            where = "outside" if domain and covering_domain(domain, accepted) is None else "inside"
            problems.append(f"{verb} {address} ({where} the organisation)")
    if rule.get("DeleteMessage") or rule.get("SoftDeleteMessage"):
        problems.append("deletes the messages it matches")
    folder = str(rule.get("MoveToFolder") or "")
    if folder.split("\\")[-1].strip().lower() in HIDING_FOLDERS:
        read = " and marks them read" if rule.get("MarkAsRead") else ""
        problems.append(f"moves messages to {folder}{read}, out of sight")
    return problems


@check(
    id="OUT-003",
    slug="restricted-user-inbox-rules",
    title="The inbox rules of restricted users do not forward, delete or hide mail",
    severity="high",
    requires=("exchange.restrictedInboxRules", "exchange.acceptedDomains"),
    ndr=("5.1.8", "5.7.705"),
    remediation="""A rule that forwards mail outside, deletes it, or hides it in RSS Feeds or
    Conversation History in the mailbox of a restricted user is the attacker's: it keeps
    copies of the victim's mail and hides the bounces and replies to the spam. Disable and
    remove it (Remove-InboxRule), look for the same rule in other mailboxes, and recover the
    account (OUT-002) before you lift the restriction.""",
)
def restricted_user_inbox_rules(ctx: CheckContext) -> Iterator[Result]:
    accepted = {str(d["DomainName"]).lower(): d for d in ctx.source("exchange.acceptedDomains")}
    entries = ctx.source("exchange.restrictedInboxRules")
    if not entries:
        yield Result(
            f"tenant:{ctx.tenant.id}",
            Status.PASS,
            "no user is restricted from sending: no inbox rules to read",
        )
        return
    for entry in entries:
        mailbox = str(entry["Mailbox"]).lower()
        if "Error" in entry:
            yield Result(
                f"mailbox:{mailbox}",
                Status.ERROR,
                f"its inbox rules could not be read: {entry['Error']}",
            )
            continue
        suspicious = 0
        for rule in entry["Rules"]:
            problems = rule_problems(rule, accepted)
            if not problems:
                continue
            suspicious += 1
            state = "" if rule.get("Enabled", True) else " (disabled)"
            yield Result(
                f"inboxRule:{mailbox}/{rule['Name']}",
                Status.FAIL,
                f"rule {rule['Name']!r}{state} {'; '.join(problems)}",
                {k: rule.get(k) for k in rule},
            )
        if not suspicious:
            yield Result(
                f"mailbox:{mailbox}",
                Status.PASS,
                f"{len(entry['Rules'])} inbox rules, none forwards, deletes or hides mail",
            )
