"""Large tenants, generated: the demo tenant grown to the sizes the benchmark measures. The
same generator feeds the fake tenant (collection) and the snapshots (judging)."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from auditor import demo


def _uid(kind: str, i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{kind}/{i}"))


def user(i: int, domain: str) -> dict[str, Any]:
    address = f"user{i}@{domain}"
    return {
        "id": _uid("user", i),
        "userPrincipalName": address,
        "mail": address,
        "proxyAddresses": [f"SMTP:{address}", f"smtp:u{i}@{domain}"],
        "accountEnabled": True,
    }


def snapshot_document(mailboxes: int) -> dict[str, Any]:
    """The demo snapshot with `mailboxes` more users, one in a hundred a shared mailbox and
    one in a thousand forwarding inside the tenant: what grows with a tenant's size."""
    document = json.loads(demo.SNAPSHOT.read_text(encoding="utf-8"))
    sources = document["sources"]
    domain = document["tenant"]["defaultDomain"]
    sources["graph.users"]["data"] += [user(i, domain) for i in range(mailboxes)]
    shared = sources["exchange.sharedMailboxes"]["data"]
    template = copy.deepcopy(shared[0])
    for i in range(0, mailboxes, 100):
        entry = copy.deepcopy(template)
        for key in ("PrimarySmtpAddress", "UserPrincipalName"):
            if key in entry:
                entry[key] = f"user{i}@{domain}"
        if "ExternalDirectoryObjectId" in entry:
            entry["ExternalDirectoryObjectId"] = _uid("user", i)
        shared.append(entry)
    forwarding = sources["exchange.forwardingMailboxes"]["data"]
    template = copy.deepcopy(forwarding[0])
    for i in range(0, mailboxes, 1000):
        entry = copy.deepcopy(template)
        entry["PrimarySmtpAddress"] = f"user{i}@{domain}"
        if "ForwardingSmtpAddress" in entry:
            entry["ForwardingSmtpAddress"] = f"smtp:user{i + 1}@{domain}"
        forwarding.append(entry)
    return document
