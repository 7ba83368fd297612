"""SPF, DKIM and DMARC for every accepted domain that sends mail (judged from DNS answers in
the snapshot: no lookups here). Evaluated with dnspython answers and the rules of RFC 7208 and
RFC 7489 directly, so the checks stay pure functions of the snapshot."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.judge import CheckContext, Result, Status, check
from auditor.mail.dmarc import dmarc_records, dmarc_tags, organisational_domain
from auditor.mail.domains import sending_domains
from auditor.mail.spf import LOOKUP_TERMS, spf_records, spf_terms

EXCHANGE_SPF = "spf.protection.outlook.com"
_POLICY_RANK = {"none": 0, "quarantine": 1, "reject": 2}


def _domains(ctx: CheckContext) -> list[str]:
    exempt = {d.lower() for d in ctx.baseline.mail_authentication.get("exemptDomains") or ()}
    disabled = {
        str(d["DomainName"]).lower()
        for d in ctx.source("exchange.acceptedDomains")
        if d.get("SendingFromDomainDisabled")
    }
    return [
        d
        for d in sending_domains(ctx.source("exchange.acceptedDomains"))
        if d not in exempt and d not in disabled
    ]


def _answer(queries: Mapping[str, Any], rdtype: str, name: str) -> Mapping[str, Any] | None:
    return queries.get(f"{rdtype} {name}")


def _mx_gateway(queries: Mapping[str, Any], domain: str) -> str | None:
    """The third-party host the domain's MX points to, or None for Exchange Online."""
    answer = _answer(queries, "MX", domain) or {}
    hosts = [a.split(" ", 1)[-1] for a in answer.get("answers") or ()]
    others = [h for h in hosts if not h.endswith((".mail.protection.outlook.com", ".mx.microsoft"))]
    return others[0] if others else None


def _smart_host_route(ctx: CheckContext) -> str | None:
    """An enabled outbound connector carrying mail for every domain through smart hosts: then
    the smart host, not Exchange Online, is the address receivers see."""
    for connector in ctx.source("exchange.outboundConnectors"):
        domains = {str(d).strip() for d in connector.get("RecipientDomains") or ()}
        if (
            connector.get("Enabled")
            and not connector.get("UseMXRecord")
            and "*" in domains
            and not connector.get("IsTransportRuleScoped")
            and connector.get("SmartHosts")
        ):
            return f"{connector['Name']} ({', '.join(connector['SmartHosts'])})"
    return None


@dataclass
class SpfEvaluation:
    lookups: int = 0
    void: int = 0
    names: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # permerror: the record is broken
    missing: list[str] = field(default_factory=list)  # not in the snapshot: cannot judge
    final_all: str | None = None


def evaluate_spf(queries: Mapping[str, Any], domain: str) -> SpfEvaluation:
    result = SpfEvaluation()

    def visit(name: str, depth: int, top: bool) -> None:
        if depth > 10:
            result.errors.append(f"includes nest deeper than 10 at {name}")
            return
        answer = _answer(queries, "TXT", name)
        if answer is None:
            result.missing.append(name)
            return
        if answer.get("status") == "error":
            result.missing.append(f"{name} ({answer.get('error', 'DNS error')})")
            return
        records = spf_records(answer.get("answers") or ())
        if not records:
            if top:
                result.errors.append("no v=spf1 record")
            else:
                result.void += 1 if answer.get("status") in ("nxdomain", "nodata") else 0
                result.errors.append(f"{name} has no SPF record")
            return
        if len(records) > 1:
            result.errors.append(f"{name} has {len(records)} v=spf1 records (exactly one allowed)")
            return
        result.names.append(name)
        terms = spf_terms(records[0])
        redirect = None
        for qualifier, term, value in terms:
            if term in LOOKUP_TERMS:
                result.lookups += 1
            if term == "include" and qualifier != "=" and value and "%" not in value:
                visit(value.lower(), depth + 1, False)
            elif term == "redirect" and qualifier == "=":
                redirect = value.lower()
            elif term == "all" and top:
                result.final_all = qualifier + "all"
        if redirect and top and result.final_all is None and "%" not in redirect:
            visit(redirect, depth + 1, True)

    visit(domain, 0, True)
    return result


@check(
    id="AUTH-001",
    slug="spf",
    title="Each sending domain publishes one valid SPF record that covers Exchange Online",
    severity="high",
    requires=("exchange.acceptedDomains", "exchange.outboundConnectors", "dns.records"),
    ndr=("5.7.23", "5.7.509"),
    remediation="""Publish exactly one TXT record starting v=spf1 at each sending domain,
    include spf.protection.outlook.com when mail leaves through Exchange Online (or the smart
    host's own include when it leaves through one), end it with -all or ~all, and keep it
    under 10 DNS-querying terms in all (include, a, mx, ptr, exists, redirect, counted through
    every include): flatten or drop includes of services that no longer send for you.""",
)
def spf(ctx: CheckContext) -> Iterator[Result]:
    queries = ctx.source("dns.records")["queries"]
    route = _smart_host_route(ctx)
    for domain in _domains(ctx):
        evaluation = evaluate_spf(queries, domain)
        evidence = {
            "lookups": evaluation.lookups,
            "voidLookups": evaluation.void,
            "recordsEvaluated": evaluation.names,
            "all": evaluation.final_all,
            "smartHostRoute": route,
            "mxGateway": _mx_gateway(queries, domain),
        }
        resource = f"domain:{domain}"
        if evaluation.missing:
            yield Result(
                resource,
                Status.ERROR,
                f"DNS answers missing for {', '.join(evaluation.missing)}: cannot evaluate SPF",
                evidence,
            )
            continue
        problems = list(evaluation.errors)
        if evaluation.lookups > 10:
            problems.append(
                f"{evaluation.lookups} DNS-querying terms, over the limit of 10 (permerror: "
                "receivers treat the record as broken)"
            )
        if evaluation.void > 2:
            problems.append(f"{evaluation.void} void lookups, over the limit of 2")
        if evaluation.names and evaluation.final_all not in ("-all", "~all"):
            problems.append(f"ends in {evaluation.final_all or 'no all'}, not -all or ~all")
        if evaluation.names and route is None and EXCHANGE_SPF not in evaluation.names:
            problems.append(
                f"does not include {EXCHANGE_SPF}, yet mail leaves through Exchange Online"
            )
        if problems:
            yield Result(resource, Status.FAIL, "; ".join(problems), evidence)
        else:
            via = f"mail leaves via {route}" if route else f"includes {EXCHANGE_SPF}"
            yield Result(
                resource,
                Status.PASS,
                f"one SPF record, {evaluation.lookups} lookups, {evaluation.final_all}, {via}",
                evidence,
            )


def _cname(queries: Mapping[str, Any], name: str) -> str | None:
    answer = _answer(queries, "CNAME", name) or {}
    answers = answer.get("answers") or ()
    return str(answers[0]).lower().rstrip(".") if answers else None


@check(
    id="AUTH-002",
    slug="dkim",
    title="Exchange Online signs each sending domain with DKIM, and DNS publishes its keys",
    severity="medium",
    requires=("exchange.acceptedDomains", "exchange.dkimSigningConfig", "dns.records"),
    ndr=("5.7.509", "5.7.26"),
    remediation="""Publish the two CNAME records selector1._domainkey and selector2._domainkey
    for each domain, pointing at the targets Get-DkimSigningConfig (or the Defender portal,
    Email authentication settings > DKIM) shows, then enable DKIM signing for the domain.
    Without DKIM, a domain with a strict DMARC policy has its own mail rejected whenever SPF
    alignment breaks (forwarding, smart hosts).""",
)
def dkim(ctx: CheckContext) -> Iterator[Result]:
    queries = ctx.source("dns.records")["queries"]
    configs = {str(c["Domain"]).lower(): c for c in ctx.source("exchange.dkimSigningConfig")}
    for domain in _domains(ctx):
        resource = f"domain:{domain}"
        config = configs.get(domain)
        if config is None:
            yield Result(resource, Status.FAIL, "no DKIM signing configuration in Exchange Online")
            continue
        problems = []
        if not config.get("Enabled"):
            problems.append("DKIM signing is disabled in Exchange Online")
        evidence: dict[str, Any] = {"Enabled": bool(config.get("Enabled"))}
        for selector, key in (("selector1", "Selector1CNAME"), ("selector2", "Selector2CNAME")):
            expected = str(config.get(key) or "").lower().rstrip(".")
            found = _cname(queries, f"{selector}._domainkey.{domain}")
            evidence[selector] = {"expected": expected, "found": found}
            if found is None:
                problems.append(f"{selector}._domainkey.{domain} has no CNAME")
            elif expected and found != expected:
                problems.append(f"{selector}._domainkey.{domain} points to {found}, not {expected}")
        if problems:
            yield Result(resource, Status.FAIL, "; ".join(problems), evidence)
        else:
            yield Result(
                resource, Status.PASS, "signing enabled; both selector CNAMEs are right", evidence
            )


@check(
    id="AUTH-003",
    slug="dmarc",
    title="Each sending domain has a DMARC policy at least as strict as the baseline's",
    severity="medium",
    requires=("exchange.acceptedDomains", "dns.records"),
    ndr=("5.7.509",),
    remediation="""Publish one TXT record at _dmarc.<domain> such as
    "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@<domain>", move p to quarantine and
    then reject once the reports show only your own senders passing, keep pct at 100, and
    set sp for subdomains. Without an enforcing DMARC policy anyone can send as the domain,
    and the spam they send is held against it.""",
)
def dmarc(ctx: CheckContext) -> Iterator[Result]:
    queries = ctx.source("dns.records")["queries"]
    settings = ctx.baseline.mail_authentication
    minimum = str(settings.get("dmarcMinimumPolicy") or "quarantine")
    for domain in _domains(ctx):
        resource = f"domain:{domain}"
        org = organisational_domain(domain)
        own = _answer(queries, "TXT", f"_dmarc.{domain}")
        inherited = org != domain
        answer = own
        if own is not None and not dmarc_records(own.get("answers") or ()) and inherited:
            answer = _answer(queries, "TXT", f"_dmarc.{org}")
        else:
            inherited = False
        if answer is None or answer.get("status") == "error":
            yield Result(resource, Status.ERROR, "the DMARC lookup was not answered: cannot judge")
            continue
        records = dmarc_records(answer.get("answers") or ())
        where = f"_dmarc.{org}" if inherited else f"_dmarc.{domain}"
        if not records:
            yield Result(resource, Status.FAIL, f"no DMARC record at {where}", {"record": None})
            continue
        if len(records) > 1:
            yield Result(
                resource,
                Status.FAIL,
                f"{len(records)} DMARC records at {where}",
                {"records": records},
            )
            continue
        tags = dmarc_tags(records[0])
        policy = (tags.get("sp") if inherited and tags.get("sp") else tags.get("p", "")).lower()
        problems = []
        if policy not in _POLICY_RANK:
            problems.append(f"policy {policy or '(missing)'} is not none, quarantine or reject")
        elif _POLICY_RANK[policy] < _POLICY_RANK[minimum]:
            problems.append(f"policy {policy} is weaker than the baseline's {minimum}")
        if tags.get("pct", "100") != "100":
            problems.append(f"pct={tags['pct']}: the policy applies to part of the mail only")
        if settings.get("requireDmarcReports", True) and not tags.get("rua"):
            problems.append("no rua: nobody receives the aggregate reports")
        evidence = {"record": records[0], "at": where, "effectivePolicy": policy}
        if problems:
            yield Result(resource, Status.FAIL, "; ".join(problems), evidence)
        else:
            yield Result(
                resource,
                Status.PASS,
                f"p={policy} at {where}, reports to {tags['rua']}"
                if tags.get("rua")
                else f"p={policy} at {where}",
                evidence,
            )
