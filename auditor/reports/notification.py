"""The short message a chat channel gets after a run: status, counts, what changed since the
previous run, and the first resources to fix. One summary, three shapes: a Microsoft Teams
Adaptive Card (what Teams' Workflows webhooks and the older incoming webhooks take), a Slack
incoming-webhook message, and plain JSON for anything else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditor.judge.model import AuditResult, AuditStatus, Status
from auditor.reports import fix_first

SCHEMA = "m365-mail-auditor/notification/1"
SHOWN = 5  # resources named in the message; the report has the rest

_CHANGE_KINDS = ("new", "resolved", "approved", "unknown", "changed")


@dataclass(frozen=True)
class Summary:
    title: str
    status: str
    facts: tuple[tuple[str, str], ...]
    fix_first: tuple[str, ...]
    more: int
    link: str | None


def changes_count(audit: AuditResult) -> dict[str, int] | None:
    """How many findings are new, resolved... since the previous run; None without one."""
    changes = audit.changes
    if changes is None or changes.get("kind") != "findings":
        return None
    return {kind: len(changes.get(kind) or []) for kind in _CHANGE_KINDS}


def changed(audit: AuditResult) -> bool:
    counts = changes_count(audit)
    return bool(counts and any(counts.values()))


def summarise(audit: AuditResult, link: str | None = None) -> Summary:
    name = audit.tenant.display_name or audit.tenant.id
    outcomes = audit.outcomes
    checks = (
        f"{len(outcomes)}: {audit.count(Status.FAIL)} failed, {audit.count(Status.ERROR)} "
        f"errored, {audit.count(Status.WAIVED)} waived, {audit.count(Status.PASS)} passed"
    )
    facts = [("Status", audit.status.value.upper()), ("Checks", checks)]
    if audit.unjudged:
        facts.append(("Not judged", str(audit.unjudged)))
    counts = changes_count(audit)
    if counts is not None:
        facts.append(("Since last run", ", ".join(f"{n} {kind}" for kind, n in counts.items())))
    facts.append(("Collected", audit.collected_at))
    items, more = fix_first.shown(audit)
    lines = tuple(
        f"{item.resource} ({item.severity.value}): "
        + ", ".join(dict.fromkeys(f.check.split(" ")[0] for f in item.findings))
        for item in items[:SHOWN]
    )
    return Summary(
        title=f"m365-mail-auditor: {audit.status.value.upper()} for {name}",
        status=audit.status.value,
        facts=tuple(facts),
        fix_first=lines,
        more=more + max(0, len(items) - SHOWN),
        link=link,
    )


def teams(summary: Summary) -> dict[str, Any]:
    colour = {"pass": "Good", "waived": "Good", "fail": "Attention"}.get(summary.status, "Warning")
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": summary.title,
            "weight": "Bolder",
            "size": "Medium",
            "color": colour,
            "wrap": True,
        },
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in summary.facts]},
    ]
    if summary.fix_first:
        body.append({"type": "TextBlock", "text": "Fix first", "weight": "Bolder"})
        body += [
            {"type": "TextBlock", "text": f"- {line}", "wrap": True, "spacing": "None"}
            for line in summary.fix_first
        ]
        if summary.more:
            body.append({"type": "TextBlock", "text": f"... and {summary.more} more"})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if summary.link:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open the report", "url": summary.link}
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(summary: Summary) -> dict[str, Any]:
    facts = "\n".join(f"*{k}:* {_slack_escape(v)}" for k, v in summary.facts)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": summary.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": facts[:3000]}},
    ]
    if summary.fix_first:
        lines = "\n".join(f"• {_slack_escape(line)}" for line in summary.fix_first)
        if summary.more:
            lines += f"\n… and {summary.more} more"
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Fix first*\n{lines}"[:3000]}}
        )
    if summary.link:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{summary.link}|Open the report>"},
            }
        )
    return {"text": summary.title, "blocks": blocks}


def plain(summary: Summary) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "title": summary.title,
        "status": summary.status,
        "facts": dict(summary.facts),
        "fixFirst": list(summary.fix_first),
        "more": summary.more,
    }
    if summary.link:
        document["link"] = summary.link
    return document


SHAPES: Mapping[str, Any] = {"teams": teams, "slack": slack, "json": plain}

# When to post: every run, a run that is not a clean pass, or one whose findings changed.
WHEN = ("always", "failure", "change")


def due(audit: AuditResult, when: str) -> bool:
    if when == "always":
        return True
    if when == "failure":
        return audit.status not in (AuditStatus.PASS, AuditStatus.WAIVED)
    return changed(audit)
