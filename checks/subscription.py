"""Subscriptions: a lapsed Exchange Online licence stops mail, and a renewal takes a day."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from auditor.common.timeutil import parse_time
from auditor.judge import CheckContext, Result, Status, check

# Service plans that give a mailbox (EXCHANGE_S_FOUNDATION comes with many non-mail SKUs).
_MAILBOX_PLAN = re.compile(r"^EXCHANGE_[SBL]_(STANDARD|ENTERPRISE|DESKLESS)", re.IGNORECASE)
_TROUBLE = {
    "Warning": "in its grace period after expiry: renew it before it is suspended",
    "Suspended": "suspended: users cannot send or receive until it is renewed",
    "LockedOut": "locked out: renew it or the data is deleted",
    "Deleted": "deleted",
}


def _exchange_plans(plans: Iterable[Mapping[str, Any]] | None) -> list[str]:
    return sorted(
        str(p.get("servicePlanName"))
        for p in plans or ()
        if _MAILBOX_PLAN.match(str(p.get("servicePlanName") or ""))
    )


@check(
    id="SUB-001",
    slug="exchange-subscription-lapse",
    title="Subscriptions that carry Exchange Online are active and not about to lapse",
    severity="critical",
    requires=("graph.subscriptions", "graph.subscribedSkus"),
    ndr=(),
    remediation="""Renew or replace each subscription listed before its next lifecycle date
    (Microsoft 365 admin center > Billing > Your products), or move its users to another
    subscription with Exchange Online. Assign no more licences than the subscription has
    enabled. A tenant whose subscription lapsed can stay blocked from sending for up to a day
    after the renewal, so act before the date, not after.""",
)
def exchange_subscription_lapse(ctx: CheckContext) -> Iterator[Result]:
    days = ctx.thresholds["subscriptionExpiryDays"]
    for sub in ctx.source("graph.subscriptions"):
        plans = _exchange_plans(sub.get("serviceStatus"))
        if not plans:
            continue
        resource = f"subscription:{sub.get('skuPartNumber')}/{sub['id']}"
        status = sub.get("status")
        problems = []
        if status in _TROUBLE:
            problems.append(f"status {status}: {_TROUBLE[status]}")
        next_date = sub.get("nextLifecycleDateTime")
        remaining = None
        if next_date:
            remaining = (parse_time(next_date) - ctx.now).total_seconds() / 86400
            if remaining <= days:
                kind = "trial ends" if sub.get("isTrial") else "next lifecycle change"
                problems.append(
                    f"{kind} {next_date[:10]}, {max(remaining, 0):.0f} days after collection "
                    f"(the baseline warns at {days})"
                )
        evidence = {
            "skuPartNumber": sub.get("skuPartNumber"),
            "status": status,
            "isTrial": bool(sub.get("isTrial")),
            "nextLifecycleDateTime": next_date,
            "exchangePlans": plans,
            "totalLicenses": sub.get("totalLicenses"),
        }
        if problems:
            yield Result(resource, Status.FAIL, "; ".join(problems), evidence)
        else:
            when = f"until {next_date[:10]}" if next_date else "with no end date reported"
            yield Result(resource, Status.PASS, f"{status} {when}", evidence)

    for sku in ctx.source("graph.subscribedSkus"):
        plans = _exchange_plans(sku.get("servicePlans"))
        if not plans:
            continue
        units = sku.get("prepaidUnits") or {}
        enabled = int(units.get("enabled") or 0)
        consumed = int(sku.get("consumedUnits") or 0)
        resource = f"sku:{sku.get('skuPartNumber')}"
        evidence = {
            "capabilityStatus": sku.get("capabilityStatus"),
            "prepaidUnits": dict(units),
            "consumedUnits": consumed,
            "exchangePlans": plans,
        }
        problems = []
        if consumed > enabled:
            grace = int(units.get("warning") or 0)
            in_grace = f" ({grace} more in the grace period)" if grace else ""
            problems.append(
                f"{consumed} licences assigned but only {enabled} enabled{in_grace}: "
                f"{consumed - enabled} users lose Exchange Online when the licences lapse"
            )
        if sku.get("capabilityStatus") in _TROUBLE:
            problems.append(f"capabilityStatus {sku['capabilityStatus']}")
        if problems:
            yield Result(resource, Status.FAIL, "; ".join(problems), evidence)
        else:
            yield Result(
                resource, Status.PASS, f"{consumed} of {enabled} licences in use", evidence
            )
