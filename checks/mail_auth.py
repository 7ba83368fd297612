"""SPF, DKIM and DMARC for every accepted domain that sends mail, judged from the DNS answers
in the snapshot (no lookups here) by the rules of RFC 7208 and RFC 7489 in full. A DNS answer
that failed or is missing is never a verdict: the result is `error`, naming the lookup.
docs/check-rules.md lists each rule with the section it comes from."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from auditor.judge import CheckContext, Result, Status, check
from auditor.mail.dmarc import dmarc_records, looks_like_dmarc, organisational_domain
from auditor.mail.dmarc import parse as parse_dmarc
from auditor.mail.domains import sending_domains
from auditor.mail.spf import LOOKUP_TERMS, SpfRecord, spf_records
from auditor.mail.spf import parse as parse_spf

EXCHANGE_SPF = "spf.protection.outlook.com"
_POLICY_RANK = {"none": 0, "quarantine": 1, "reject": 2}


def _judged(ctx: CheckContext, domains: list[str]) -> list[str]:
    exempt = {d.lower() for d in ctx.baseline.mail_authentication.get("exemptDomains") or ()}
    disabled = {
        str(d["DomainName"]).lower()
        for d in ctx.source("exchange.acceptedDomains")
        if d.get("SendingFromDomainDisabled")
    }
    return [d for d in domains if d not in exempt and d not in disabled]


def _domains(ctx: CheckContext) -> list[str]:
    """Accepted domains whose DNS the tenant runs and that may send mail."""
    return _judged(ctx, sending_domains(ctx.source("exchange.acceptedDomains")))


def _microsoft_domains(ctx: CheckContext) -> list[str]:
    """The initial and any other .onmicrosoft.com domain: Microsoft runs their DNS, but
    whether Exchange Online signs their mail is the tenant's setting."""
    names = sorted(str(d["DomainName"]).lower() for d in ctx.source("exchange.acceptedDomains"))
    return _judged(ctx, [n for n in names if n.endswith(".onmicrosoft.com")])


def _apex_unseen(queries: Mapping[str, Any], domain: str) -> str | None:
    """A verified domain the resolver says does not exist: its answers cannot be trusted."""
    for rdtype in ("TXT", "MX"):
        answer = _answer(queries, rdtype, domain) or {}
        if answer.get("status") == "nxdomain":
            return (
                f"the resolver answers that {domain} does not exist (NXDOMAIN for {rdtype}), "
                "though it is an accepted domain of the tenant: its DNS answers cannot be "
                "trusted; use "
                "--dns-server with a resolver that sees public DNS"
            )
    return None


def _failed(answer: Mapping[str, Any] | None, rdtype: str, name: str) -> str | None:
    """Why an answer cannot be used: missing from the snapshot, or a DNS error."""
    if answer is None:
        return f"{rdtype} {name} is not in the snapshot"
    if answer.get("status") == "error":
        return f"the {rdtype} lookup of {name} failed ({answer.get('error') or 'DNS error'})"
    return None


def _void(answer: Mapping[str, Any]) -> bool:
    return answer.get("status") in ("nxdomain", "nodata") or not answer.get("answers")


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
    """What a receiver's check_host() meets evaluating the domain's record, counted over every
    term it can reach (terms after a record's first `all` are never evaluated)."""

    lookups: int = 0
    void4: list[str] = field(default_factory=list)  # void lookups seen by an IPv4 sender
    void6: list[str] = field(default_factory=list)  # and by an IPv6 sender
    names: list[str] = field(default_factory=list)  # records evaluated
    permerrors: list[str] = field(default_factory=list)  # the record is broken
    unknown: list[str] = field(default_factory=list)  # cannot be judged from the snapshot
    policy: str | None = None  # the effective record's first all (`-all`), after redirects
    none: bool = False  # the domain publishes no SPF record at all
    exchange: bool = False  # spf.protection.outlook.com is reached by `+` includes
    deprecated: list[str] = field(default_factory=list)  # ptr (5.5)


def evaluate_spf(queries: Mapping[str, Any], domain: str) -> SpfEvaluation:
    result = SpfEvaluation()

    def record_of(name: str, how: str) -> SpfRecord | None:
        answer = _answer(queries, "TXT", name)
        problem = _failed(answer, "TXT", name)
        if problem:
            result.unknown.append(problem)
            return None
        assert answer is not None
        records = spf_records(answer.get("answers") or ())
        if not records:
            if how == "the domain":
                result.none = True
            else:
                if _void(answer):
                    result.void4.append(f"TXT {name}")
                    result.void6.append(f"TXT {name}")
                result.permerrors.append(
                    f"{how} {name} publishes no SPF record (permerror: 5.2, 6.1)"
                )
            return None
        if len(records) > 1:
            result.permerrors.append(
                f"{name} has {len(records)} v=spf1 records; exactly one is allowed (4.5)"
            )
            return None
        parsed = parse_spf(records[0])
        where = "" if how == "the domain" else f"{how} {name}: "
        result.permerrors += [f"{where}{e}" for e in parsed.errors]
        return parsed

    def visit(name: str, how: str, depth: int, authorises: bool) -> str | None:
        """Evaluate the record at `name`; return its effective `all` (via redirects)."""
        if depth > 10:
            result.permerrors.append(f"{name}: includes and redirects nest deeper than 10")
            return None
        parsed = record_of(name, how)
        if parsed is None:
            return None
        result.names.append(name)
        for term in parsed.evaluated:
            if term.name in LOOKUP_TERMS:
                result.lookups += 1
            target = (term.target or name).lower().rstrip(".")
            if term.has_macro and term.name in ("include", "a", "mx", "exists"):
                if term.name == "include":
                    result.unknown.append(
                        f"`{term.text}` depends on the sender: the lookups behind it cannot "
                        "be counted"
                    )
                continue
            if term.name == "include":
                plus = authorises and term.qualifier == "+"
                if target == EXCHANGE_SPF and plus:
                    result.exchange = True
                visit(target, f"`{term.text}` leads to", depth + 1, plus)
            elif term.name == "a":
                for rdtype, voids in (("A", result.void4), ("AAAA", result.void6)):
                    answer = _answer(queries, rdtype, target)
                    problem = _failed(answer, rdtype, target)
                    if problem:
                        result.unknown.append(problem)
                    elif _void(answer or {}):
                        voids.append(f"{rdtype} {target} (`{term.text}`)")
            elif term.name == "mx":
                answer = _answer(queries, "MX", target)
                problem = _failed(answer, "MX", target)
                if problem:
                    result.unknown.append(problem)
                    continue
                assert answer is not None
                if _void(answer):
                    result.void4.append(f"MX {target} (`{term.text}`)")
                    result.void6.append(f"MX {target} (`{term.text}`)")
                hosts = len(answer.get("answers") or ())
                if hosts > 10:
                    result.permerrors.append(
                        f"`{term.text}`: {target} has {hosts} MX hosts, over the 10 a receiver "
                        "may look up (4.6.4)"
                    )
            elif term.name == "exists":
                answer = _answer(queries, "A", target)
                problem = _failed(answer, "A", target)
                if problem:
                    result.unknown.append(problem)
                elif _void(answer or {}):
                    result.void4.append(f"A {target} (`{term.text}`)")
                    result.void6.append(f"A {target} (`{term.text}`)")
            elif term.name == "ptr":
                result.deprecated.append(term.text)
        first_all = parsed.first_all
        if first_all is not None:
            return first_all.qualifier + "all"
        redirect = parsed.redirect
        if redirect is None:
            return None
        result.lookups += 1
        if redirect.has_macro:
            result.unknown.append(f"`{redirect.text}` depends on the sender: cannot be followed")
            return None
        target = str(redirect.target).lower().rstrip(".")
        if target == EXCHANGE_SPF and authorises:
            result.exchange = True
        return visit(target, f"`{redirect.text}` leads to", depth + 1, authorises)

    result.policy = visit(domain, "the domain", 0, True)
    return result


_ALL_MEANING = {
    "+all": "+all passes every sender in the world",
    "?all": "?all says nothing about senders it does not list (neutral)",
}


@check(
    id="AUTH-001",
    slug="spf",
    title="Each sending domain publishes one valid SPF record that covers Exchange Online",
    severity="high",
    requires=("exchange.acceptedDomains", "exchange.outboundConnectors", "dns.records"),
    ndr=("5.7.23", "5.7.509"),
    remediation="""Publish exactly one TXT record starting v=spf1 at each sending domain, valid
    as RFC 7208 writes it (the reason names the term to fix); include
    spf.protection.outlook.com when mail leaves through Exchange Online (or the smart host's
    own include when it leaves through one); end it with -all or ~all, and put nothing but
    modifiers after that; keep it under 10 DNS-querying terms in all (include, a, mx, ptr,
    exists, redirect, counted through every include) and under 3 lookups that find nothing:
    flatten or drop includes of services that no longer send for you.""",
)
def spf(ctx: CheckContext) -> Iterator[Result]:
    queries = ctx.source("dns.records")["queries"]
    route = _smart_host_route(ctx)
    for domain in _domains(ctx):
        resource = f"domain:{domain}"
        unseen = _apex_unseen(queries, domain)
        if unseen:
            yield Result(resource, Status.ERROR, unseen)
            continue
        evaluation = evaluate_spf(queries, domain)
        evidence = {
            "lookups": evaluation.lookups,
            "voidLookups": {"ipv4": evaluation.void4, "ipv6": evaluation.void6},
            "recordsEvaluated": evaluation.names,
            "all": evaluation.policy,
            "smartHostRoute": route,
            "mxGateway": _mx_gateway(queries, domain),
        }
        if evaluation.deprecated:
            evidence["ptrTerms"] = evaluation.deprecated
        broken = list(evaluation.permerrors)
        if evaluation.lookups > 10:
            broken.append(f"{evaluation.lookups} DNS-querying terms, over the limit of 10 (4.6.4)")
        for family, voids in (("IPv4", evaluation.void4), ("IPv6", evaluation.void6)):
            if len(voids) > 2:
                broken.append(
                    f"{len(voids)} lookups that find nothing for an {family} sender, over the "
                    f"limit of 2 (4.6.4): {', '.join(voids)}"
                )
                break
        if broken:
            yield Result(
                resource,
                Status.FAIL,
                "permerror, which receivers and DMARC count as a failed SPF check: "
                + "; ".join(dict.fromkeys(broken)),
                evidence,
            )
            continue
        if evaluation.unknown:
            yield Result(
                resource,
                Status.ERROR,
                "cannot evaluate SPF in full: " + "; ".join(dict.fromkeys(evaluation.unknown)),
                evidence,
            )
            continue
        problems = []
        if evaluation.none:
            problems.append("no v=spf1 record")
        elif evaluation.policy not in ("-all", "~all"):
            meaning = _ALL_MEANING.get(
                str(evaluation.policy), "senders it does not list are neutral"
            )
            problems.append(
                f"the first all is {evaluation.policy or 'missing'}, not -all or ~all: {meaning}"
            )
        if not evaluation.none and route is None and not evaluation.exchange:
            problems.append(
                f"does not authorise {EXCHANGE_SPF} (an include with the + qualifier, before "
                "the first all), yet mail leaves through Exchange Online"
            )
        if problems:
            yield Result(resource, Status.FAIL, "; ".join(problems), evidence)
        else:
            via = f"mail leaves via {route}" if route else f"includes {EXCHANGE_SPF}"
            yield Result(
                resource,
                Status.PASS,
                f"one valid SPF record, {evaluation.lookups} lookups, {evaluation.policy}, {via}",
                evidence,
            )


@check(
    id="AUTH-002",
    slug="dkim",
    title="Exchange Online signs each sending domain with DKIM, and DNS publishes its keys",
    severity="medium",
    requires=("exchange.acceptedDomains", "exchange.dkimSigningConfig", "dns.records"),
    ndr=("5.7.509", "5.7.26"),
    remediation="""Publish the two CNAME records selector1._domainkey and selector2._domainkey
    for each domain, pointing at the targets Get-DkimSigningConfig (or the Defender portal,
    Email authentication settings > DKIM) shows, then enable DKIM signing for the domain
    (the .onmicrosoft.com domains need only signing enabled: Microsoft publishes their keys).
    Without DKIM, a domain with a strict DMARC policy has its own mail rejected whenever SPF
    alignment breaks (forwarding, smart hosts).""",
)
def dkim(ctx: CheckContext) -> Iterator[Result]:
    queries = ctx.source("dns.records")["queries"]
    configs = {str(c["Domain"]).lower(): c for c in ctx.source("exchange.dkimSigningConfig")}
    for domain in _microsoft_domains(ctx):
        resource = f"domain:{domain}"
        config = configs.get(domain)
        if config is None:
            yield Result(resource, Status.FAIL, "no DKIM signing configuration in Exchange Online")
        elif not config.get("Enabled"):
            yield Result(
                resource,
                Status.FAIL,
                "DKIM signing is disabled in Exchange Online for this Microsoft-run domain",
                {"Enabled": False},
            )
        else:
            yield Result(
                resource,
                Status.PASS,
                "signing enabled (Microsoft publishes the keys of .onmicrosoft.com domains)",
                {"Enabled": True},
            )
    for domain in _domains(ctx):
        resource = f"domain:{domain}"
        unseen = _apex_unseen(queries, domain)
        if unseen:
            yield Result(resource, Status.ERROR, unseen)
            continue
        config = configs.get(domain)
        if config is None:
            yield Result(resource, Status.FAIL, "no DKIM signing configuration in Exchange Online")
            continue
        problems, unknown = [], []
        if not config.get("Enabled"):
            problems.append("DKIM signing is disabled in Exchange Online")
        evidence: dict[str, Any] = {"Enabled": bool(config.get("Enabled"))}
        for selector, key in (("selector1", "Selector1CNAME"), ("selector2", "Selector2CNAME")):
            name = f"{selector}._domainkey.{domain}"
            expected = str(config.get(key) or "").lower().rstrip(".")
            answer = _answer(queries, "CNAME", name)
            failed = _failed(answer, "CNAME", name)
            if failed:
                unknown.append(failed)
                evidence[selector] = {"expected": expected, "found": None, "lookup": failed}
                continue
            assert answer is not None
            answers = answer.get("answers") or ()
            found = str(answers[0]).lower().rstrip(".") if answers else None
            evidence[selector] = {"expected": expected, "found": found}
            if found is None:
                problems.append(f"{name} has no CNAME")
            elif expected and found != expected:
                problems.append(f"{name} points to {found}, not {expected}")
        if problems:
            yield Result(resource, Status.FAIL, "; ".join(problems), evidence)
        elif unknown:
            yield Result(resource, Status.ERROR, "; ".join(unknown), evidence)
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
    "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@<domain>" (v=DMARC1 first and exactly
    so, p right after it, rua as mailto: addresses), move p to quarantine and then reject
    once the reports show only your own senders passing, keep pct at 100, and set sp for
    subdomains. Without an enforcing DMARC policy anyone can send as the domain, and the spam
    they send is held against it.""",
)
def dmarc(ctx: CheckContext) -> Iterator[Result]:
    queries = ctx.source("dns.records")["queries"]
    settings = ctx.baseline.mail_authentication
    minimum = str(settings.get("dmarcMinimumPolicy") or "quarantine")
    for domain in _domains(ctx):
        resource = f"domain:{domain}"
        unseen = _apex_unseen(queries, domain)
        if unseen:
            yield Result(resource, Status.ERROR, unseen)
            continue
        found = _dmarc_record(queries, domain)
        if isinstance(found, Result):
            yield replace(found, resource=resource)
            continue
        record, where, inherited, notes = found
        parsed = parse_dmarc(record)
        policy = parsed.effective_policy(for_subdomain=inherited)
        problems = list(parsed.problems)
        if _POLICY_RANK[policy] < _POLICY_RANK[minimum]:
            problems.append(
                f"the policy in force is {policy}, weaker than the baseline's {minimum}"
            )
        if parsed.pct < 100 and policy != "none":
            problems.append(
                f"pct={parsed.pct}: {policy} applies to {parsed.pct}% of failing mail only"
            )
        if settings.get("requireDmarcReports", True) and not parsed.reports:
            problems.append("no valid rua (mailto:) address: nobody receives the aggregate reports")
        evidence = {"record": record, "at": where, "effectivePolicy": policy, **notes}
        if problems:
            yield Result(resource, Status.FAIL, "; ".join(problems), evidence)
        else:
            reports = f", reports to {', '.join(parsed.reports)}" if parsed.reports else ""
            yield Result(resource, Status.PASS, f"p={policy} at {where}{reports}", evidence)


def _dmarc_record(
    queries: Mapping[str, Any], domain: str
) -> tuple[str, str, bool, dict[str, Any]] | Result:
    """The record that governs `domain` (6.6.3): its own, else (only after a clean answer
    with none) its organisational domain's, where `sp` applies."""
    notes: dict[str, Any] = {}
    org = organisational_domain(domain)
    for name, inherited in ((f"_dmarc.{domain}", False), (f"_dmarc.{org}", True)):
        if inherited and org == domain:
            break
        answer = _answer(queries, "TXT", name)
        failed = _failed(answer, "TXT", name)
        if failed:
            return Result("", Status.ERROR, f"{failed}: cannot tell which DMARC policy applies")
        assert answer is not None
        texts = list(answer.get("answers") or ())
        records = dmarc_records(texts)
        malformed = [t for t in texts if looks_like_dmarc(t) and t not in records]
        if malformed:
            notes.setdefault("ignored", []).extend(malformed)
        if len(records) > 1:
            return Result(
                "",
                Status.FAIL,
                f"{len(records)} DMARC records at {name}: receivers then apply none (6.6.3)",
                {"records": records},
            )
        if records:
            return records[0], name, inherited, notes
    where = f"_dmarc.{domain}" + (f" or _dmarc.{org}" if org != domain else "")
    message = f"no DMARC record at {where}"
    if notes.get("ignored"):
        message += (
            f" (ignored: {'; '.join(notes['ignored'])}: the version must read exactly "
            "v=DMARC1 and come first, 6.3)"
        )
    return Result("", Status.FAIL, message, {"record": None, **notes})
