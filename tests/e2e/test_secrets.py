"""No secret leaves the process, whatever the services send back (issue 16, "Secrets").

The fake tenant is told to echo every secret of each request (the Authorization header, the
client secret or assertion of a token request, the certificate password) into every error it
answers, raw, URL-encoded, base64 and JSON-escaped; the SIEM collector and the webhook echo
theirs. Every command runs against it; every byte of stdout, stderr and every file written is
searched for every secret in each of those encodings."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus

from tests.e2e.test_live import DEMO_FINDINGS_ARGS, cli
from tests.e2e.test_siem import flush
from tests.fake_tenant import Fault

WRONG_SECRET = "wrong-but-secret-value-8f3a1c"
SIEM_TOKEN = "hec-token-5d0c9e2b7a4f"
HOOK_SECRET = "T0001/B0002/s3cr3tw3bh00kpath"


def encodings(secret: str) -> set[str]:
    return {
        form
        for form in (
            secret,
            quote(secret, safe=""),
            quote_plus(secret),
            base64.b64encode(secret.encode()).decode(),
            json.dumps(secret)[1:-1],
        )
        if len(form) >= 6
    }


class Echo:
    """An HTTP endpoint that answers every POST with 400 and the request's secrets in the
    body: a SIEM collector or a webhook that echoes what it got."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                said = f"{self.headers.get('Authorization')} {self.path}"
                said += " " + base64.b64encode(said.encode()).decode() + " " + quote(said, safe="")
                body = json.dumps({"text": f"Invalid token {said}", "code": 4}).encode()
                self.send_response(400)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_no_secret_in_any_output_when_every_service_echoes_them(fake, tmp_path):
    fake.echo = True
    fake.revoke("Domain.Read.All")  # 403s from Graph, with the echo
    fake.inject("exchange:Get-InboundConnector", Fault("nul-403", times=99))
    fake.inject("graph:users", Fault("503", times=99))
    fake.inject("exchange:Get-Mailbox", Fault("exchange-throttle", times=1))
    echo = Echo()
    out = tmp_path / "out"
    out.mkdir()
    try:
        runs = [
            cli(
                fake,
                "run",
                *DEMO_FINDINGS_ARGS,
                "-o",
                str(out / "r.json"),
                "--format",
                "html",
                "-o",
                str(out / "r.html"),
                "--format",
                "markdown",
                "-o",
                str(out / "r.md"),
                "--format",
                "sarif",
                "-o",
                str(out / "r.sarif"),
                "--format",
                "ocsf",
                "-o",
                str(out / "r.ocsf"),
                "--save-snapshot",
                str(out / "s.json"),
                "--retries",
                "0",
                "--siem-url",
                f"{echo.base}/services/collector/event",
                "--siem-spool",
                str(out),
                "--notify-webhook",
                f"{echo.base}/services/{HOOK_SECRET}",
                env={"M365_AUDIT_SIEM_TOKEN": SIEM_TOKEN},
            ),
            cli(fake, "collect", "-o", str(out / "c.json"), "--retries", "0", "--verbose"),
            cli(
                fake,
                "collect",
                "-o",
                str(out / "p.json"),
                "--check",
                "ADM-001",
                "--certificate",
                str(fake.materials.client_pfx),
                env={"M365_AUDIT_CERTIFICATE_PASSWORD": fake.materials.pfx_password},
                auth="none",
            ),
            cli(
                fake,
                "collect",
                "-o",
                str(out / "g.json"),
                "--check",
                "CONN-001",
                env=fake.github_env(),
                auth="none",
            ),
            cli(fake, "doctor"),
            cli(
                fake,
                "collect",
                "-o",
                str(out / "w.json"),
                env={"M365_AUDIT_CLIENT_SECRET": WRONG_SECRET},
                auth="none",
            ),
        ]
        runs.append(flush(f"{echo.base}/services/collector/event", out, SIEM_TOKEN))
    finally:
        echo.close()

    assert fake.issued, "the runs signed in"
    assert any("echo:" in r.stderr or "echo:" in r.stdout for r in runs) or any(
        "echo:" in p.read_text(errors="replace") for p in out.iterdir()
    ), "the echoes reached the tool (else this test proves nothing)"
    assert list(out.glob("m365-audit-undelivered-*")), "the SIEM refused, the events were kept"
    secrets = [
        fake.app.secret,
        WRONG_SECRET,
        fake.materials.pfx_password,
        fake.github_request_token,
        SIEM_TOKEN,
        HOOK_SECRET,
        *fake.issued,
    ]
    texts = {f"run {i} stdout": r.stdout for i, r in enumerate(runs)}
    texts |= {f"run {i} stderr": r.stderr for i, r in enumerate(runs)}
    texts |= {str(p): p.read_bytes().decode("utf-8", "replace") for p in out.rglob("*")}
    leaks = [
        f"{where}: a form of secret {n}"
        for where, text in texts.items()
        for n, secret in enumerate(secrets)
        for form in encodings(secret)
        if form in text
    ]
    assert leaks == []
    assert not [where for where, text in texts.items() if "eyJ" in text]  # no JWT at all
