"""Conditional Access policy reading shared by the checks that judge what a policy covers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def users_of(policy: Mapping[str, Any]) -> Mapping[str, Any]:
    return (policy.get("conditions") or {}).get("users") or {}


def ids(mapping: Mapping[str, Any], key: str) -> set[str]:
    return set(mapping.get(key) or ())


def limits(policy: Mapping[str, Any]) -> list[str]:
    """Conditions that make a policy apply only sometimes (some apps, client apps,
    locations, risk levels or platforms)."""
    conditions = policy.get("conditions") or {}
    found = []
    apps = conditions.get("applications") or {}
    if "All" not in (apps.get("includeApplications") or ()):
        found.append("not all cloud apps")
    elif apps.get("excludeApplications"):
        excluded = ", ".join(str(a) for a in apps["excludeApplications"])
        found.append(f"not the apps it excludes: {excluded}")
    client_types = set(conditions.get("clientAppTypes") or ())
    if (
        client_types
        and "all" not in client_types
        and not {
            "browser",
            "mobileAppsAndDesktopClients",
        }
        <= client_types
    ):
        found.append("not all client apps")
    locations = conditions.get("locations") or {}
    if locations.get("excludeLocations") or (
        locations.get("includeLocations") and "All" not in locations["includeLocations"]
    ):
        found.append("only from some locations")
    if conditions.get("userRiskLevels") or conditions.get("signInRiskLevels"):
        found.append("only on risky sign-ins")
    if conditions.get("platforms"):
        found.append("only on some platforms")
    return found
