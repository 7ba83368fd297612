"""Forwarding and transport rules: where mail leaves, or filtering is switched off, quietly."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from auditor.judge import CheckContext, Result, Severity, Status, check
from auditor.mail.domains import address_domain, covering_domain


def _accepted(ctx: CheckContext) -> dict[str, Mapping[str, Any]]:
    return {str(d["DomainName"]).lower(): d for d in ctx.source("exchange.acceptedDomains")}


def _is_external(address: str, accepted: Mapping[str, Mapping[str, Any]]) -> bool | None:
    """True/False for an SMTP address; None when it is not one (a recipient object's name)."""
    domain = address_domain(address)
    if domain is None:
        return None
    return covering_domain(domain, accepted) is None


def _allowed(address: str, forwarding: Mapping[str, Any]) -> bool:
    domain = address_domain(address) or ""
    addresses = {a.lower() for a in forwarding.get("allowedAddresses") or ()}
    domains = {d.lower() for d in forwarding.get("allowedDomains") or ()}
    bare = address.split(":", 1)[-1].lower()
    return bare in addresses or domain in domains


@check(
    id="FWD-001",
    slug="external-forwarding",
    title="Mail is not automatically forwarded outside the organisation",
    severity="high",
    requires=(
        "exchange.remoteDomains",
        "exchange.forwardingMailboxes",
        "exchange.acceptedDomains",
    ),
    ndr=("5.7.520", "5.7.705"),
    remediation="""Turn off AutoForwardEnabled on the Default remote domain (*) and on any
    other remote domain not listed in the baseline's forwarding.allowedDomains. Remove
    ForwardingSmtpAddress or ForwardingAddress from each mailbox listed, after asking its
    owner: attackers add forwarding to a compromised mailbox to keep reading its mail, and
    forwarded spam counts against the tenant's own reputation. Approved destinations go in
    the baseline's forwarding section.""",
)
def external_forwarding(ctx: CheckContext) -> Iterator[Result]:
    accepted = _accepted(ctx)
    allow = ctx.baseline.forwarding

    for domain in ctx.source("exchange.remoteDomains"):
        name = str(domain["DomainName"]).lower()
        resource = f"remoteDomain:{domain['Name']}"
        evidence = {
            "DomainName": name,
            "AutoForwardEnabled": bool(domain.get("AutoForwardEnabled")),
        }
        if not domain.get("AutoForwardEnabled"):
            yield Result(resource, Status.PASS, f"automatic forwarding to {name} is off", evidence)
        elif name == "*":
            yield Result(
                resource,
                Status.FAIL,
                "AutoForwardEnabled on the Default remote domain: automatic forwarding to any "
                "external domain is allowed",
                evidence,
            )
        elif name in {d.lower() for d in allow.get("allowedDomains") or ()}:
            yield Result(
                resource, Status.PASS, f"forwarding to {name} is allowed by the baseline", evidence
            )
        else:
            yield Result(
                resource,
                Status.FAIL,
                f"AutoForwardEnabled for {name}, which the baseline does not allow",
                evidence,
            )

    for mailbox in ctx.source("exchange.forwardingMailboxes"):
        targets = [
            (field, str(mailbox[field]))
            for field in ("ForwardingSmtpAddress", "ForwardingAddress")
            if mailbox.get(field)
        ]
        if not targets:
            continue
        resource = f"mailbox:{str(mailbox['PrimarySmtpAddress']).lower()}"
        keep = "keeps a copy" if mailbox.get("DeliverToMailboxAndForward") else "keeps no copy"
        evidence = {field: value for field, value in targets}
        evidence["DeliverToMailboxAndForward"] = bool(mailbox.get("DeliverToMailboxAndForward"))
        external = [(field, value) for field, value in targets if _is_external(value, accepted)]
        unapproved = [(f, v) for f, v in external if not _allowed(v, allow)]
        if unapproved:
            field, value = unapproved[0]
            yield Result(
                resource,
                Status.FAIL,
                f"forwards to {value.split(':', 1)[-1]} outside the organisation ({field}; "
                f"the mailbox {keep})",
                evidence,
            )
        elif external:
            yield Result(
                resource,
                Status.PASS,
                f"forwards to {external[0][1].split(':', 1)[-1]}, allowed by the baseline",
                evidence,
            )
        else:
            where = ", ".join(v for _, v in targets)
            yield Result(
                resource,
                Status.PASS,
                f"forwards inside the organisation ({where}); a ForwardingAddress that names a "
                "mail contact would leave it: check such names by hand",
                evidence,
            )


def _rule_findings(
    rule: Mapping[str, Any],
    accepted: Mapping[str, Mapping[str, Any]],
    approved_connectors: set[str],
) -> list[str]:
    findings = []
    scl = rule.get("SetSCL")
    external_senders = rule.get("FromScope") == "NotInOrganization"
    if scl == -1:
        findings.append("sets SCL -1: matching mail skips spam filtering")
    elif scl is not None and 0 <= scl <= 4 and external_senders:
        findings.append(f"sets SCL {scl} for external senders: spam is delivered as clean")
    for field in ("RedirectMessageTo", "BlindCopyTo", "AddToRecipients", "CopyTo"):
        outside = [a for a in rule.get(field) or () if _is_external(str(a), accepted)]
        if outside:
            findings.append(f"{field} sends mail outside the organisation: {', '.join(outside)}")
    connector = rule.get("RouteMessageOutboundConnector")
    if connector and str(connector).lower() not in approved_connectors:
        findings.append(f"routes mail through outbound connector {connector}, not in the baseline")
    return findings


@check(
    id="FWD-002",
    slug="risky-transport-rule",
    title="Transport rules do not bypass filtering or send mail outside",
    severity="high",
    requires=("exchange.transportRules", "exchange.acceptedDomains"),
    ndr=("5.7.705",),
    remediation="""Remove or narrow each rule listed. A rule that sets SCL -1 lets everything
    it matches skip spam filtering: allow a partner with a connector restricted to its
    certificate or IP addresses instead. A rule that redirects or copies mail to an external
    address is a classic way attackers keep receiving a tenant's mail; one that routes
    through an unapproved outbound connector sends mail somewhere the baseline does not know.
    Check who changed each rule (Purview audit log, Set-TransportRule/New-TransportRule).""",
)
def risky_transport_rules(ctx: CheckContext) -> Iterator[Result]:
    accepted = _accepted(ctx)
    approved = {str(c["Name"]).lower() for c in ctx.baseline.outbound_connectors}
    for rule in ctx.source("exchange.transportRules"):
        findings = _rule_findings(rule, accepted, approved)
        active = rule.get("State") == "Enabled" and rule.get("Mode", "Enforce") == "Enforce"
        resource = f"transportRule:{rule['Name']}"
        evidence = {
            k: rule.get(k)
            for k in (
                "State",
                "Mode",
                "Priority",
                "FromScope",
                "SetSCL",
                "RedirectMessageTo",
                "BlindCopyTo",
                "RouteMessageOutboundConnector",
                "WhenChanged",
            )
        }
        if not findings:
            yield Result(
                resource, Status.PASS, "neither weakens filtering nor sends mail out", evidence
            )
        elif active:
            yield Result(resource, Status.FAIL, "; ".join(findings), evidence)
        else:
            state = rule.get("State") if rule.get("State") != "Enabled" else rule.get("Mode")
            yield Result(
                resource,
                Status.PASS,
                f"{state}, so not in force; if turned on it " + "; ".join(findings),
                evidence,
                severity=Severity.INFO,
            )
