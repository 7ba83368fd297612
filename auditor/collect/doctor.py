"""`doctor`: is this app (or identity) ready to audit this tenant? Sign in, then verify what the
selected checks' sources need, each with the cheapest evidence there is:

- Microsoft Graph permissions: the `roles` claim of the app-only Graph token lists the
  application permissions granted and consented (`scp` lists the delegated ones of a user's
  token): no request needed, exact names.
- Exchange Online: the `roles` claim of the Exchange token names Exchange.ManageAsApp; one
  small cmdlet through the admin API then proves the directory role (Global Reader): the
  gateway answers 403 without one.
- Licences: one request to each licence-bound endpoint; a refusal naming a licence is the
  missing licence.
- DNS blocklists: the RFC 5782 test entries of each zone through the resolver the audit will
  use (a public resolver gets Spamhaus' refusal code, and IP-001 could judge nothing).

Nothing here is kept: it reads only what says whether the audit can run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from auditor.collect.auth import AuthError, DeviceCode, ManagedIdentity, TokenSource, token_claims
from auditor.collect.catalogue import EXCHANGE_PERMISSION, describe, with_dependencies
from auditor.collect.collectors.dns_sources import zone_tests
from auditor.collect.deadline import Deadline, DeadlineExceeded
from auditor.collect.dnsquery import DnsClient
from auditor.collect.exchange import ExchangeClient
from auditor.collect.graph import GraphClient
from auditor.collect.http import ApiError, HttpClient
from auditor.collect.live import LiveAccess
from auditor.collect.runner import CollectOptions, api_cause, exchange_anchor, tenant_guid
from auditor.mail.dnsbl import zone_distrust

EXCHANGE_APP_ROLE = "Exchange.ManageAsApp"
EXCHANGE_DELEGATED = "Exchange.Manage"

# The cheapest request that meets each licence-bound source's licence check.
_LICENCE_PROBES: dict[str, tuple[str, dict[str, str]]] = {
    "graph.userRegistrationDetails": (
        "reports/authenticationMethods/userRegistrationDetails",
        {"$filter": "isAdmin eq true"},
    ),
    "graph.conditionalAccessPolicies": ("identity/conditionalAccess/policies", {}),
    # The collector's own request: eligible assignments are few in any tenant.
    "graph.roleEligibilitySchedules": ("roleManagement/directory/roleEligibilitySchedules", {}),
    "graph.securityAlerts": ("security/alerts_v2", {"$top": "1"}),
}
# Sources whose collector takes a licence refusal as the truth (no P2: no eligible
# assignments can exist; no P1: no Conditional Access policy can apply): their checks run.
_LICENCE_IS_AN_ANSWER = {"graph.roleEligibilitySchedules", "graph.conditionalAccessPolicies"}


@dataclass(frozen=True)
class Probe:
    """One thing the audit needs, and whether the tenant has it."""

    what: str
    ok: bool
    detail: str = ""
    fix: str = ""
    sources: tuple[str, ...] = ()
    blocking: bool = True  # False: the checks still run (a note, not a missing grant)


def _graph_fix(permission: str, credential: object) -> str:
    if isinstance(credential, DeviceCode):
        return (
            f"consent to the delegated Microsoft Graph permission {permission} for the app, "
            "and sign in as an admin whose role can read it (Global Reader does)"
        )
    if isinstance(credential, ManagedIdentity):
        return (
            f"assign the Microsoft Graph app role {permission} to the managed identity's "
            "service principal (`m365-audit setup --managed-identity OBJECT_ID` prints the "
            "commands)"
        )
    return (
        "Entra admin center > App registrations > the app > API permissions > Add a "
        f"permission > Microsoft Graph > Application permissions > {permission}, then Grant "
        "admin consent (`m365-audit setup` prints the commands)"
    )


def _granted(claims: dict[str, Any]) -> set[str]:
    roles = claims.get("roles") or []
    scopes = str(claims.get("scp") or "").split()
    return {str(r) for r in roles if isinstance(r, str)} | set(scopes)


class Doctor:
    def __init__(self, access: LiveAccess, options: CollectOptions):
        self.access = access
        self.options = options
        self.deadline = Deadline(options.deadline)
        self.http = HttpClient(access.retry, deadline=self.deadline)
        self.tokens = TokenSource(
            access.cloud,
            access.tenant,
            access.client_id,
            access.credential,
            timeouts=(access.retry.connect_timeout, access.retry.read_timeout),
            deadline=self.deadline,
        )
        self.delegated = isinstance(access.credential, DeviceCode)

    def examine(self, sources: Iterable[str]) -> list[Probe]:
        names = with_dependencies(sources)
        by_service: dict[str, list[str]] = {}
        for name in names:
            by_service.setdefault(describe(name).service, []).append(name)
        probes: list[Probe] = []
        claims: dict[str, Any] = {}
        graph: GraphClient | None = None
        if "graph" in by_service or "exchange" in by_service:
            scope = self.access.cloud.graph_scope
            signed = self._sign_in("Microsoft Graph", scope, by_service.get("graph", []))
            probes.append(signed[0])
            if signed[1] is not None:
                claims = signed[1]
                graph = GraphClient(
                    self.http, lambda: self.tokens.token(scope), self.access.cloud.graph_url
                )
                probes += self._graph(by_service.get("graph", []), claims, graph)
        if "exchange" in by_service:
            probes += self._exchange(by_service["exchange"], claims)
        if "dns.blocklists" in names:
            probes += self._blocklists()
        return probes

    def _sign_in(
        self, service: str, scope: str, sources: list[str]
    ) -> tuple[Probe, dict[str, Any] | None]:
        try:
            token = self.tokens.token(scope)
        except (AuthError, DeadlineExceeded) as exc:
            return Probe(f"sign-in to {service}", False, str(exc), sources=tuple(sources)), None
        return Probe(f"sign-in to {service}", True, self._who()), token_claims(token)

    def _who(self) -> str:
        credential = self.access.credential
        kind = {
            "Certificate": "a certificate",
            "ClientSecret": "a client secret",
            "GitHubFederation": "GitHub's OIDC token (federated)",
            "DeviceCode": "an admin's device code sign-in",
            "ManagedIdentity": "a managed identity",
        }.get(type(credential).__name__, type(credential).__name__)
        return f"with {kind}"

    def _graph(self, sources: list[str], claims: dict[str, Any], graph: GraphClient) -> list[Probe]:
        granted = _granted(claims)
        needed: dict[str, list[str]] = {}
        for name in sources:
            needed.setdefault(describe(name).permission, []).append(name)
        probes = []
        for permission, users in sorted(needed.items()):
            kind = "delegated" if self.delegated else "application"
            ok = permission in granted
            probes.append(
                Probe(
                    f"Microsoft Graph {kind} permission {permission}",
                    ok,
                    "granted" if ok else "not in the token: not granted, or not consented",
                    "" if ok else _graph_fix(permission, self.access.credential),
                    tuple(users),
                )
            )
        for name in sources:
            info = describe(name)
            if name in _LICENCE_PROBES and info.permission in granted:
                probes.append(self._licence(name, graph))
        return probes

    def _licence(self, name: str, graph: GraphClient) -> Probe:
        info = describe(name)
        path, params = _LICENCE_PROBES[name]
        what = f"licence for {info.api.split('?')[0]}: {info.licence}"
        try:
            graph.get(path, params or None, label=f"doctor {name}")
        except DeadlineExceeded as exc:
            return Probe(what, False, str(exc), sources=(name,))
        except ApiError as exc:
            cause = api_cause(name, exc, self.delegated)
            if cause["kind"] == "licence" and name in _LICENCE_IS_AN_ANSWER:
                return Probe(
                    what,
                    False,
                    f"{exc.message}: the checks run, and read this as the tenant having none",
                    cause.get("fix", ""),
                    (name,),
                    blocking=False,
                )
            return Probe(what, False, exc.message, cause.get("fix", ""), (name,))
        return Probe(what, True, "the endpoint answers")

    def _exchange(self, sources: list[str], graph_claims: dict[str, Any]) -> list[Probe]:
        scope = self.access.cloud.exchange_scope
        signed, claims = self._sign_in("Exchange Online", scope, sources)
        if claims is None:
            return [signed]
        probes = [signed]
        wanted = EXCHANGE_DELEGATED if self.delegated else EXCHANGE_APP_ROLE
        has_role = wanted in _granted(claims)
        probes.append(
            Probe(
                f"Office 365 Exchange Online permission {wanted}",
                has_role,
                "granted" if has_role else "not in the token: not granted, or not consented",
                ""
                if has_role
                else "API permissions > Add a permission > APIs my organization uses > Office "
                f"365 Exchange Online > {'Delegated' if self.delegated else 'Application'} "
                f"permissions > {wanted}, then Grant admin consent",
                tuple(sources),
            )
        )
        if not has_role:
            return probes  # the gateway would only refuse the token: the role can't be told
        tenant_id = tenant_guid(self.access.tenant, claims.get("tid"), graph_claims.get("tid"))
        role = EXCHANGE_PERMISSION.split(" + ", 1)[1]  # Entra role Global Reader
        if tenant_id is None:
            probes.append(
                Probe(role, False, "the token carries no tenant id to call the gateway with")
            )
            return probes
        client = ExchangeClient(
            self.http,
            lambda: self.tokens.token(scope),
            self.access.cloud.exchange_url,
            tenant_id,
            exchange_anchor(tenant_id, claims, self.delegated),
        )
        try:
            client.call("Get-AcceptedDomain", label="doctor Get-AcceptedDomain")
        except DeadlineExceeded as exc:
            probes.append(Probe(role, False, str(exc), sources=tuple(sources)))
            return probes
        except ApiError as exc:
            cause = api_cause(sources[0], exc, self.delegated)
            probes.append(
                Probe(
                    f"{role} (Exchange Online answers the admin API)",
                    False,
                    exc.message,
                    cause.get("fix", ""),
                    tuple(sources),
                )
            )
            return probes
        probes.append(Probe(f"{role} (Exchange Online answers the admin API)", True, "answers"))
        return probes

    def _blocklists(self) -> list[Probe]:
        dns = DnsClient(self.options.dns_server, deadline=self.deadline)
        probes = []
        for zone, tests in zone_tests(dns.query, self.options.dnsbl_zones).items():
            reason = zone_distrust(zone, tests)
            probes.append(
                Probe(
                    f"blocklist {zone} through {dns.label}",
                    reason is None,
                    reason or "answers its RFC 5782 test entries truthfully",
                    ""
                    if reason is None
                    else "give --dns-server a resolver the blocklist accepts (your own, not a "
                    "public one), or --dnsbl-zone a Spamhaus DQS zone",
                    ("dns.blocklists",),
                )
            )
        return probes
