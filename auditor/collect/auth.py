"""Tokens for Graph and Exchange with msal: certificate, secret, GitHub federation, device code,
Azure managed identity.

One token per resource, acquired once and reused for the run. A failure is one line naming
the likely cause; no secret, assertion or token ever appears in it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msal
import requests

from auditor.collect.clouds import GLOBAL_AUDIENCE, Cloud
from auditor.collect.deadline import NO_DEADLINE, Deadline
from auditor.common.redact import redact, register

GITHUB_AUDIENCE = GLOBAL_AUDIENCE

# msal logs a token answer it cannot parse, body and all (the access token included), and
# Python prints any unhandled log record to stderr: past every redaction. Its records go
# nowhere; each failure reaches the user as one redacted line (AuthError) instead.
_MSAL_LOG = logging.getLogger("msal")
_MSAL_LOG.addHandler(logging.NullHandler())
_MSAL_LOG.propagate = False

# AADSTS codes an admin meets while setting the app up, with what to do about them.
_HINTS = {
    "AADSTS90002": "tenant not found: check --tenant (and --cloud)",
    "AADSTS900023": "the tenant is not a valid tenant id or domain: check --tenant",
    "AADSTS700016": "application not found in this tenant: check --client-id and --tenant, "
    "and that the app registration exists there",
    "AADSTS7000215": "invalid client secret: it is wrong or expired; create a new one",
    "AADSTS7000222": "the client secret has expired: create a new one",
    "AADSTS700027": "the certificate is not accepted: upload its public part to the app "
    "registration (Certificates & secrets), or use --send-x5c for subject-name/issuer auth",
    "AADSTS700024": "the client assertion is outside its validity window: check the clock",
    "AADSTS70021": "no federated credential matches this token: check the issuer, subject "
    "and audience of the app's federated credential",
    "AADSTS700213": "no federated credential matches this workflow's subject: add one for "
    "this repository, branch or environment",
    "AADSTS700211": "no federated credential matches this token's issuer",
    "AADSTS65001": "the app's permissions are not consented: grant admin consent",
    "AADSTS50034": "the user account does not exist in this tenant",
    "AADSTS50126": "invalid user name or password",
    "AADSTS7000218": "the request needs a client secret or certificate: the app is not set "
    "up as a public client for device code sign-in",
}


class AuthError(Exception):
    def __init__(self, message: str):
        super().__init__(redact(" ".join(message.split())))


def describe_failure(result: dict[str, Any]) -> str:
    """One line from msal's error result: the hint for a known AADSTS code, else its text."""
    description = str(result.get("error_description") or "")
    code = description.split(":", 1)[0].strip() if description.startswith("AADSTS") else ""
    hint = _HINTS.get(code)
    first = description.splitlines()[0] if description else str(result.get("error", "unknown"))
    if hint:
        return f"{code}: {hint}"
    return first[:300]


@dataclass(frozen=True)
class Certificate:
    """A PEM file holding the private key and the certificate, or a PFX."""

    path: Path
    password_env: str = "M365_AUDIT_CERTIFICATE_PASSWORD"
    send_x5c: bool = False

    def credential(self) -> dict[str, Any]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization

        password = os.environ.get(self.password_env) or None
        register(password)
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise AuthError(f"{self.path}: cannot read the certificate: {exc.strerror}") from None
        if self.path.suffix.lower() in (".pfx", ".p12"):
            credential: dict[str, Any] = {"private_key_pfx_path": str(self.path)}
            if password:
                credential["passphrase"] = password
            if self.send_x5c:
                credential["public_certificate"] = True
            return credential
        try:
            certificate = x509.load_pem_x509_certificate(raw)
            key = serialization.load_pem_private_key(
                raw, password=password.encode() if password else None
            )
        except (ValueError, TypeError) as exc:
            raise AuthError(
                f"{self.path}: expected a PEM file with the private key and the certificate "
                f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
            ) from None
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        # The thumbprint always goes too: msal before 1.35 refuses a PEM credential without it,
        # even when the certificate itself is sent for subject-name/issuer auth.
        credential = {
            "private_key": key_pem,
            "thumbprint": certificate.fingerprint(hashes.SHA1()).hex().upper(),
        }
        if self.send_x5c:
            credential["public_certificate"] = certificate.public_bytes(
                serialization.Encoding.PEM
            ).decode()
        return credential


@dataclass(frozen=True)
class ClientSecret:
    env: str = "M365_AUDIT_CLIENT_SECRET"

    def credential(self) -> str:
        secret = os.environ.get(self.env)
        if not secret:
            raise AuthError(f"the client secret is read from ${self.env}, which is not set")
        register(secret)
        return secret


@dataclass(frozen=True)
class GitHubFederation:
    """GitHub Actions' OIDC token as the client assertion: a workflow holds no secret. The
    audience is the cloud's (`api://AzureADTokenExchange` in the global cloud) unless given."""

    audience: str | None = None
    timeout: float = 30.0

    def assertion(self) -> str:
        url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
        request_token = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        if not url or not request_token:
            raise AuthError(
                "GitHub federation needs ACTIONS_ID_TOKEN_REQUEST_URL and "
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN: give the job 'permissions: id-token: write'"
            )
        register(request_token)
        separator = "&" if "?" in url else "?"
        try:
            response = requests.get(
                f"{url}{separator}audience={self.audience or GITHUB_AUDIENCE}",
                headers={"Authorization": f"bearer {request_token}"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise AuthError(f"GitHub OIDC token request failed: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise AuthError(f"GitHub OIDC token request answered HTTP {response.status_code}")
        try:
            token = response.json()["value"]
        except (ValueError, KeyError, TypeError):
            raise AuthError("GitHub OIDC token answer has no 'value'") from None
        register(token)
        return token

    def credential(self) -> dict[str, Any]:
        # A callable: msal asks again when the assertion it has is about to expire.
        return {"client_assertion": self.assertion}


@dataclass(frozen=True)
class DeviceCode:
    """An admin at a terminal signs in; delegated permissions apply."""

    prompt: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ManagedIdentity:
    """The Azure managed identity of the VM, Function, App Service or Automation account the
    tool runs in: no secret anywhere. `client_id` names a user-assigned identity; None means
    the system-assigned one. msal finds the endpoint from the environment (IDENTITY_ENDPOINT
    and IDENTITY_HEADER on App Service, Functions and Automation; IMDS on a VM)."""

    client_id: str | None = None


Credential = Certificate | ClientSecret | GitHubFederation | DeviceCode | ManagedIdentity


class _TimedSession(requests.Session):
    """msal's HTTP: every request gets connect and read timeouts cut to the deadline, and no
    retry of its own (msal's default session retries a read that timed out, doubling it)."""

    def __init__(self, timeouts: tuple[float, float], deadline: Deadline):
        super().__init__()
        self._timeouts = timeouts
        self._deadline = deadline

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        connect, read = self._timeouts
        kwargs["timeout"] = (self._deadline.bound(connect), self._deadline.bound(read))
        return super().request(method, url, *args, **kwargs)


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, read without verifying it: only to learn the tenant's
    GUID (`tid`) and the signed-in user (`upn`) from a token Entra ID has just issued us. An
    opaque token has none."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _lifetime(result: dict[str, Any]) -> float:
    """Seconds the token is good for: msal's `expires_in` (for a managed identity too), or
    an hour, Entra ID's default, when it cannot be read."""
    try:
        return float(result["expires_in"])
    except (KeyError, TypeError, ValueError):
        return 3600.0


class TokenSource:
    """Tokens per scope for one tenant and app, cached for the run. Every request msal makes
    (discovery, token) has a connect and a read timeout, cut to the deadline."""

    def __init__(
        self,
        cloud: Cloud,
        tenant: str,
        client_id: str,
        credential: Credential,
        http_client: requests.Session | None = None,
        timeouts: tuple[float, float] = (10.0, 120.0),
        deadline: Deadline = NO_DEADLINE,
    ):
        self.cloud = cloud
        self.tenant = tenant
        self.client_id = client_id
        if isinstance(credential, GitHubFederation) and credential.audience is None:
            credential = replace(credential, audience=cloud.federation_audience)
        self.credential = credential
        self._http = http_client
        self.timeouts = timeouts
        self.deadline = deadline
        self._app: Any = None  # msal.ClientApplication or msal.ManagedIdentityClient
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, good until)
        self._cache = msal.TokenCache()  # ours, so that a token the service refused can go
        self._lock = threading.Lock()

    def _application(self) -> Any:
        if self._app is not None:
            return self._app
        if isinstance(self.credential, ManagedIdentity):
            identity = (
                msal.UserAssignedManagedIdentity(client_id=self.credential.client_id)
                if self.credential.client_id
                else msal.SystemAssignedManagedIdentity()
            )
            self._app = msal.ManagedIdentityClient(
                identity,
                http_client=self._http or _TimedSession(self.timeouts, self.deadline),
                token_cache=self._cache,
            )
            return self._app
        options: dict[str, Any] = {"authority": self.cloud.authority(self.tenant)}
        if self.cloud.overridden_authority:
            # msal would first ask login.microsoftonline.com to validate an unknown host.
            options["instance_discovery"] = False
        options["http_client"] = self._http or _TimedSession(self.timeouts, self.deadline)
        options["token_cache"] = self._cache
        try:
            if isinstance(self.credential, DeviceCode):
                self._app = msal.PublicClientApplication(self.client_id, **options)
            else:
                self._app = msal.ConfidentialClientApplication(
                    self.client_id, client_credential=self.credential.credential(), **options
                )
        except AuthError:
            raise
        except requests.Timeout:
            raise self._no_answer() from None
        except Exception as exc:  # msal raises ValueError and others for unusable inputs
            raise AuthError(
                f"cannot use authority {options['authority']}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
        return self._app

    def renew(self, scope: str, stale: str) -> str:
        """A new token for `scope` after a service refused `stale` (401: it expired early,
        or was revoked): `stale` is forgotten here and in msal's cache, then one is asked
        for. A token another thread renewed already is returned as it is."""
        with self._lock:
            if self._tokens.get(scope, ("",))[0] == stale:
                del self._tokens[scope]
            for entry in list(self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                if entry.get("secret") == stale:
                    self._cache.remove_at(entry)
        return self.token(scope)

    def token(self, scope: str) -> str:
        with self._lock:
            cached = self._tokens.get(scope)
            # A token is used until five minutes before it expires: a long run (message
            # trace of a large tenant) outlives the first one.
            if cached and time.monotonic() < cached[1]:
                return cached[0]
            if self.deadline.expired():
                raise AuthError(f"{self.deadline.message('sign-in finished')} for {scope}")
            app = self._application()
            try:
                if isinstance(self.credential, DeviceCode):
                    result = self._device_flow(app, scope)
                elif isinstance(self.credential, ManagedIdentity):
                    # Managed identity endpoints take a resource, not a scope.
                    result = app.acquire_token_for_client(resource=scope.removesuffix("/.default"))
                else:
                    result = app.acquire_token_for_client(scopes=[scope])
            except AuthError:
                raise
            except requests.Timeout:
                raise self._no_answer() from None
            except Exception as exc:
                if isinstance(self.credential, ManagedIdentity) and isinstance(
                    exc, requests.ConnectionError
                ):
                    raise AuthError(
                        "no managed identity endpoint answered: --managed-identity works on an "
                        "Azure VM, Function, App Service or Automation account that has one"
                    ) from None
                raise AuthError(
                    f"token request to {self.cloud.authority_host} failed: "
                    f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                ) from None
            if "access_token" not in result:
                raise AuthError(f"sign-in for {scope} failed: {describe_failure(result)}")
            token = result["access_token"]
            register(token)
            lifetime = _lifetime(result)
            self._tokens[scope] = (token, time.monotonic() + max(0.0, lifetime - 300))
            return token

    def _no_answer(self) -> AuthError:
        waited = min(self.timeouts[1], self.deadline.seconds)
        return AuthError(
            f"{self.cloud.authority_host} did not answer within {waited:g} s (the read "
            "timeout, or the deadline if sooner): check --authority, --cloud and the network "
            "path to the sign-in endpoint"
        )

    def _device_flow(self, app: msal.ClientApplication, scope: str) -> dict[str, Any]:
        assert isinstance(self.credential, DeviceCode)
        accounts = app.get_accounts()
        if accounts:
            cached = app.acquire_token_silent([scope], account=accounts[0])
            if cached and "access_token" in cached:
                return cached
        flow = app.initiate_device_flow(scopes=[scope])
        if "user_code" not in flow:
            return flow
        self.credential.prompt(flow["message"])
        return app.acquire_token_by_device_flow(flow)
