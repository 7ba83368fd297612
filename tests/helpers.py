"""Builders for snapshots and baselines in tests: small documents, real loaders."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from auditor import snapshot as snapshot_mod
from auditor.judge import baseline as baseline_mod
from auditor.judge.engine import run_check
from auditor.judge.model import CheckOutcome, Result, Status
from auditor.judge.registry import discover

COLLECTED = "2026-11-20T06:00:00Z"
COLLECTED_DT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
TENANT = "11111111-2222-3333-4444-555555555555"


def ok(data: Any) -> dict[str, Any]:
    return {"status": "ok", "collectedAt": COLLECTED, "data": data}


def failed(error: str) -> dict[str, Any]:
    return {"status": "error", "collectedAt": COLLECTED, "error": error}


def snapshot_doc(sources: Mapping[str, Any], wrap: bool = True) -> dict[str, Any]:
    return {
        "schema": "m365-mail-auditor/snapshot",
        "schemaVersion": 1,
        "tool": {"name": "m365-mail-auditor", "version": "test"},
        "tenant": {"id": TENANT, "displayName": "Test Tenant", "defaultDomain": "example.com"},
        "collectedAt": COLLECTED,
        "sources": {k: ok(v) if wrap else v for k, v in sources.items()},
    }


def make_snapshot(sources: Mapping[str, Any], wrap: bool = True) -> snapshot_mod.Snapshot:
    raw = json.dumps(snapshot_doc(sources, wrap)).encode()
    return snapshot_mod.parse(raw, "test-snapshot.json")


def baseline_doc(**sections: Any) -> dict[str, Any]:
    return {"baselineVersion": 1, **sections}


def make_baseline(**sections: Any) -> baseline_mod.Baseline:
    return baseline_mod.parse(json.dumps(baseline_doc(**sections)).encode(), "test-baseline.json")


def judge(check_id: str, sources: Mapping[str, Any], **baseline: Any) -> CheckOutcome:
    """Run one real check on a snapshot made of `sources` (data only, wrapped as ok)."""
    return run_check(discover()[check_id], make_snapshot(sources), make_baseline(**baseline))


def by_resource(outcome: CheckOutcome) -> dict[str, Result]:
    return {r.resource: r for r in outcome.results}


def statuses(outcome: CheckOutcome) -> dict[str, str]:
    return {r.resource: r.status.value for r in outcome.results}


def failing(outcome: CheckOutcome) -> list[str]:
    return sorted(r.resource for r in outcome.results if r.status is Status.FAIL)


# --- small record builders with the API's field names --------------------------------------


def accepted(name: str, kind: str = "Authoritative", match_sub: bool = False, **extra: Any):
    return {"DomainName": name, "DomainType": kind, "MatchSubDomains": match_sub, **extra}


def graph_domain(name: str, verified: bool = True, services=("Email",)):
    return {"id": name, "isVerified": verified, "supportedServices": list(services)}


def inbound(name: str, **props: Any) -> dict[str, Any]:
    record = {
        "Name": name,
        "Enabled": True,
        "ConnectorType": "OnPremises",
        "SenderIPAddresses": ["203.0.113.10"],
        "SenderDomains": ["smtp:example.com;1"],
        "RequireTls": True,
        "RestrictDomainsToIPAddresses": False,
        "RestrictDomainsToCertificate": False,
        "TlsSenderCertificateName": None,
        "TreatMessagesAsInternal": False,
        "CloudServicesMailEnabled": False,
        "WhenCreatedUTC": "2024-01-01T00:00:00Z",
        "WhenChangedUTC": "2024-01-01T00:00:00Z",
    }
    record.update(props)
    return record


def trace(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"StartDate": "2026-11-13T06:00:00Z", "EndDate": COLLECTED, "Aggregates": list(rows)}


def trace_row(domain: str, count: int, ip: str | None = None, outbound: bool = True):
    return {"SenderDomain": domain, "FromIP": ip, "Outbound": outbound, "MessageCount": count}


def mailbox(primary: str, *proxies: str) -> dict[str, Any]:
    return {"PrimarySmtpAddress": primary, "EmailAddresses": [f"SMTP:{primary}", *proxies]}


def user(mail: str, *proxies: str) -> dict[str, Any]:
    """A Graph user with its mail and proxy addresses."""
    return {
        "id": f"id-{mail}",
        "userPrincipalName": mail,
        "mail": mail,
        "proxyAddresses": [f"SMTP:{mail}", *proxies],
    }
