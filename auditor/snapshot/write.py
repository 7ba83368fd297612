"""Writing a snapshot: the document collection builds, and the check that each source's data
has the shape the schema gives it before it is kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import auditor
from auditor.common.timeutil import format_time
from auditor.snapshot.format import SCHEMA_ID, SCHEMA_VERSION, data_validators


def data_problem(name: str, data: Any) -> str | None:
    """An API that answers garbage must not reach the checks: name the first bad field."""
    validator = data_validators().get(name)
    if validator is None:
        return None
    error = next(iter(sorted(validator.iter_errors(data), key=lambda e: list(e.path))), None)
    if error is None:
        return None
    return f"the API answered data of the wrong shape at {error.json_path}: {error.message[:120]}"


def document(
    tenant: str, cloud: str, records: dict[str, dict[str, Any]], started: datetime
) -> dict[str, Any]:
    """The snapshot document for one collection: `records` are the per-source entries
    (`{status, collectedAt, data | error}`); the tenant's id, name and default domain come
    from them where they were read."""
    about: dict[str, Any] = {"id": tenant, "cloud": cloud}
    organization = records.get("graph.organization", {})
    if organization.get("status") == "ok" and organization["data"]:
        about["id"] = organization["data"][0]["id"]
        about["displayName"] = organization["data"][0].get("displayName") or ""
    default = _default_domain(records)
    if default:
        about["defaultDomain"] = default
    return {
        "schema": SCHEMA_ID,
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "m365-mail-auditor", "version": auditor.__version__},
        "tenant": about,
        "collectedAt": format_time(started),
        "sources": dict(sorted(records.items())),
    }


def _default_domain(records: dict[str, dict[str, Any]]) -> str:
    for name, flag, key in (
        ("graph.domains", "isDefault", "id"),
        ("exchange.acceptedDomains", "Default", "DomainName"),
    ):
        record = records.get(name, {})
        if record.get("status") == "ok":
            for entry in record["data"]:
                if entry.get(flag):
                    return str(entry[key])
    return ""
