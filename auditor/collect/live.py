"""One live collection: sign in as the app, read the sources, return the snapshot document.

What `collect`, `run --tenant`, `explain --tenant` and every tenant of `fleet` do. The whole of
it, sign-in included, ends by the deadline (`CollectOptions.deadline`): what is not collected
by then is `error` in the snapshot, and `Collection.missed` names it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor import snapshot
from auditor.collect.auth import Credential, TokenSource
from auditor.collect.clouds import Cloud
from auditor.collect.deadline import Deadline
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


@dataclass(frozen=True)
class Collection:
    document: dict[str, Any]  # the snapshot, not yet written
    missed: tuple[str, ...] = ()  # sources the deadline stopped
    deadline: float = 0.0
    encoded: Mapping[str, str] = field(default_factory=dict)  # sources' entries, as text

    def parts(self) -> list[str]:
        """The snapshot as `collect` writes it (`jsonio.dumps` of the document), in pieces."""
        return snapshot.text_parts(self.document, self.encoded)


def collect_tenant(
    access: LiveAccess,
    sources: Sequence[str],
    options: CollectOptions | None = None,
    progress: Callable[[str], None] = lambda _text: None,
) -> Collection:
    """`sources` (and what they depend on), read within the deadline."""
    options = options or CollectOptions()
    deadline = Deadline(options.deadline)
    http = HttpClient(access.retry, on_wait=progress, deadline=deadline)
    tokens = TokenSource(
        access.cloud,
        access.tenant,
        access.client_id,
        access.credential,
        timeouts=(access.retry.connect_timeout, access.retry.read_timeout),
        deadline=deadline,
    )
    collector = Collector(access.tenant, access.cloud, tokens, http, options, progress)
    document = collector.collect(sources)
    return Collection(
        document, tuple(sorted(collector.missed)), options.deadline, dict(collector.encoded)
    )
