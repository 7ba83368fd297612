"""Inbound connectors: the doors through which spam is relayed in the tenant's name."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from auditor.common.timeutil import parse_time
from auditor.judge import (
    INBOUND_CONNECTOR_PROPERTIES,
    OUTBOUND_CONNECTOR_PROPERTIES,
    CheckContext,
    Result,
    Severity,
    Status,
    check,
)
from checks._mail import (
    connector_entries,
    is_wildcard,
    normalise_ip_entry,
    plural,
    sender_domain_entry,
    sender_domains,
)


def _flag(value: Any) -> bool:
    return bool(value)


def _text(value: Any) -> str:
    return (value or "").strip().lower()


def _ip_set(value: Any) -> list[str]:
    return sorted({normalise_ip_entry(v) for v in value or ()})


def _domain_set(value: Any) -> list[str]:
    return sorted({sender_domain_entry(v) for v in value or ()})


# How a baseline value and a tenant value are made comparable: Exchange reports unset flags
# as null and lists in no fixed order.
_NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "Enabled": _flag,
    "ConnectorType": lambda v: v,
    "SenderIPAddresses": _ip_set,
    "SenderDomains": _domain_set,
    "RequireTls": _flag,
    "TlsSenderCertificateName": _text,
    "RestrictDomainsToIPAddresses": _flag,
    "RestrictDomainsToCertificate": _flag,
    "TreatMessagesAsInternal": _flag,
    "CloudServicesMailEnabled": _flag,
}
_COMPARED = {prop: _NORMALISERS[prop] for prop in INBOUND_CONNECTOR_PROPERTIES}


def _drift(
    expected: Mapping[str, Any],
    found: Mapping[str, Any],
    compared: Mapping[str, Callable[[Any], Any]] = _COMPARED,
) -> dict[str, dict[str, Any]]:
    drift = {}
    for prop, normalise in compared.items():
        if prop not in expected:
            continue
        want, have = normalise(expected[prop]), normalise(found.get(prop))
        if want != have:
            drift[prop] = {"expected": expected[prop], "found": found.get(prop)}
    return drift


def _paired(
    tenant: Iterable[Mapping[str, Any]], approved: Iterable[Mapping[str, Any]]
) -> Iterator[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]]:
    """(tenant connector or None, baseline entry or None) by name, case-insensitively."""
    found = {str(c["Name"]).lower(): c for c in tenant}
    expected = {str(c["Name"]).lower(): c for c in approved}
    for key in sorted(set(found) | set(expected)):
        yield found.get(key), expected.get(key)


def _missing(expected: Mapping[str, Any]) -> Result:
    return Result(
        f"connector:{expected['Name']}",
        Status.FAIL,
        "approved in the baseline but not in the tenant",
        {"baseline": dict(expected)},
    )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


@check(
    id="CONN-001",
    slug="inbound-connector-drift",
    title="Inbound connectors match the baseline",
    severity="high",
    requires=("exchange.inboundConnectors",),
    ndr=("5.7.705", "5.7.750"),
    remediation="""An inbound connector nobody approved is how a compromised admin account
    turns the tenant into a spam relay: find who created it (Purview audit log, operation
    New-InboundConnector), disable it at once if nobody owns it, then reset that admin's
    credentials. For a connector that changed, compare the change with its owner's change
    record and restore the approved settings, or update the baseline if the change was
    intended. Restore or remove from the baseline a connector that is missing.""",
)
def inbound_connector_drift(ctx: CheckContext) -> Iterator[Result]:
    pairs = _paired(ctx.source("exchange.inboundConnectors"), ctx.baseline.inbound_connectors)
    for found, expected in pairs:
        if found is None:
            yield _missing(expected)
            continue
        name = str(found["Name"])
        if expected is None:
            risky = found.get("Enabled") and found.get("ConnectorType") == "OnPremises"
            state = "enabled" if found.get("Enabled") else "disabled"
            addresses = ", ".join(found.get("SenderIPAddresses") or ()) or "any address"
            yield Result(
                f"connector:{name}",
                Status.FAIL,
                f"not in the baseline: {state} {found.get('ConnectorType')} connector accepting "
                f"from {addresses}, created {found.get('WhenCreatedUTC') or 'at an unknown time'}",
                {
                    prop: found.get(prop)
                    for prop in (*_COMPARED, "WhenCreatedUTC", "WhenChangedUTC")
                },
                severity=Severity.CRITICAL if risky else None,
            )
            continue
        drift = _drift(expected, found)
        if drift:
            yield Result(
                f"connector:{name}",
                Status.FAIL,
                "; ".join(
                    f"{prop}: expected {_show(d['expected'])}, found {_show(d['found'])}"
                    for prop, d in drift.items()
                ),
                {"drift": drift, "WhenChangedUTC": found.get("WhenChangedUTC")},
            )
        else:
            compared = [p for p in _COMPARED if p in expected]
            yield Result(
                f"connector:{name}",
                Status.PASS,
                f"matches the baseline ({plural(len(compared), 'property')} compared)",
                {"compared": compared},
            )


def _age_days(value: Any, now: datetime) -> float | None:
    if not value:
        return None
    return (now - parse_time(str(value))).total_seconds() / 86400


@check(
    id="CONN-002",
    slug="risky-inbound-connector",
    title="Inbound connectors accept mail only from narrow, identified senders",
    severity="high",
    requires=("exchange.inboundConnectors",),
    ndr=("5.7.705", "5.7.750", "5.7.606"),
    remediation="""Narrow each connector to the exact public addresses of the servers that
    use it (a /32 per server), or identify them by TLS certificate (TlsSenderCertificateName
    with RestrictDomainsToCertificate). Set RestrictDomainsToIPAddresses when SenderDomains
    is *. Do not treat mail from a broadly open connector as internal. Confirm every new or
    recently changed connector with the admin who made the change: attackers who take over an
    admin account add exactly such connectors to relay spam, and Microsoft then blocks the
    whole tenant from sending (550 5.7.705).""",
)
def risky_inbound_connectors(ctx: CheckContext) -> Iterator[Result]:
    largest = ctx.thresholds["maxConnectorIpRangeAddresses"]
    new_days = ctx.thresholds["newConnectorDays"]

    for connector in sorted(ctx.source("exchange.inboundConnectors"), key=lambda c: c["Name"]):
        name = str(connector["Name"])
        entries, unparsed = connector_entries(connector)
        domains = sender_domains(connector)
        certificate = _text(connector.get("TlsSenderCertificateName"))
        risks: list[str] = []

        wide = [e for e in entries if e.size > largest]
        for entry in wide:
            risks.append(
                f"SenderIPAddresses {entry.text} covers {entry.size:,} addresses "
                f"(the baseline allows {largest:,})"
            )
        unidentified = (
            connector.get("ConnectorType") == "OnPremises" and not entries and not certificate
        )
        if unidentified:
            risks.append(
                "on-premises connector restricted neither by IP address nor by certificate"
            )
        if any(is_wildcard(d) for d in domains) and not connector.get(
            "RestrictDomainsToIPAddresses"
        ):
            risks.append("SenderDomains * without RestrictDomainsToIPAddresses")
        if connector.get("TreatMessagesAsInternal") and (wide or unidentified):
            risks.append("TreatMessagesAsInternal on a connector open to many senders")
        created = _age_days(connector.get("WhenCreatedUTC"), ctx.now)
        changed = _age_days(connector.get("WhenChangedUTC"), ctx.now)
        if created is not None and created <= new_days:
            risks.append(f"created {max(created, 0):.0f} days before collection")
        elif changed is not None and changed <= new_days:
            risks.append(f"changed {max(changed, 0):.0f} days before collection")

        evidence = {
            "Enabled": bool(connector.get("Enabled")),
            "ConnectorType": connector.get("ConnectorType"),
            "SenderIPAddresses": list(connector.get("SenderIPAddresses") or ()),
            "addressesCovered": sum(e.size for e in entries),
            "SenderDomains": domains,
            "TlsSenderCertificateName": connector.get("TlsSenderCertificateName"),
            "WhenCreatedUTC": connector.get("WhenCreatedUTC"),
            "WhenChangedUTC": connector.get("WhenChangedUTC"),
        }
        if unparsed:
            yield Result(
                f"connector:{name}",
                Status.ERROR,
                f"SenderIPAddresses has entries that are not addresses: {', '.join(unparsed)}",
                evidence,
            )
        elif risks:
            yield Result(f"connector:{name}", Status.FAIL, "; ".join(risks), evidence)
        else:
            how = []
            if entries:
                how.append(f"{plural(sum(e.size for e in entries), 'address')} by IP")
            if certificate:
                how.append(f"certificate {connector.get('TlsSenderCertificateName')}")
            restricted = " and ".join(how) or "partner domains " + ", ".join(domains)
            yield Result(
                f"connector:{name}",
                Status.PASS,
                f"restricted to {restricted}; not created or changed in the last {new_days} days",
                evidence,
            )


_TLS_ORDER = (None, "EncryptionOnly", "CertificateValidation", "DomainValidation")


def _host_set(value: Any) -> list[str]:
    return sorted({str(v).strip().lower().rstrip(".") for v in value or ()})


_OUTBOUND_NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "Enabled": _flag,
    "ConnectorType": lambda v: v,
    "UseMXRecord": _flag,
    "SmartHosts": _host_set,
    "RecipientDomains": _host_set,
    "TlsSettings": lambda v: v or None,
    "TlsDomain": _text,
}
# Smart hosts are judged on their own (a new one is named), not as plain drift.
_OUTBOUND_COMPARED = {
    p: _OUTBOUND_NORMALISERS[p] for p in OUTBOUND_CONNECTOR_PROPERTIES if p != "SmartHosts"
}


@check(
    id="CONN-003",
    slug="outbound-connector-drift",
    title="Outbound connectors match the baseline and verify TLS certificates",
    severity="high",
    requires=("exchange.outboundConnectors",),
    ndr=("5.7.606",),
    remediation="""An outbound connector decides where the tenant's mail goes: a smart host
    nobody approved sends mail through a third party whose reputation (and Spamhaus
    listings) then become the tenant's own. Remove or disable unknown connectors and smart
    hosts after finding who added them (Purview audit log, New-OutboundConnector), restore
    approved settings, and set TlsSettings to CertificateValidation or DomainValidation so
    mail is not handed to an impostor.""",
)
def outbound_connector_drift(ctx: CheckContext) -> Iterator[Result]:
    pairs = _paired(ctx.source("exchange.outboundConnectors"), ctx.baseline.outbound_connectors)
    for found, expected in pairs:
        if found is None:
            yield _missing(expected)
            continue
        name = str(found["Name"])
        smart_hosts = _host_set(found.get("SmartHosts"))
        evidence = {p: found.get(p) for p in OUTBOUND_CONNECTOR_PROPERTIES}
        problems = []
        if expected is None:
            route = ", ".join(smart_hosts) if smart_hosts else "MX records"
            domains = ", ".join(_host_set(found.get("RecipientDomains"))) or "(rule-scoped)"
            problems.append(f"not in the baseline: sends mail for {domains} via {route}")
        else:
            unknown_hosts = sorted(set(smart_hosts) - set(_host_set(expected.get("SmartHosts"))))
            if "SmartHosts" in expected and unknown_hosts:
                problems.append(f"smart host {', '.join(unknown_hosts)} is not in the baseline")
            drift = _drift(expected, found, _OUTBOUND_COMPARED)
            problems += [
                f"{prop}: expected {_show(d['expected'])}, found {_show(d['found'])}"
                for prop, d in drift.items()
            ]
        tls = found.get("TlsSettings") or None
        if found.get("Enabled") and _TLS_ORDER.index(tls if tls in _TLS_ORDER else None) < 2:
            problems.append(
                f"TlsSettings is {tls or 'not set'}: the receiving server's "
                "certificate is not verified"
            )
        if problems:
            yield Result(f"connector:{name}", Status.FAIL, "; ".join(problems), evidence)
        else:
            yield Result(
                f"connector:{name}",
                Status.PASS,
                f"matches the baseline; TLS {tls}",
                evidence,
            )
