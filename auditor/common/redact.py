"""Keep secrets and tokens out of every message the tool prints or stores.

Every secret the tool reads or receives (client secret, certificate passphrase, OIDC
assertion, access token) is registered here the moment it is known; `redact` then removes it,
and anything shaped like a bearer token, from any text before it leaves the process.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from urllib.parse import quote, quote_plus

_lock = threading.Lock()
_secrets: set[str] = set()

_PATTERNS = (
    # JWTs (access tokens, client assertions, GitHub OIDC tokens), whole or cut short: a
    # message cut at its length limit may hold the header and part of the claims
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    # The password of a URL (https://user:password@host/): a SIEM or proxy address may hold one
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(?=@)"),
    re.compile(
        r"(?i)((?:client_secret|client_assertion|access_token|refresh_token|passphrase)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"
    ),
)
MASK = "[REDACTED]"


def register(secret: str | None) -> None:
    """Mask `secret` wherever it appears, in every encoding it travels in: as is,
    URL-encoded (a form body, a query string), JSON-escaped and base64 (Basic auth)."""
    # Short values would mask ordinary words in messages; real secrets are long.
    if secret and len(secret) >= 6:
        forms = {
            secret,
            quote(secret, safe=""),
            quote_plus(secret),
            json.dumps(secret)[1:-1],
            base64.b64encode(secret.encode()).decode(),
        }
        with _lock:
            _secrets.update(f for f in forms if len(f) >= 6)


def redact(text: str) -> str:
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.lastindex else "") + MASK, text)
    return text
