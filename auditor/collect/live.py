"""One live collection: sign in as the app, read the sources, return the snapshot document.

What `collect`, `run --tenant`, `explain --tenant` and every tenant of `fleet` do."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.collect.auth import Credential, TokenSource
from auditor.collect.clouds import Cloud
from auditor.collect.http import HttpClient, RetryPolicy
from auditor.collect.runner import CollectOptions, Collector


@dataclass(frozen=True)
class LiveAccess:
    """Which tenant, as which app, through which cloud, and how patiently."""

    tenant: str
    client_id: str
    credential: Credential
    cloud: Cloud
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def collect_tenant(
    access: LiveAccess,
    sources: Sequence[str],
    options: CollectOptions | None = None,
    progress: Callable[[str], None] = lambda _text: None,
) -> dict[str, Any]:
    """The snapshot document of `sources` (and what they depend on), not yet written."""
    http = HttpClient(access.retry, on_wait=progress)
    tokens = TokenSource(access.cloud, access.tenant, access.client_id, access.credential)
    collector = Collector(
        access.tenant, access.cloud, tokens, http, options or CollectOptions(), progress
    )
    return collector.collect(sources)
