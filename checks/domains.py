"""Sending domains: mail may only leave the tenant from registered, verified domains."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.common.timeutil import parse_time
from auditor.judge import CheckContext, Result, Status, check
from auditor.mail.domains import DomainUse, users_by_domain
from checks._mail import (
    DomainIndex,
    connector_entries,
    is_wildcard,
    plural,
    sender_domains,
)


@dataclass
class _Sightings:
    messages: int = 0
    by_ip: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ip_connector: dict[str, str] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None
    connectors: set[str] = field(default_factory=set)
    # Users with a mail or proxy address in the domain, and the smallest of those addresses.
    addresses: DomainUse = field(default_factory=DomainUse)

    def seen_in_trace(self, row: Mapping[str, Any], connector: str | None) -> None:
        count = int(row["MessageCount"])
        self.messages += count
        ip = row.get("FromIP") or "(cloud mailbox)"
        self.by_ip[ip] += count
        if connector:
            self.ip_connector[ip] = connector
        if row.get("FirstReceived"):
            self.first = min(filter(None, (self.first, row["FirstReceived"])), key=parse_time)
        if row.get("LastReceived"):
            self.last = max(filter(None, (self.last, row["LastReceived"])), key=parse_time)

    def evidence(self) -> dict[str, Any]:
        """What was seen; the examples of user addresses are there only for a domain to fix
        (on a registered domain they are noise, and finding them among millions costs
        time)."""
        evidence: dict[str, Any] = {}
        if self.messages:
            evidence["messageTrace"] = {
                "outboundMessages": self.messages,
                "sources": [
                    {"fromIP": ip, "messages": n, "inboundConnector": self.ip_connector.get(ip)}
                    for ip, n in sorted(self.by_ip.items(), key=lambda kv: (-kv[1], kv[0]))
                ],
                "firstReceived": self.first,
                "lastReceived": self.last,
            }
        if self.connectors:
            evidence["inboundConnectorSenderDomains"] = sorted(self.connectors)
        if self.addresses.users:
            evidence["users"] = {"count": self.addresses.users}
            if self.addresses.examples:
                evidence["users"]["addressExamples"] = self.addresses.examples
        return evidence

    def describe(self) -> str:
        parts = []
        if self.messages:
            sources = []
            for ip, n in sorted(self.by_ip.items(), key=lambda kv: (-kv[1], kv[0]))[:3]:
                via = f" via connector {self.ip_connector[ip]}" if ip in self.ip_connector else ""
                sources.append(f"{n:,} from {ip}{via}")
            more = len(self.by_ip) - 3
            extra = f" and {plural(more, 'other source')}" if more > 0 else ""
            parts.append(
                f"{plural(self.messages, 'message')} to external recipients in message trace "
                f"({'; '.join(sources)}{extra})"
            )
        if self.connectors:
            parts.append(
                f"in SenderDomains of inbound connector {', '.join(sorted(self.connectors))}"
            )
        if self.addresses.users:
            parts.append(f"in the addresses of {plural(self.addresses.users, 'user')}")
        return "; ".join(parts)


def _addresses(users: list[Mapping[str, Any]]) -> Iterator[Sequence[Any]]:
    """Each user's mail and proxy addresses. A mail that is, letter for letter, one of the
    user's SMTP proxy addresses (the primary one, almost always) is left out rather than
    read a second time: it reads the same (no prefix of its own, no leading space, which
    the proxy address would keep after its prefix; a test holds the two readings equal)."""
    for user in users:
        proxies = user.get("proxyAddresses") or ()
        mail = user.get("mail")
        if (
            isinstance(mail, str)
            and mail
            and ":" not in mail
            and not mail[0].isspace()
            and ("SMTP:" + mail in proxies or "smtp:" + mail in proxies)
        ):
            yield proxies
        else:
            yield [mail, *proxies]


def _on_premises_connector_for(connectors, ip: str | None) -> str | None:
    if not ip:
        return None
    for connector in connectors:
        if connector.get("ConnectorType") != "OnPremises":
            continue
        entries, _ = connector_entries(connector)
        if any(e.contains(ip) for e in entries):
            return str(connector["Name"])
    return None


@check(
    id="DOM-001",
    slug="unregistered-sending-domain",
    title="Mail leaves the tenant only from registered, verified domains",
    severity="high",
    requires=(
        "exchange.acceptedDomains",
        "graph.domains",
        "exchange.inboundConnectors",
        "exchange.messageTrace",
        "graph.users",
    ),
    ndr=("5.7.750",),
    remediation="""For each domain listed: if the organisation owns it, add it as an accepted
    domain in Exchange Online and verify it in the Microsoft 365 admin center (Settings >
    Domains) with Email enabled. If it does not, stop the on-premises server or application
    shown in the evidence from relaying it, or rewrite its sender address to an accepted
    domain. Restrict the SenderDomains of on-premises inbound connectors to accepted domains.
    Exchange Online blocks a tenant that keeps relaying unregistered domains (550 5.7.750).""",
)
def unregistered_sending_domains(ctx: CheckContext) -> Iterator[Result]:
    index = DomainIndex(ctx.source("exchange.acceptedDomains"), ctx.source("graph.domains"))
    connectors = ctx.source("exchange.inboundConnectors")
    trace = ctx.source("exchange.messageTrace")
    seen: dict[str, _Sightings] = defaultdict(_Sightings)

    for row in trace["Aggregates"]:
        if row["Outbound"] and int(row["MessageCount"]) > 0:
            domain = str(row["SenderDomain"]).strip().lower()
            connector = _on_premises_connector_for(connectors, row.get("FromIP"))
            seen[domain].seen_in_trace(row, connector)

    for connector in connectors:
        if connector.get("ConnectorType") != "OnPremises":
            continue
        name = str(connector["Name"])
        domains = sender_domains(connector)
        if any(is_wildcard(d) for d in domains):
            yield Result(
                resource=f"connector:{name}",
                status=Status.FAIL,
                message=(
                    "SenderDomains is * on this on-premises connector: any domain may be relayed "
                    "through it, registered or not"
                ),
                evidence={"SenderDomains": list(connector.get("SenderDomains") or ())},
            )
        for domain in domains:
            if not is_wildcard(domain) and "*" not in domain:
                seen[domain].connectors.add(name)

    # Examples of user addresses only in domains to fix.
    use = users_by_domain(
        _addresses(ctx.source("graph.users")),
        examples_for=lambda domain: not index.standing(domain).registered,
    )
    for domain, found in use.items():
        seen[domain].addresses = found

    window = f"{trace['StartDate']} to {trace['EndDate']}"
    for domain, sightings in sorted(seen.items()):
        standing = index.standing(domain)
        evidence = {
            "standing": standing.reason,
            "traceWindow": window,
            **sightings.evidence(),
        }
        where = sightings.describe()
        if standing.registered:
            yield Result(f"domain:{domain}", Status.PASS, f"{standing.reason}; {where}", evidence)
        else:
            via = tuple(sorted({f"connector:{c}" for c in sightings.ip_connector.values()}))
            yield Result(
                f"domain:{domain}",
                Status.FAIL,
                f"{standing.reason}; {where}",
                evidence,
                related=via,
            )


@check(
    id="DOM-002",
    slug="accepted-domain-drift",
    title="Accepted domains are verified and match the baseline",
    severity="medium",
    requires=("exchange.acceptedDomains", "graph.domains"),
    ndr=("5.7.750",),
    remediation="""Verify each accepted domain in the Microsoft 365 admin center (Settings >
    Domains) with Email among its services, or remove it from Exchange Online if the
    organisation no longer owns it. Add a domain the organisation did add on purpose to the
    baseline's acceptedDomains; investigate one nobody added: an attacker with Exchange
    Administrator rights can add a domain to send as it. Restore or remove from the baseline a
    domain that is missing from the tenant.""",
)
def accepted_domain_drift(ctx: CheckContext) -> Iterator[Result]:
    index = DomainIndex(ctx.source("exchange.acceptedDomains"), ctx.source("graph.domains"))
    approved = {str(d["name"]).lower(): d for d in ctx.baseline.accepted_domains}

    for name in sorted(set(index.accepted) | set(approved)):
        tenant = index.accepted.get(name)
        expected = approved.get(name)
        if tenant is None:
            yield Result(
                f"domain:{name}",
                Status.FAIL,
                "approved in the baseline but not an accepted domain in the tenant",
                {"baseline": dict(expected or {})},
            )
            continue
        problems = []
        verification = index.verification_problem(name)
        if verification:
            problems.append(verification)
        if expected is None:
            problems.append("not in the baseline: approve it there or remove it from the tenant")
        elif expected.get("domainType") and expected["domainType"] != tenant.get("DomainType"):
            problems.append(
                f"DomainType is {tenant.get('DomainType')}, the baseline expects "
                f"{expected['domainType']}"
            )
        evidence = {
            "DomainType": tenant.get("DomainType"),
            "MatchSubDomains": bool(tenant.get("MatchSubDomains")),
            "inBaseline": expected is not None,
            "entraId": verification or "verified with Email",
        }
        if problems:
            yield Result(f"domain:{name}", Status.FAIL, "; ".join(problems), evidence)
        else:
            yield Result(
                f"domain:{name}",
                Status.PASS,
                f"{tenant.get('DomainType') or 'accepted'}, verified in Entra ID, in the baseline",
                evidence,
            )
