"""The admin-owned baseline: what is approved, thresholds, check settings and waivers."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import baselines
from auditor.common import jsonio, kinds
from auditor.common.errors import AuditInputError
from auditor.common.timeutil import format_time
from auditor.judge.model import Severity, Waiver
from auditor.snapshot import freeze

DEFAULT_THRESHOLDS: Mapping[str, int] = MappingProxyType(
    {
        "maxConnectorIpRangeAddresses": 32,
        "newConnectorDays": 14,
        "subscriptionExpiryDays": 30,
    }
)
DEFAULT_MAIL_AUTHENTICATION: Mapping[str, Any] = MappingProxyType(
    {"dmarcMinimumPolicy": "quarantine", "requireDmarcReports": True, "exemptDomains": ()}
)


@dataclass(frozen=True)
class CheckSetting:
    enabled: bool = True
    severity: Severity | None = None


@dataclass(frozen=True)
class BreakGlass:
    user_principal_name: str
    reason: str


@dataclass(frozen=True)
class MailApp:
    app_id: str
    owner: str
    reason: str
    name: str = ""


@dataclass(frozen=True)
class Baseline:
    label: str
    sha256: str
    accepted_domains: tuple[Mapping[str, Any], ...]
    inbound_connectors: tuple[Mapping[str, Any], ...]
    outbound_connectors: tuple[Mapping[str, Any], ...]
    break_glass: tuple[BreakGlass, ...]
    thresholds: Mapping[str, int]
    mail_authentication: Mapping[str, Any]
    forwarding: Mapping[str, Any]
    check_settings: Mapping[str, CheckSetting]
    waivers: tuple[Waiver, ...]
    document: Mapping[str, Any] = field(default_factory=dict)  # as written, for reports
    mail_apps: tuple[MailApp, ...] = ()

    def mail_app(self, app_id: str) -> MailApp | None:
        wanted = app_id.lower()
        return next((a for a in self.mail_apps if a.app_id.lower() == wanted), None)

    def setting(self, check_id: str) -> CheckSetting:
        return self.check_settings.get(check_id, CheckSetting())

    def break_glass_for(self, user_principal_name: str) -> BreakGlass | None:
        wanted = user_principal_name.lower()
        return next((b for b in self.break_glass if b.user_principal_name.lower() == wanted), None)

    def require_known_checks(self, known: Collection[str]) -> None:
        """A setting or waiver for a check that does not exist is almost always a typo that
        would silently waive nothing: refuse it."""
        problems = [
            (self.label, f"$.checks['{cid}']", f"unknown check id {cid!r}")
            for cid in self.check_settings
            if cid not in known
        ]
        problems += [
            (self.label, f"{w.json_path}.check", f"unknown check id {w.check!r}")
            for w in self.waivers
            if w.check not in known
        ]
        if problems:
            raise AuditInputError(problems)


@cache
def _validator():
    return jsonio.load_schema(baselines.SCHEMA)


def parse(raw: bytes, label: str) -> Baseline:
    document = jsonio.parse_json(raw, label, unique_keys=True)
    kinds.require(document, label, "baseline")
    jsonio.validate(_validator(), document, label)
    settings = {
        cid: CheckSetting(
            enabled=value.get("enabled", True),
            severity=Severity(value["severity"]) if "severity" in value else None,
        )
        for cid, value in document.get("checks", {}).items()
    }
    waivers = tuple(
        Waiver(
            check=w["check"],
            resource=w["resource"],
            reason=w["reason"].strip(),
            expires=w["expires"],
            json_path=f"$.waivers[{i}]",
        )
        for i, w in enumerate(document.get("waivers", []))
    )
    _refuse_duplicates(label, document)
    return Baseline(
        label=label,
        sha256=jsonio.sha256(raw),
        accepted_domains=freeze(document.get("acceptedDomains", [])),
        inbound_connectors=freeze(document.get("inboundConnectors", [])),
        outbound_connectors=freeze(document.get("outboundConnectors", [])),
        break_glass=tuple(
            BreakGlass(b["userPrincipalName"], b["reason"].strip())
            for b in document.get("breakGlassAccounts", [])
        ),
        thresholds=MappingProxyType({**DEFAULT_THRESHOLDS, **document.get("thresholds", {})}),
        mail_authentication=freeze(
            {**DEFAULT_MAIL_AUTHENTICATION, **document.get("mailAuthentication", {})}
        ),
        forwarding=freeze(
            {"allowedDomains": [], "allowedAddresses": [], **document.get("forwarding", {})}
        ),
        check_settings=MappingProxyType(settings),
        waivers=waivers,
        document=freeze(document),
        mail_apps=tuple(
            MailApp(a["appId"], a["owner"].strip(), a["reason"].strip(), a.get("name", ""))
            for a in document.get("mailApps", [])
        ),
    )


def _refuse_duplicates(label: str, document: Mapping[str, Any]) -> None:
    """Two entries for one connector or domain make 'which one is approved' ambiguous."""
    keyed = (
        ("acceptedDomains", "name"),
        ("inboundConnectors", "Name"),
        ("outboundConnectors", "Name"),
        ("breakGlassAccounts", "userPrincipalName"),
        ("mailApps", "appId"),
    )
    problems = []
    for section, key in keyed:
        seen: dict[str, int] = {}
        for i, entry in enumerate(document.get(section, [])):
            name = entry[key].lower()
            if name in seen:
                problems.append(
                    (label, f"$.{section}[{i}].{key}", f"duplicate of $.{section}[{seen[name]}]")
                )
            seen.setdefault(name, i)
    waiver_keys: dict[tuple[str, str], int] = {}
    for i, w in enumerate(document.get("waivers", [])):
        key2 = (w["check"], w["resource"])
        if key2 in waiver_keys:
            problems.append(
                (label, f"$.waivers[{i}]", f"duplicate of $.waivers[{waiver_keys[key2]}]")
            )
        waiver_keys.setdefault(key2, i)
    if problems:
        raise AuditInputError(problems)


def load(path: Path) -> Baseline:
    return parse(jsonio.read_bytes(path), str(path))


# The connector properties a baseline approves: what CONN-001 compares and `baseline init`
# writes.
INBOUND_CONNECTOR_PROPERTIES = (
    "Enabled",
    "ConnectorType",
    "SenderIPAddresses",
    "SenderDomains",
    "RequireTls",
    "TlsSenderCertificateName",
    "RestrictDomainsToIPAddresses",
    "RestrictDomainsToCertificate",
    "TreatMessagesAsInternal",
    "CloudServicesMailEnabled",
)
OUTBOUND_CONNECTOR_PROPERTIES = (
    "Enabled",
    "ConnectorType",
    "UseMXRecord",
    "SmartHosts",
    "RecipientDomains",
    "TlsSettings",
    "TlsDomain",
)
_BOOLEANS = {
    "Enabled",
    "RequireTls",
    "RestrictDomainsToIPAddresses",
    "RestrictDomainsToCertificate",
    "TreatMessagesAsInternal",
    "CloudServicesMailEnabled",
    "UseMXRecord",
}
_LISTS = {"SenderIPAddresses", "SenderDomains", "SmartHosts", "RecipientDomains"}
_NULLABLE = {"TlsSenderCertificateName", "TlsSettings", "TlsDomain"}


def _approve(record: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    entry: dict[str, Any] = {"Name": record["Name"]}
    for key in keys:
        value = record.get(key)
        if key in _BOOLEANS:
            entry[key] = bool(value)
        elif key in _LISTS:
            entry[key] = sorted(value or ())
        elif value is not None or key in _NULLABLE:
            entry[key] = value
    return entry


def approve_snapshot(
    snapshot: Any, template: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """A baseline that approves what the snapshot shows, with the template's thresholds and
    settings; and the sources that could not be approved because they were not collected."""
    document: dict[str, Any] = {
        "$schema": "https://github.com/m365-mail-auditor/m365-mail-auditor/baselines/schema.json",
        "baselineVersion": 1,
        "description": (
            f"Approved state of tenant {snapshot.tenant.display_name or snapshot.tenant.id}, "
            f"from the snapshot collected {format_time(snapshot.collected_at)}. Review it: "
            "everything here is what the tenant had then, good or bad."
        ),
        "thresholds": dict(template.get("thresholds", {})),
        "mailAuthentication": dict(template.get("mailAuthentication", {})),
        "forwarding": dict(template.get("forwarding", {})),
        "checks": dict(template.get("checks", {})),
        "breakGlassAccounts": [],
        "waivers": [],
    }
    missing = []

    def data(name: str) -> Any:
        record = snapshot.sources.get(name)
        if record is None or not record.ok:
            missing.append(name)
            return None
        return record.data

    domains = data("exchange.acceptedDomains")
    if domains is not None:
        document["acceptedDomains"] = [
            {"name": str(d["DomainName"]).lower(), "domainType": d["DomainType"]}
            if d.get("DomainType")
            else {"name": str(d["DomainName"]).lower()}
            for d in sorted(domains, key=lambda d: str(d["DomainName"]).lower())
        ]
    for source, section, keys in (
        ("exchange.inboundConnectors", "inboundConnectors", INBOUND_CONNECTOR_PROPERTIES),
        ("exchange.outboundConnectors", "outboundConnectors", OUTBOUND_CONNECTOR_PROPERTIES),
    ):
        connectors = data(source)
        if connectors is not None:
            document[section] = [
                _approve(c, keys) for c in sorted(connectors, key=lambda c: str(c["Name"]).lower())
            ]
    return document, missing


@dataclass(frozen=True)
class RiskCheck:
    """A check whose failure for an item makes approving it a decision, not a default."""

    check: str
    prefix: str  # the resource kind the check names the item by
    required: bool  # when it cannot judge the item, the item's risk is unknown


# `baseline init` approves what a snapshot shows, but not what these checks fail: a new or
# recently changed inbound connector, an over-wide range or `*` sender domains (CONN-002,
# DOM-001), an outbound connector that does not verify TLS (CONN-003), an unverified domain
# (DOM-002). Init names no break-glass account, so none without MFA is ever approved.
RISK_CHECKS: Mapping[str, tuple[RiskCheck, ...]] = MappingProxyType(
    {
        "inboundConnectors": (
            RiskCheck("CONN-002", "connector:", True),
            RiskCheck("DOM-001", "connector:", False),
        ),
        "outboundConnectors": (RiskCheck("CONN-003", "connector:", True),),
        "acceptedDomains": (RiskCheck("DOM-002", "domain:", True),),
    }
)
SECTION_KEYS: Mapping[str, str] = MappingProxyType(
    {"inboundConnectors": "Name", "outboundConnectors": "Name", "acceptedDomains": "name"}
)
