"""A fake Microsoft cloud on 127.0.0.1 over real TLS: Entra ID sign-in (OpenID discovery,
token endpoint, device code), GitHub's OIDC token endpoint, Graph v1.0 and Exchange's
InvokeCommand gateway, serving the demo tenant. Paging, $select, $filter, $expand and $batch
behave like the real services where the tool relies on them; faults can be injected per
route, and every request is counted.

Routes (relative to https://127.0.0.1:PORT):
  /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/oauth2/v2.0/token|devicecode
  /github/token                                  GitHub Actions' ID token endpoint
  /msi/token                                     an Azure managed identity endpoint, as App
                                                 Service, Functions and Automation serve it
  /graph/v1.0/...                                Graph       (scope https://.../graph/.default)
  /exchange/adminapi/beta/{tenant}/InvokeCommand Exchange    (scope https://.../exchange/.default)
"""

from __future__ import annotations

import base64
import bisect
import json
import re
import secrets
import socket
import ssl
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from auditor.common.timeutil import parse_time
from tests.fake_tenant import ca
from tests.fake_tenant.data import TenantData, build, ticks
from tests.fake_tenant.dns_server import FakeDns

GRAPH_PERMISSIONS = {
    "organization": "Organization.Read.All",
    "users": "User.Read.All",
    "domains": "Domain.Read.All",
    "roleManagement/directory/roleAssignments": "RoleManagement.Read.Directory",
    "roleManagement/directory/roleEligibilitySchedules": "RoleEligibilitySchedule.Read.Directory",
    "groups": "GroupMember.Read.All",
    "reports/authenticationMethods/userRegistrationDetails": "AuditLog.Read.All",
    "identity/conditionalAccess/policies": "Policy.Read.All",
    "policies/identitySecurityDefaultsEnforcementPolicy": "Policy.Read.All",
    "directory/subscriptions": "Organization.Read.All",
    "security/alerts_v2": "SecurityAlert.Read.All",
    "servicePrincipals": "Application.Read.All",
    "subscribedSkus": "LicenseAssignment.Read.All",
}
EXCHANGE_APP_PERMISSION = "Exchange.ManageAsApp"
EXCHANGE_ROLE = "Global Reader"
ALL_GRANTS = frozenset({*GRAPH_PERMISSIONS.values(), EXCHANGE_APP_PERMISSION, EXCHANGE_ROLE})
GITHUB_SUBJECT = "repo:tailspin/mail-audit:ref:refs/heads/main"
GITHUB_AUDIENCE = "api://AzureADTokenExchange"
TRACE_MAX_RESULT_SIZE = 5000
ADMIN_UPN = "audit-admin@{domain}"  # who signs in with the device code
REPLAY_REFUSED = "Expired or Invalid pagination request"
# OPATH filters the fake evaluates for -Filter, as Exchange would.
FILTERS = {
    "ForwardingSmtpAddress -ne $null -or ForwardingAddress -ne $null": lambda r: bool(
        r.get("ForwardingSmtpAddress") or r.get("ForwardingAddress")
    ),
    "SmtpClientAuthenticationDisabled -eq $false": lambda r: (
        r.get("SmtpClientAuthenticationDisabled") is False
    ),
}
FILTERED_CMDLETS = ("Get-Mailbox", "Get-CASMailbox")


# Token request fields that carry a secret, echoed back when `echo` is on.
ECHOED_FIELDS = ("client_secret", "client_assertion", "device_code", "refresh_token")
BATCH_ITEM_FAULTS = {
    "404": (404, "Request_ResourceNotFound"),
    "403": (403, "Authorization_RequestDenied"),
    "500": (500, "InternalServerError"),
    "503": (503, "ServiceUnavailable"),
}


@dataclass
class Fault:
    """One injected misbehaviour, used `times` times on its route, then gone.

    kinds: 429 (with `retry_after`, or without when None), 503, slow (`delay` seconds before
    a normal answer), drop (close the connection without answering), invalid-json,
    nul-403 (Exchange's 403 with a body of NUL bytes), empty-warning (Exchange: 200 with no
    records and a warning), truncated-token (a token answer cut off after the token),
    truncate (Exchange: a partial page with a truncation warning and no nextLink),
    exchange-throttle (429 whose wait is only in the message text), hang (accept the
    request and never answer, until the fake stops or `delay` seconds pass), expire (every
    token issued so far expires now; this request gets the 401 for it), 500, html-502 (a
    proxy's HTML error page), cut (a body shorter than its Content-Length, then the connection
    closes), value-object (`value` an object, not a list), endless (a new nextLink on every
    page), repeat (the same nextLink again). Inside a $batch (route `graph:batch-item:…`):
    429, 404, 403, 500, 503 for that item alone."""

    kind: str
    times: int = 1
    retry_after: str | None = None
    delay: float = 0.0


@dataclass
class AppRegistration:
    client_id: str
    secret: str
    thumbprints: set[str]  # SHA-1 and SHA-256 of the uploaded certificate, lower-case hex
    public_key: Any
    grants: set[str] = field(default_factory=lambda: set(ALL_GRANTS))


class FakeTenant:
    """Start with `with FakeTenant(tmp_dir) as fake:`; `fake.env()` is what a CLI subprocess
    needs to trust it, `fake.cli_args()` the options that point the CLI at it."""

    def __init__(
        self,
        directory: Path,
        graph_page_size: int = 4,
        exchange_page_size: int = 10,
        extra_trace_rows: int = 0,
        extra_mailboxes: int = 0,
    ):
        self.directory = Path(directory)
        self.materials = ca.make(self.directory)
        self.data: TenantData = build(
            extra_trace_rows=extra_trace_rows, extra_mailboxes=extra_mailboxes
        )
        self.token_key = secrets.token_bytes(32)  # signs the fake's JWT access tokens
        cert = self.materials.client_cert
        self.app = AppRegistration(
            client_id=str(uuid.uuid4()),
            secret="fake-secret-" + secrets.token_urlsafe(24),
            thumbprints={
                cert.fingerprint(hashes.SHA1()).hex(),
                cert.fingerprint(hashes.SHA256()).hex(),
            },
            public_key=cert.public_key(),
        )
        self.github_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.github_request_token = "gh-request-" + secrets.token_urlsafe(24)
        self.identity_header = "msi-header-" + secrets.token_urlsafe(24)
        self.latency = 0.0  # seconds added to every request (benchmarks)
        self.requests_served = 0
        # Paging ledger (benchmarks): list pages actually served outside a $batch, and the
        # fewest pages the same lists need at the largest page each endpoint documents.
        self.list_pages = 0
        self.list_pages_minimum = 0
        self.trace_queries = 0
        self.identity_client_ids: list[str | None] = []  # client_id of each MI token request
        self.graph_page_size = graph_page_size
        self.exchange_page_size = exchange_page_size
        self.licences = {"P1": True, "P2": True}
        self.tokens: dict[str, str] = {}  # issued access token -> resource
        self.expired: set[str] = set()  # tokens refused as expired (before their `exp`)
        self.echo = False  # every error answer repeats the request's secrets (leak tests)
        self._member_index: dict[str, tuple[list, int, frozenset[str]]] = {}
        # The gateway caps a page at `Prefer: odata.maxpagesize`; off, a page is as large as
        # `exchange_page_size` (one answer of 50,000 connectors).
        self.honour_prefer = True
        self.echoes = 0
        self.issued: list[str] = []  # every token and assertion handed out, for leak tests
        self.counts: Counter[str] = Counter()
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.anchors: Counter[str] = Counter()  # X-AnchorMailbox values the gateway got
        self.exchange_tenants: Counter[str] = Counter()  # the tenant part of gateway URLs
        self.trace_rows_served = 0
        self.github_audiences: list[str] = []  # the audience of each OIDC token asked for
        # The replay of an Exchange nextLink answered 400, as one public client saw it.
        self.refuse_replay = False
        self.refuse_filters = False  # the gateway refusing every -Filter (an unknown property)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.dns = FakeDns()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> FakeTenant:
        handler = type("Handler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.materials.server_cert, self.materials.server_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        self.dns.__enter__()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self.dns.__exit__()

    def __enter__(self) -> FakeTenant:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        assert self._server is not None, "start() the fake tenant first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    # --- what tests use ----------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a CLI subprocess: trust the throwaway CA, nothing else inherited
        that could point elsewhere."""
        import os

        keep = {
            k: v for k, v in os.environ.items() if not k.startswith(("M365_AUDIT_", "ACTIONS_"))
        }
        return {
            **keep,
            "REQUESTS_CA_BUNDLE": str(self.materials.ca_file),
            "CURL_CA_BUNDLE": str(self.materials.ca_file),
            **extra,
        }

    def cli_args(self) -> list[str]:
        return [
            "--tenant",
            self.data.domain,
            "--client-id",
            self.app.client_id,
            "--authority",
            self.base,
            "--graph-url",
            f"{self.base}/graph",
            "--exchange-url",
            f"{self.base}/exchange",
            "--dns-server",
            self.dns.address,
        ]

    def github_env(self) -> dict[str, str]:
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.base}/github/token?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.github_request_token,
        }

    def trace_keys(self) -> list[int]:
        """Each trace row's time, negated (rows are newest first), for bisection."""
        rows = self.data.trace_rows
        with self._lock:
            if getattr(self, "_trace_keys_of", None) is not rows or len(self._trace_keys) != len(
                rows
            ):
                self._trace_keys = [-ticks(r["Received"]) for r in rows]
                self._trace_keys_of = rows
            return self._trace_keys

    def managed_identity_env(self) -> dict[str, str]:
        """What App Service, Functions and Automation set for their managed identity."""
        return {
            "IDENTITY_ENDPOINT": f"{self.base}/msi/token",
            "IDENTITY_HEADER": self.identity_header,
        }

    def inject(self, route: str, *faults: Fault) -> None:
        with self._lock:
            self.faults[route].extend(faults)

    def member_ids(self, gid: str) -> frozenset[str]:
        """The ids of a group's members, indexed once (a 10k-member group asked about for
        2,000 admins must not cost the fake 20M comparisons: the benchmark measures the tool,
        and the fake's CPU is part of its wall time)."""
        group = self.data.graph["groups"].get(gid)
        if group is None:
            return frozenset()
        members = group["members"]
        with self._lock:
            cached = self._member_index.get(gid)
            if cached is None or cached[0] is not members or cached[1] != len(members):
                ids = frozenset(str(m.get("id")) for m in members)
                cached = self._member_index[gid] = (members, len(members), ids)
        return cached[2]

    def expire_tokens(self) -> None:
        """Every access token issued so far is refused from now on, as Graph and the
        Exchange gateway refuse one past its lifetime (docs/fake-tenant.md)."""
        with self._lock:
            self.expired.update(self.tokens)

    def revoke(self, grant: str) -> None:
        self.app.grants.discard(grant)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.faults.clear()
            self.anchors.clear()
            self.exchange_tenants.clear()
            self.trace_rows_served = 0
            self.github_audiences.clear()
            self.refuse_replay = False
            self.refuse_filters = False
            self.app.grants = set(ALL_GRANTS)
            self.licences = {"P1": True, "P2": True}
            self.dns.counts.clear()
            self.dns.fail.clear()
            self.dns.misbehave.clear()
            self.expired.clear()
            self.echo = False

    def take_fault(self, route: str) -> Fault | None:
        with self._lock:
            self.counts[route] += 1
            queue = self.faults.get(route)
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.popleft()
            return fault

    def issue(self, resource: str, user: str | None = None) -> str:
        """A JWT access token, as Entra ID issues: `tid` is the tenant's GUID, `upn` the
        signed-in user of a delegated token."""
        now = int(time.time())
        claims = {
            "aud": f"{self.base}/{resource}",
            "iss": f"{self.base}/{self.data.tenant_id}/",
            "tid": self.data.tenant_id,
            "appid": self.app.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "jti": secrets.token_urlsafe(8),
        }
        # What Entra ID puts in a token: the application permissions granted (`roles`) in an
        # app-only token, the consented delegated ones (`scp`, space-separated) in a user's.
        granted = sorted(
            g
            for g in self.app.grants
            if (
                g in GRAPH_PERMISSIONS.values()
                if resource == "graph"
                else g == EXCHANGE_APP_PERMISSION
            )
        )
        if user:
            claims["upn"] = user
            delegated = ["Exchange.Manage" if g == EXCHANGE_APP_PERMISSION else g for g in granted]
            claims["scp"] = " ".join(delegated)
        elif granted:
            claims["roles"] = granted
        token = jwt.encode(claims, self.token_key, algorithm="HS256")
        with self._lock:
            self.tokens[token] = resource
            self.issued.append(token)
        return token

    def github_token(self, audience: str) -> str:
        now = int(time.time())
        token = jwt.encode(
            {
                "iss": f"{self.base}/github",
                "sub": GITHUB_SUBJECT,
                "aud": audience,
                "iat": now,
                "nbf": now,
                "exp": now + 300,
                "repository": "tailspin/mail-audit",
            },
            self.github_key,
            algorithm="RS256",
            headers={"kid": "fake-github"},
        )
        with self._lock:
            self.issued.append(token)
        return token


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTenant
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read counters
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: with Nagle's algorithm the second waits for
        # the client's delayed ACK (40 ms on Linux), a cost of this server, not of the tool.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # --- plumbing ----------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _echoed(self) -> str:
        """Every secret this request carried, as an error page that echoes its request (a
        debugging proxy, an unknown AADSTS text) would show it: in one encoding per answer,
        raw, URL-encoded, form-encoded, base64 and JSON-escaped in turn, so that over a run
        each encoding comes first in some message (clients keep the start of a message)."""
        carried = [self.headers.get("Authorization") or ""]
        form = parse_qs(getattr(self, "_request_body", b"").decode("utf-8", "replace"))
        carried += [v[0] for k, v in form.items() if k in ECHOED_FIELDS]
        with self.fake._lock:
            turn = self.fake.echoes % 5
            self.fake.echoes += 1
        encode = (
            lambda v: v,
            lambda v: quote(v, safe=""),
            quote_plus,
            lambda v: base64.b64encode(v.encode()).decode(),
            lambda v: json.dumps(v)[1:-1],
        )[turn]
        # The secret part first: a short one fits whole in the part a client keeps.
        return " | ".join(encode(v.removeprefix("Bearer ")) for v in carried[::-1] if v)

    def _echo_into(self, body: dict[str, Any]) -> None:
        """The echo goes first in each text, so that no cut the client makes hides it."""
        text = "echo: " + self._echoed() + " "
        error = body.get("error")
        if isinstance(error, dict):
            error["message"] = text + str(error.get("message", ""))
            for detail in error.get("details") or ():
                detail["message"] = text + str(detail.get("message", ""))
            inner = (error.get("innererror") or {}).get("internalexception")
            if isinstance(inner, dict):
                inner["message"] = text + str(inner.get("message", ""))
        if "error_description" in body:
            body["error_description"] = text + str(body["error_description"])

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if self.fake.echo and status >= 400 and isinstance(body, dict):
            self._echo_into(body)
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def _graph_error(self, status: int, code: str, message: str, headers=None) -> None:
        self._send(status, {"error": {"code": code, "message": message}}, headers)

    def _apply_fault(self, route: str) -> bool:
        """True when the fault has answered the request already."""
        fault = self.fake.take_fault(route)
        if fault is None:
            return False
        if fault.kind == "expire":
            # The token this request carries, and every other, expires now: the request is
            # refused with the service's own 401.
            self.fake.expire_tokens()
            return self._expired()
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return False
        if fault.kind == "hang":
            self.fake.stopping.wait(fault.delay or 600)
            self.close_connection = True
            return True
        if fault.kind == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if fault.kind == "429":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._graph_error(429, "TooManyRequests", "Too many requests", headers)
            return True
        if fault.kind == "exchange-throttle":
            message = "The request was throttled. Please try again after 1 seconds."
            self._graph_error(429, "Throttled", message)
            return True
        if fault.kind == "503":
            self._graph_error(503, "ServiceUnavailable", "The service is unavailable")
            return True
        if fault.kind == "invalid-json":
            self._send(200, b'{"value": [ {"Name": "half')
            return True
        if fault.kind == "truncated-token":
            # A token answer cut off mid-way: the token itself is in what arrived.
            token = self.fake.issue("graph")
            self._send(
                200, b'{"token_type": "Bearer", "access_token": "' + token.encode() + b'", "exp'
            )
            return True
        if fault.kind == "500":
            self._graph_error(500, "InternalServerError", "An internal server error occurred.")
            return True
        if fault.kind == "html-502":
            # A proxy or front door's error page, not the service's JSON.
            page = b"<html><head><title>502 Bad Gateway</title></head><body>502</body></html>"
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return True
        if fault.kind == "cut":
            # The headers promise more than the body brings: the connection closes mid-body.
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b'{"value": [{"Name": "')
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault.kind == "value-object":
            # `value` an object instead of a list: a proxy, or a changed API.
            self._send(200, {"value": {"Name": "not a list"}})
            return True
        if fault.kind in ("endless", "repeat"):
            # Paging that never ends: a new nextLink on every page, or the same one again.
            token = secrets.token_urlsafe(6) if fault.kind == "endless" else "again"
            here = f"{self.fake.base}{urlsplit(self.path).path}"
            self._send(200, {"value": [], "@odata.nextLink": f"{here}?$skiptoken={token}"})
            return True
        if fault.kind == "nul-403":
            self._send(403, b"\x00" * 16)
            return True
        if fault.kind == "truncate":
            self._truncated = True
            return False
        if fault.kind == "empty-warning":
            # 200, no records, and a warning: what the gateway may answer when the caller
            # cannot see the objects or the result is partial.
            self._send(
                200,
                {
                    "@adminapi.warnings": [
                        "WARNING: The operation couldn't be performed because you don't have "
                        "access to all the objects requested."
                    ],
                    "value": [],
                },
            )
            return True
        raise ValueError(f"unknown fault {fault.kind}")

    def _token_resource(self) -> str | None:
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Bearer "):
            return None
        return self.fake.tokens.get(header[7:])

    # --- dispatch ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        self._truncated = False
        with self.fake._lock:
            self.fake.requests_served += 1
        if self.fake.latency:
            time.sleep(self.fake.latency)  # the round trip of a real service (benchmarks)
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = self._body()
        self._request_body = body
        try:
            if path.startswith("/graph/v1.0/"):
                self._graph(method, path[len("/graph/v1.0/") :], query, body)
            elif path.startswith("/exchange/adminapi/beta/"):
                self._exchange(path, query, body)
            elif path.startswith("/github/token"):
                self._github(query)
            elif path == "/msi/token":
                self._managed_identity(query)
            elif path.endswith("/v2.0/.well-known/openid-configuration"):
                self._discovery(path.split("/")[1])
            elif path.endswith("/oauth2/v2.0/token"):
                self._token(path.split("/")[1], body)
            elif path.endswith("/oauth2/v2.0/devicecode"):
                self._device_code(body)
            else:
                self._graph_error(404, "NotFound", f"no route {path}")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    # --- Entra ID sign-in --------------------------------------------------------------------

    def _known_tenant(self, tenant: str) -> bool:
        return tenant.lower() in (self.fake.data.tenant_id, self.fake.data.domain.lower())

    def _discovery(self, tenant: str) -> None:
        if self._apply_fault("discovery"):
            return
        if not self._known_tenant(tenant):
            self._send(
                400,
                {
                    "error": "invalid_tenant",
                    "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
                },
            )
            return
        base = f"{self.fake.base}/{tenant}"
        self._send(
            200,
            {
                "issuer": f"{self.fake.base}/{self.fake.data.tenant_id}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            },
        )

    def _aad_error(self, status: int, error: str, code: str, text: str) -> None:
        self._send(
            status,
            {
                "error": error,
                "error_description": f"{code}: {text}\r\nTrace ID: {uuid.uuid4()}",
                "error_codes": [int(code[6:])],
            },
        )

    def _token(self, tenant: str, raw: bytes) -> None:
        if self._apply_fault("token"):
            return
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        app = self.fake.app
        if not self._known_tenant(tenant):
            self._aad_error(400, "invalid_request", "AADSTS90002", f"Tenant '{tenant}' not found.")
            return
        if form.get("client_id") != app.client_id:
            self._aad_error(
                400,
                "unauthorized_client",
                "AADSTS700016",
                f"Application with identifier '{form.get('client_id')}' was not "
                "found in the directory.",
            )
            return
        scope = form.get("scope", "")
        grant = form.get("grant_type")
        device_code = form.get("device_code", "")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            # The token request of the device flow names no scope: the code carries it.
            scope = device_code.removeprefix("fake-device-code ")
        resource = self._resource_of(scope)
        if resource is None:
            self._aad_error(
                400,
                "invalid_resource",
                "AADSTS500011",
                f"The resource principal named {scope} was not found.",
            )
            return
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            if not device_code.startswith("fake-device-code "):
                self._aad_error(400, "invalid_grant", "AADSTS70000", "bad device code")
                return
        elif grant == "refresh_token":
            pass
        elif grant != "client_credentials":
            self._aad_error(400, "unsupported_grant_type", "AADSTS70003", f"grant {grant}")
            return
        elif "client_secret" in form:
            if form["client_secret"] != app.secret:
                self._aad_error(
                    401, "invalid_client", "AADSTS7000215", "Invalid client secret provided."
                )
                return
        elif "client_assertion" in form:
            problem = self._check_assertion(form["client_assertion"], tenant)
            if problem:
                self._aad_error(401, "invalid_client", *problem)
                return
        else:
            self._aad_error(
                401,
                "invalid_client",
                "AADSTS7000218",
                "The request body must contain client_assertion or client_secret.",
            )
            return
        user = ADMIN_UPN.format(domain=self.fake.data.domain) if device_code else None
        token = self.fake.issue(resource, user)
        answer = {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            answer["refresh_token"] = "fake-refresh-" + secrets.token_urlsafe(16)
            answer["scope"] = scope
        self._send(200, answer)

    def _managed_identity(self, query: dict[str, str]) -> None:
        """The App Service protocol (api-version 2019-08-01): the secret header, a resource
        (not a scope), an optional client_id of a user-assigned identity; the answer carries
        expires_on as epoch seconds in a string. A wrong resource answers statusCode 500."""
        if self._apply_fault("msi"):
            return
        if self.headers.get("X-IDENTITY-HEADER") != self.fake.identity_header:
            self._send(401, {"statusCode": 401, "message": "Unauthorized: bad identity header"})
            return
        self.fake.identity_client_ids.append(query.get("client_id"))
        resource = self._resource_of(query.get("resource", "") + "/.default")
        if query.get("api-version") != "2019-08-01" or resource is None:
            self._send(500, {"statusCode": 500, "message": "An unexpected error occured"})
            return
        token = self.fake.issue(resource)
        self._send(
            200,
            {
                "access_token": token,
                "expires_on": str(int(time.time()) + 3600),
                "resource": query["resource"],
                "token_type": "Bearer",
                "client_id": query.get("client_id") or "system-assigned",
            },
        )

    def _resource_of(self, scope: str) -> str | None:
        for resource in ("graph", "exchange"):
            if f"{self.fake.base}/{resource}/.default" in scope.split():
                return resource
        return None

    def _check_assertion(self, assertion: str, tenant: str) -> tuple[str, str] | None:
        app = self.fake.app
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return ("AADSTS50027", "JWT token is invalid or malformed.")
        if claims.get("iss") == f"{self.fake.base}/github":
            try:
                claims = jwt.decode(
                    assertion,
                    self.fake.github_key.public_key(),
                    algorithms=["RS256"],
                    audience=GITHUB_AUDIENCE,
                )
            except jwt.PyJWTError as exc:
                return ("AADSTS700211", f"federated token rejected: {exc}")
            if claims.get("sub") != GITHUB_SUBJECT:
                return (
                    "AADSTS700213",
                    f"No matching federated identity record found for "
                    f"presented assertion subject '{claims.get('sub')}'.",
                )
            return None
        thumbprint = header.get("x5t#S256") or header.get("x5t")
        if not thumbprint:
            return ("AADSTS700027", "Client assertion contains no certificate thumbprint.")
        import base64

        padded = thumbprint + "=" * (-len(thumbprint) % 4)
        try:
            hex_print = base64.urlsafe_b64decode(padded).hex()
        except ValueError:
            hex_print = thumbprint.lower()
        if hex_print not in app.thumbprints:
            return (
                "AADSTS700027",
                "Client assertion failed signature validation: the key was not found.",
            )
        token_endpoint = f"{self.fake.base}/{tenant}/oauth2/v2.0/token"
        try:
            claims = jwt.decode(
                assertion, app.public_key, algorithms=["RS256", "PS256"], audience=token_endpoint
            )
        except jwt.PyJWTError as exc:
            return ("AADSTS700027", f"Client assertion failed signature validation: {exc}")
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            return ("AADSTS700023", "Client assertion issuer or subject is not the client id.")
        return None

    def _device_code(self, raw: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        if form.get("client_id") != self.fake.app.client_id:
            self._aad_error(400, "unauthorized_client", "AADSTS700016", "unknown app")
            return
        self._send(
            200,
            {
                "device_code": "fake-device-code " + form.get("scope", ""),
                "user_code": "FAKE-CODE",
                "verification_uri": f"{self.fake.base}/devicelogin",
                "expires_in": 900,
                "interval": 1,
                "message": "To sign in, open the fake device login page and enter FAKE-CODE.",
            },
        )

    def _github(self, query: dict[str, str]) -> None:
        if self._apply_fault("github"):
            return
        if self.headers.get("Authorization") != f"bearer {self.fake.github_request_token}":
            self._send(401, {"message": "bad request token"})
            return
        audience = query.get("audience", "")
        with self.fake._lock:
            self.fake.github_audiences.append(audience)
        self._send(200, {"value": self.fake.github_token(audience)})

    # --- Graph -------------------------------------------------------------------------------

    def _expired(self) -> bool:
        header = self.headers.get("Authorization") or ""
        if header[7:] not in self.fake.expired:
            return False
        # Graph's answer to an expired token (s1t5/mail-archiver#267 quotes it from a live
        # tenant); the Exchange gateway answers 401 too.
        self._graph_error(
            401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."
        )
        return True

    def _graph(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        if self._expired():
            return
        if self._token_resource() != "graph":
            self._graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
            return
        if method == "POST" and path == "$batch":
            if self._apply_fault("graph:$batch"):
                return
            self._send(200, self._graph_batch(json.loads(raw)))
            return
        route = "graph:" + _graph_route(path)
        if self._apply_fault(route):
            return
        if method == "POST":
            status, body = self._graph_post(path, json.loads(raw or b"{}"))
        else:
            status, body = self._graph_get(path, query)
        self._send(status, body)

    def _graph_post(self, path: str, body: Any) -> tuple[int, Any]:
        """`POST /users/{id}/checkMemberGroups`: which of up to 20 groups the user is a member
        of, directly or through nested groups (the user-checkmembergroups reference)."""
        segments = path.split("/")
        if len(segments) != 3 or segments[0] != "users" or segments[2] != "checkMemberGroups":
            return 405, {"error": {"code": "Request_BadRequest", "message": f"POST {path}"}}
        if "GroupMember.Read.All" not in self.fake.app.grants:
            return 403, {
                "error": {
                    "code": "Authorization_RequestDenied",
                    "message": "Insufficient privileges to complete the operation.",
                }
            }
        wanted = body.get("groupIds") if isinstance(body, dict) else None
        if not isinstance(wanted, list) or not 1 <= len(wanted) <= 20:
            return 400, {
                "error": {
                    "code": "Request_BadRequest",
                    "message": "groupIds must list 1 to 20 group ids",
                }
            }
        with self.fake._lock:
            self.fake.counts["graph:checkMemberGroups"] += 1
        user = segments[1]
        found = [gid for gid in wanted if user in self.fake.member_ids(gid)]
        return 200, {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
            "value": found,
        }

    def _graph_batch(self, payload: dict[str, Any]) -> dict[str, Any]:
        self._in_batch = True
        try:
            return self._graph_batch_items(payload)
        finally:
            self._in_batch = False

    def _graph_batch_items(self, payload: dict[str, Any]) -> dict[str, Any]:
        responses = []
        for request in payload.get("requests", []):
            parts = urlsplit(request["url"])
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            path = parts.path.lstrip("/")
            fault = self.fake.take_fault("graph:batch-item:" + _graph_route(path))
            if fault is not None and fault.kind == "429":
                responses.append(
                    {
                        "id": request["id"],
                        "status": 429,
                        "headers": {"Retry-After": fault.retry_after or "1"},
                        "body": {"error": {"code": "TooManyRequests"}},
                    }
                )
                continue
            if fault is not None:
                # One item of the batch fails on its own (the $batch reference: each
                # response has its own status), with Graph's error document.
                status, code = BATCH_ITEM_FAULTS[fault.kind]
                body = {"error": {"code": code, "message": f"{code} (injected)"}}
                responses.append({"id": request["id"], "status": status, "body": body})
                continue
            if request.get("method", "GET") == "POST":
                status, body = self._graph_post(path, request.get("body"))
            else:
                status, body = self._graph_get(path, query)
            responses.append({"id": request["id"], "status": status, "body": body})
        return {"responses": responses}

    def _graph_get(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        fake = self.fake
        data = fake.data.graph
        route = _graph_route(path)
        permission = GRAPH_PERMISSIONS.get(route)
        if permission is None:
            return 404, {"error": {"code": "Request_ResourceNotFound", "message": path}}
        if permission not in fake.app.grants:
            return 403, {
                "error": {
                    "code": "Authorization_RequestDenied",
                    "message": "Insufficient privileges to complete the operation.",
                }
            }
        if route == "roleManagement/directory/roleEligibilitySchedules" and not fake.licences["P2"]:
            return 403, {
                "error": {
                    "code": "AadPremiumLicenseRequired",
                    "message": "The tenant needs an AAD Premium 2 license.",
                }
            }
        if route == "identity/conditionalAccess/policies" and not fake.licences["P1"]:
            return 403, {
                "error": {
                    "code": "AccessDenied",
                    "message": "Tenant does not have a premium license for Conditional Access.",
                }
            }
        if route.startswith("reports/") and not fake.licences["P1"]:
            return 403, {
                "error": {
                    "code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                    "message": "Neither tenant is B2C or tenant doesn't have premium license",
                }
            }

        if route == "servicePrincipals":
            return self._service_principals(path, query)
        if path == "policies/identitySecurityDefaultsEnforcementPolicy":
            return 200, _select(data["securityDefaults"], query.get("$select"))
        if route == "groups":
            segments = path.split("/")
            group = data["groups"].get(segments[1])
            if group is None:
                return 404, {
                    "error": {
                        "code": "Request_ResourceNotFound",
                        "message": f"Resource '{segments[1]}' does not exist",
                    }
                }
            if len(segments) == 2:
                return 200, _select(
                    {"id": segments[1], "displayName": group["displayName"]}, query.get("$select")
                )
            return 200, self._page(path, group["members"], query)
        if route == "reports/authenticationMethods/userRegistrationDetails" and path != route:
            uid = path.rsplit("/", 1)[1]
            found = next((r for r in data["userRegistrationDetails"] if r["id"] == uid), None)
            if found is None:
                return 404, {"error": {"code": "Request_ResourceNotFound", "message": uid}}
            return 200, found
        key = {
            "organization": "organization",
            "domains": "domains",
            "roleManagement/directory/roleAssignments": "roleAssignments",
            "roleManagement/directory/roleEligibilitySchedules": "roleEligibilitySchedules",
            "reports/authenticationMethods/userRegistrationDetails": "userRegistrationDetails",
            "identity/conditionalAccess/policies": "conditionalAccessPolicies",
            "directory/subscriptions": "subscriptions",
            "subscribedSkus": "subscribedSkus",
            "users": "users",
            "security/alerts_v2": "securityAlerts",
        }[route]
        items = data[key]
        if key == "securityAlerts":
            # alerts_v2 filters on createdDateTime (among others), as its page documents.
            match = re.fullmatch(r"createdDateTime ge (\S+)", query.get("$filter", ""))
            if "$filter" in query and match is None:
                return 400, {"error": {"code": "BadRequest", "message": "unsupported filter"}}
            if match:
                since = parse_time(match.group(1))
                items = [a for a in items if parse_time(a["createdDateTime"]) >= since]
            return 200, self._page(path, items, query)
        if "$filter" in query:
            if query["$filter"] != "isAdmin eq true" or key != "userRegistrationDetails":
                return 400, {
                    "error": {
                        "code": "BadRequest",
                        "message": f"unsupported filter {query['$filter']}",
                    }
                }
            items = [r for r in items if r.get("isAdmin")]
        body = self._page(path, items, query)
        if query.get("$expand") != "principal" and key.startswith("role"):
            # Without $expand, assignments come without their principal: only this page's
            # records are copied (copying every user on every page cost the fake seconds).
            body["value"] = [
                {k: v for k, v in r.items() if k != "principal"} for r in body["value"]
            ]
        return 200, body

    def _service_principals(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        """servicePrincipals(appId='...'), servicePrincipals/{id} and
        servicePrincipals/{id}/appRoleAssignedTo, as Graph addresses them."""
        sps = self.fake.data.graph["servicePrincipals"]
        by_app = re.fullmatch(r"servicePrincipals\(appId='([^']+)'\)", path)
        if by_app:
            found = next((sp for sp in sps.values() if sp["appId"] == by_app.group(1)), None)
        else:
            parts = path.split("/")
            found = sps.get(parts[1]) if len(parts) >= 2 else None
            if found is not None and parts[2:] == ["appRoleAssignedTo"]:
                assigned = self.fake.data.graph["appRoleAssignedTo"].get(found["id"], [])
                return 200, self._page(path, assigned, query)
            if len(parts) > 2:
                found = None
        if found is None:
            return 404, {"error": {"code": "Request_ResourceNotFound", "message": path}}
        return 200, _select(found, query.get("$select"))

    def _page(self, path: str, items: list[dict[str, Any]], query: dict[str, str]) -> Any:
        """Graph pages at 100 unless `$top` asks for more (up to 999 for directory objects);
        `graph_page_size` caps it, so small tests still page."""
        size = min(int(query.get("$top") or 100), 999, self.fake.graph_page_size)
        offset = int(query.get("$skiptoken", "0"))
        in_batch = getattr(self, "_in_batch", False)
        with self.fake._lock:
            if not in_batch:
                self.fake.list_pages += 1
            if offset == 0:
                # $top is documented for directory objects (users, group members): 999.
                cap = 999 if path.startswith(("users", "groups/")) else 100
                fewest = max(1, -(-len(items) // cap))
                self.fake.list_pages_minimum += fewest - (1 if in_batch else 0)
        chunk = [
            _select(i, query.get("$select"), keep=("principal",))
            for i in items[offset : offset + size]
        ]
        body: dict[str, Any] = {
            "@odata.context": f"{self.fake.base}/graph/v1.0/$metadata",
            "value": chunk,
        }
        if offset + size < len(items):
            rest = {k: v for k, v in query.items() if k != "$skiptoken"}
            rest["$skiptoken"] = str(offset + size)
            body["@odata.nextLink"] = (
                f"{self.fake.base}/graph/v1.0/{path}?{urlencode(rest, quote_via=quote)}"
            )
        return body

    # --- Exchange ----------------------------------------------------------------------------

    def _exchange_error(self, status: int, exception: str, text: str) -> None:
        """The gateway's error shape: `message` says little, the cause is in `details` (and
        in `innererror`), as public clients read it."""
        self._send(
            status,
            {
                "error": {
                    "code": "BadRequest" if status == 400 else "Error",
                    "message": "Invalid Operation",
                    "details": [
                        {"code": "Context", "target": "", "message": f"|{exception}|{text}"}
                    ],
                    "innererror": {
                        "message": text,
                        "type": exception,
                        "internalexception": {"message": text, "type": exception},
                    },
                }
            },
        )

    def _exchange(self, path: str, query: dict[str, str], raw: bytes) -> None:
        fake = self.fake
        if self._expired():
            return
        resource = self._token_resource()
        if resource != "exchange" or EXCHANGE_APP_PERMISSION not in fake.app.grants:
            self._graph_error(
                401, "Unauthorized", "The access token is invalid or lacks Exchange.ManageAsApp."
            )
            return
        tenant = path.split("/")[4]
        with fake._lock:
            fake.exchange_tenants[tenant] += 1
            fake.anchors[self.headers.get("X-AnchorMailbox") or ""] += 1
        if tenant.lower() != fake.data.tenant_id:
            # Public clients report 401 for a vanity domain here: only the GUID is accepted.
            self._graph_error(401, "Unauthorized", f"tenant {tenant} is not a tenant id")
            return
        try:
            cmdlet_input = json.loads(raw)["CmdletInput"]
            cmdlet = cmdlet_input["CmdletName"]
            parameters = cmdlet_input["Parameters"]
            if parameters is None:
                raise TypeError("Parameters must be an object")
        except (ValueError, KeyError, TypeError) as exc:
            self._graph_error(400, "BadRequest", f"bad CmdletInput: {exc}")
            return
        if self._apply_fault(f"exchange:{cmdlet}"):
            return
        if EXCHANGE_ROLE not in fake.app.grants:
            self._send(403, b"\x00" * 12)  # what the gateway does without a directory role
            return
        if cmdlet == "Get-MessageTraceV2":
            self._message_trace(parameters)
            return
        records = fake.data.exchange.get(cmdlet)
        if records is None:
            self._exchange_error(
                400,
                "System.Management.Automation.CommandNotFoundException",
                f"The term '{cmdlet}' is not recognized as a name of a cmdlet.",
            )
            return
        if cmdlet == "Get-InboxRule":
            mailbox = str(parameters.get("Mailbox") or "").lower()
            known = {
                str(m["PrimarySmtpAddress"]).lower() for m in fake.data.exchange["Get-Mailbox"]
            }
            if mailbox not in known:
                self._exchange_error(
                    400,
                    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                    f"The operation couldn't be performed because object '{mailbox}' couldn't "
                    "be found.",
                )
                return
            records = fake.data.inbox_rules.get(mailbox, [])
        if "$skiptoken" in query and fake.refuse_replay:
            self._graph_error(400, "BadRequest", REPLAY_REFUSED)
            return
        if cmdlet in FILTERED_CMDLETS:
            kind = parameters.get("RecipientTypeDetails")
            if kind is not None:
                records = [r for r in records if r.get("RecipientTypeDetails") == kind]
            opath = parameters.get("Filter")
            if opath is not None and fake.refuse_filters:
                self._exchange_error(
                    400,
                    "Microsoft.Exchange.Management.Tasks.InvalidFilterException",
                    f"Cannot bind parameter 'Filter': the property in {opath!r} can't be used in "
                    "filters",
                )
                return
            if opath is not None:
                if opath not in FILTERS:
                    self._exchange_error(
                        400,
                        "Microsoft.Exchange.Management.Tasks.InvalidFilterException",
                        f"the fake evaluates only the filters it knows, not {opath!r}",
                    )
                    return
                records = [r for r in records if FILTERS[opath](r)]
            if parameters.get("ResultSize") != "Unlimited":
                records = records[:1000]
        size = fake.exchange_page_size
        if fake.honour_prefer:
            size = min(size, _max_page_size(self.headers.get("Prefer")))
        offset = int(query.get("$skiptoken", "0"))
        with fake._lock:
            fake.list_pages += 1
            if offset == 0:  # Prefer: odata.maxpagesize=1000 is the gateway's largest page
                fake.list_pages_minimum += max(1, -(-len(records) // 1000))
        body: dict[str, Any] = {
            "@odata.context": f"{fake.base}/exchange/adminapi/beta/$metadata",
            "@adminapi.warnings": [],
            "value": records[offset : offset + size],
        }
        if self._truncated:
            body["@adminapi.warnings"] = [
                "WARNING: There are more results available than currently displayed. The "
                "output has been truncated."
            ]
        elif offset + size < len(records):
            body["@odata.nextLink"] = f"{fake.base}{path}?$skiptoken={offset + size}"
        self._send(200, body)

    def _message_trace(self, parameters: dict[str, Any]) -> None:
        """Get-MessageTraceV2 as the docs and live fixtures describe it: rows newest first,
        ties by recipient; at most ResultSize rows and, when there are more, no nextLink but a
        warning naming the next query. That query (EndDate = the last row's Received,
        StartingRecipientAddress = its recipient) starts at the boundary row again. Times
        compare to the tick: seven decimals."""
        try:
            start = ticks(str(parameters["StartDate"]))
            end = ticks(str(parameters["EndDate"]))
            size = int(parameters.get("ResultSize", 1000))
            span = parse_time(str(parameters["EndDate"])) - parse_time(str(parameters["StartDate"]))
        except (KeyError, ValueError) as exc:
            self._exchange_error(400, "System.ArgumentException", f"bad parameters: {exc}")
            return
        if size > TRACE_MAX_RESULT_SIZE or span.total_seconds() > 10 * 86400:
            self._exchange_error(
                400,
                "System.ArgumentException",
                "ResultSize over 5000 or a period over 10 days",
            )
            return
        with self.fake._lock:
            self.fake.trace_queries += 1
        after = parameters.get("StartingRecipientAddress")

        # Rows are newest first: the window is one slice, found by bisection (a busy tenant's
        # million rows must not be scanned per query, or the fake, not the tool, is measured).
        all_rows = self.fake.data.trace_rows
        keys = self.fake.trace_keys()
        low = bisect.bisect_left(keys, -end)
        high = bisect.bisect_right(keys, -start)
        skipped = 0
        if after:
            while (
                low + skipped < high
                and keys[low + skipped] == -end
                and all_rows[low + skipped]["RecipientAddress"] < after
            ):
                skipped += 1
        rows = all_rows[low + skipped : min(high, low + skipped + size)]
        warnings = []
        if self._truncated:  # fault `truncate`: part of the rows, and no way to the rest
            rows = rows[: len(rows) // 2]
            warnings.append(
                "WARNING: There are more results available than currently displayed. The "
                "output has been truncated."
            )
        elif high - low - skipped > size:
            last = rows[-1]
            # The warning's EndDate carries whole seconds, as in the published examples.
            shown = parse_time(last["Received"]).strftime("%Y-%m-%dT%H:%M:%SZ")
            warnings.append(
                "There are more results, use the following command to get more. "
                f'Get-MessageTraceV2 -StartDate "{parameters["StartDate"]}" -EndDate "{shown}" '
                f'-StartingRecipientAddress "{last["RecipientAddress"]}" -ResultSize {size}'
            )
        with self.fake._lock:
            self.fake.trace_rows_served += len(rows)
        self._send(200, {"@adminapi.warnings": warnings, "value": rows})


def _max_page_size(prefer: str | None) -> int:
    """`Prefer: odata.maxpagesize=N`, which the gateway honours."""
    for part in (prefer or "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip() == "odata.maxpagesize" and value.strip().isdigit():
            return int(value)
    return 1000


def _graph_route(path: str) -> str:
    if path.startswith("groups/"):
        return "groups"
    if path.startswith("servicePrincipals"):
        return "servicePrincipals"
    for route in GRAPH_PERMISSIONS:
        if path == route or path.startswith(route + "/"):
            return route
    return path


def _select(item: dict[str, Any], select: str | None, keep: tuple[str, ...] = ()) -> Any:
    if not select:
        return item
    fields = set(select.split(",")) | set(keep)
    return {k: v for k, v in item.items() if k in fields or k.startswith("@odata.")}
