"""Credentials, sign-in errors, clouds and redaction."""

from __future__ import annotations

import pytest
import responses
from cryptography.hazmat.primitives import hashes

from auditor.collect.auth import (
    AuthError,
    Certificate,
    ClientSecret,
    GitHubFederation,
    TokenSource,
    describe_failure,
    token_claims,
)
from auditor.collect.clouds import resolve
from auditor.common.redact import MASK, redact, register
from tests.fake_tenant import ca


@pytest.fixture(scope="module")
def materials(tmp_path_factory):
    return ca.make(tmp_path_factory.mktemp("ca"))


class TestCredentials:
    def test_pem_certificate_gives_key_and_sha1_thumbprint(self, materials):
        credential = Certificate(materials.client_pem).credential()
        assert credential["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
        assert credential["thumbprint"] == (
            materials.client_cert.fingerprint(hashes.SHA1()).hex().upper()
        )
        assert "public_certificate" not in credential

    def test_send_x5c_passes_the_certificate_and_still_the_thumbprint(self, materials):
        """msal before 1.35 refuses a PEM credential without a thumbprint, x5c or not."""
        credential = Certificate(materials.client_pem, send_x5c=True).credential()
        assert credential["public_certificate"].startswith("-----BEGIN CERTIFICATE-----")
        assert credential["thumbprint"] == (
            materials.client_cert.fingerprint(hashes.SHA1()).hex().upper()
        )

    def test_pfx_takes_its_password_from_the_environment(self, materials, monkeypatch):
        monkeypatch.setenv("M365_AUDIT_CERTIFICATE_PASSWORD", materials.pfx_password)
        credential = Certificate(materials.client_pfx).credential()
        assert credential == {
            "private_key_pfx_path": str(materials.client_pfx),
            "passphrase": materials.pfx_password,
        }
        assert materials.pfx_password not in redact(f"pass {materials.pfx_password}")

    def test_a_pem_without_a_key_is_one_clear_line(self, materials, tmp_path):
        only_cert = tmp_path / "cert.pem"
        only_cert.write_bytes(materials.ca_file.read_bytes())
        with pytest.raises(AuthError, match="expected a PEM file with the private key"):
            Certificate(only_cert).credential()

    def test_missing_certificate_file(self, tmp_path):
        with pytest.raises(AuthError, match="cannot read the certificate"):
            Certificate(tmp_path / "none.pem").credential()

    def test_client_secret_only_from_the_environment(self, monkeypatch):
        monkeypatch.delenv("MY_SECRET", raising=False)
        with pytest.raises(AuthError, match=r"\$MY_SECRET, which is not set"):
            ClientSecret("MY_SECRET").credential()
        monkeypatch.setenv("MY_SECRET", "s3cr3t-value-xyz")
        assert ClientSecret("MY_SECRET").credential() == "s3cr3t-value-xyz"
        assert "s3cr3t-value-xyz" not in redact("oops s3cr3t-value-xyz")

    @responses.activate
    def test_github_federation_asks_for_the_entra_audience(self, monkeypatch):
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "https://gh.test/token?api-version=2")
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token-123")
        responses.get("https://gh.test/token", json={"value": "header.payload.signature-xyz"})
        assert GitHubFederation().assertion() == "header.payload.signature-xyz"
        sent = responses.calls[0].request
        assert "audience=api://AzureADTokenExchange" in sent.url
        assert sent.headers["Authorization"] == "bearer request-token-123"

    def test_github_federation_outside_a_workflow(self, monkeypatch):
        monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_URL", raising=False)
        with pytest.raises(AuthError, match="id-token: write"):
            GitHubFederation().assertion()


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (
            "AADSTS700016: Application with identifier 'x' was not found.\r\nTrace ID: 1",
            "AADSTS700016: application not found in this tenant",
        ),
        (
            "AADSTS700027: Client assertion failed signature validation.",
            "AADSTS700027: the certificate is not accepted",
        ),
        (
            "AADSTS700213: No matching federated identity record found",
            "AADSTS700213: no federated credential matches this workflow's subject",
        ),
        ("AADSTS12345: Something new.\r\nTrace ID: 2", "AADSTS12345: Something new."),
    ],
)
def test_sign_in_failures_name_the_likely_cause(description, expected):
    assert describe_failure({"error": "x", "error_description": description}).startswith(expected)


class TestClouds:
    def test_each_cloud_has_its_endpoints(self):
        high = resolve("usgovhigh")
        assert high.authority("contoso.us") == "https://login.microsoftonline.us/contoso.us"
        assert high.exchange_scope == "https://outlook.office365.us/.default"
        assert resolve("dod").graph_url == "https://dod-graph.microsoft.us"
        assert resolve("usgov").graph_url == "https://graph.microsoft.com"

    def test_overrides_must_be_https(self):
        with pytest.raises(ValueError, match="must be an https:// URL"):
            resolve("global", graph_url="http://graph.test")
        with pytest.raises(ValueError, match="unknown cloud"):
            resolve("mars")

    def test_overridden_authority_is_flagged(self):
        assert resolve("global", authority="https://127.0.0.1:1").overridden_authority
        assert not resolve("global").overridden_authority

    @pytest.mark.parametrize(
        "authority",
        ["https://login.example.test", "https://login.example.test/"],
    )
    def test_authority_as_a_host_takes_the_tenant_from_tenant(self, authority):
        cloud = resolve("global", authority=authority)
        assert cloud.authority("contoso.com") == "https://login.example.test/contoso.com"

    def test_a_full_authority_is_not_given_the_tenant_twice(self):
        cloud = resolve("global", authority="https://login.example.test/contoso.onmicrosoft.com")
        assert cloud.authority("contoso.com") == (
            "https://login.example.test/contoso.onmicrosoft.com"
        )
        assert cloud.authority_host == "https://login.example.test"

    def test_an_authority_with_more_path_is_refused(self):
        with pytest.raises(ValueError, match="a host or https://host/<tenant>"):
            resolve("global", authority="https://login.example.test/contoso.com/v2.0")

    @pytest.mark.parametrize(
        ("cloud", "audience"),
        [
            ("global", "api://AzureADTokenExchange"),
            ("usgov", "api://AzureADTokenExchange"),  # GCC signs in to the global cloud
            ("usgovhigh", "api://AzureADTokenExchangeUSGov"),
            ("dod", "api://AzureADTokenExchangeUSGov"),
            ("china", "api://AzureADTokenExchangeChina"),
        ],
    )
    def test_the_federated_audience_follows_the_cloud(self, cloud, audience):
        tokens = TokenSource(resolve(cloud), "contoso.com", "app", GitHubFederation())
        assert tokens.credential.audience == audience
        given = TokenSource(resolve(cloud), "c", "app", GitHubFederation("api://custom"))
        assert given.credential.audience == "api://custom"


class TestTokenClaims:
    def test_a_jwt_s_claims_are_read_without_verification(self):
        import base64
        import json

        payload = base64.urlsafe_b64encode(json.dumps({"tid": "t-1", "upn": "a@b"}).encode())
        token = f"eyJhbGciOiJub25lIn0.{payload.decode().rstrip('=')}.sig"
        assert token_claims(token) == {"tid": "t-1", "upn": "a@b"}

    @pytest.mark.parametrize("token", ["opaque-token", "a.b.c", "a.bm90IGpzb24.c"])
    def test_an_opaque_or_broken_token_has_no_claims(self, token):
        assert token_claims(token) == {}


class TestRedaction:
    def test_jwts_bearer_tokens_and_form_secrets_are_masked(self):
        text = (
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc and Bearer abcdefgh12345 "
            "client_secret=hunter2hunter2&x=1"
        )
        masked = redact(text)
        assert "eyJ" not in masked and "abcdefgh12345" not in masked
        assert "hunter2" not in masked
        assert masked.count(MASK) == 3

    def test_a_jwt_cut_short_is_masked_too(self):
        """A service's message cut at its length limit can end inside the token: header and
        part of the claims, no second dot (found by tests/e2e/test_secrets.py)."""
        assert redact("denied: eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJodHRw") == (
            f"denied: {MASK}"
        )
        assert redact("eyJhbGci") == "eyJhbGci"  # too short to be a token

    def test_a_password_in_a_url_is_masked(self):
        """Issue 16, defect 6: `--siem-url https://user:pass@host/` in an error line."""
        masked = redact("failed: https://splunk:hunter2secret@hec.example:8088/collector")
        assert masked == f"failed: https://splunk:{MASK}@hec.example:8088/collector"
        assert redact("https://learn.microsoft.com/a:b user@host") == (
            "https://learn.microsoft.com/a:b user@host"
        )

    def test_a_secret_is_masked_in_every_encoding_it_travels_in(self):
        """Issue 16, defect 7: a server that echoes the form-encoded secret leaked it."""
        import base64 as b64
        import json as _json
        from urllib.parse import quote

        secret = "s3cr=t+value/with&odd chars"
        register(secret)
        for form in (
            secret,
            quote(secret, safe=""),
            _json.dumps(secret)[1:-1],
            b64.b64encode(secret.encode()).decode(),
        ):
            assert MASK in redact(f"AADSTS9999: bad client_secret {form} given")
            assert form not in redact(f"echo: {form}")

    def test_registered_secrets_are_masked_anywhere(self):
        register("plain-looking-secret-42")
        assert redact("the value plain-looking-secret-42 leaked") == f"the value {MASK} leaked"

    def test_short_values_are_not_registered(self):
        register("abc")
        assert redact("abc") == "abc"
