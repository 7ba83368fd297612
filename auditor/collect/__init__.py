"""Collection: the only part of the tool that talks to Microsoft and to DNS.

Sign-in (`auth`), one HTTP layer (`http`), the endpoints of each cloud (`clouds`), the Graph,
Exchange and DNS clients (`graph`, `exchange`, `dnsquery`), the catalogue of named sources with
the access each needs (`catalogue`), one collector per source (`collectors/`), and the runner
that reads the sources a run needs into one snapshot document (`runner`, `live`).
"""

from auditor.collect.auth import (
    AuthError,
    Certificate,
    ClientSecret,
    Credential,
    DeviceCode,
    GitHubFederation,
    ManagedIdentity,
)
from auditor.collect.catalogue import ALWAYS, CATALOGUE, SourceInfo, describe, with_dependencies
from auditor.collect.clouds import CLOUDS, Cloud, resolve
from auditor.collect.http import ApiError, HttpClient, RetryPolicy
from auditor.collect.live import Collection, LiveAccess, collect_tenant
from auditor.collect.runner import DEFAULT_DEADLINE, CollectOptions, Collector

__all__ = [
    "ALWAYS",
    "CATALOGUE",
    "CLOUDS",
    "DEFAULT_DEADLINE",
    "ApiError",
    "AuthError",
    "Certificate",
    "ClientSecret",
    "Cloud",
    "CollectOptions",
    "Collection",
    "Collector",
    "Credential",
    "DeviceCode",
    "GitHubFederation",
    "HttpClient",
    "LiveAccess",
    "ManagedIdentity",
    "RetryPolicy",
    "SourceInfo",
    "collect_tenant",
    "describe",
    "resolve",
    "with_dependencies",
]
