"""Sign-in works with the oldest msal pyproject.toml allows, not only with the newest: a venv
with exactly that version signs in to the fake tenant with every kind of credential.

msal 1.29 took no PFX with `public_certificate: True` (--send-x5c); before 1.35 a PEM
credential needed its thumbprint even with the certificate sent. Needs the package index (CI
has it); without it, and without CI set, the test is skipped with the reason."""

from __future__ import annotations

import os
import re
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(900)


def floor() -> str:
    match = re.search(r'"msal>=([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    assert match, "pyproject.toml states no msal floor"
    return match.group(1)


@pytest.fixture(scope="module")
def python(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("msal-floor")
    venv.EnvBuilder(with_pip=True).create(base / "venv")
    python = base / "venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(ROOT), f"msal=={floor()}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        offline = any(
            word in done.stderr
            for word in ("No matching distribution", "Could not find", "NewConnectionError")
        )
        if offline and os.environ.get("CI", "").lower() in ("", "0", "false", "no"):
            pytest.skip(f"msal=={floor()} could not be installed (no package index?)")
        pytest.fail(f"installing msal=={floor()} failed: {done.stderr[-500:]}")
    return python


def test_the_venv_holds_the_floor_version(python):
    done = subprocess.run(
        [str(python), "-c", "import msal; print(msal.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    installed = [int(part) for part in done.stdout.strip().split(".")]
    wanted = [int(part) for part in floor().split(".")]
    assert installed == wanted + [0] * (len(installed) - len(wanted))


@pytest.mark.parametrize("kind", ["pem", "pem-x5c", "pfx", "pfx-x5c", "secret", "github"])
def test_each_credential_signs_in_with_the_oldest_msal(python, fake, tmp_path, kind):
    materials = fake.materials
    env: dict[str, str] = {}
    args: list[str] = []
    if kind.startswith("pem"):
        args = ["--certificate", str(materials.client_pem)]
    elif kind.startswith("pfx"):
        args = ["--certificate", str(materials.client_pfx)]
        env["M365_AUDIT_CERTIFICATE_PASSWORD"] = materials.pfx_password
    elif kind == "secret":
        env["M365_AUDIT_CLIENT_SECRET"] = fake.app.secret
    else:
        env.update(fake.github_env())
    if kind.endswith("x5c"):
        args.append("--send-x5c")
    done = subprocess.run(
        [
            str(python),
            "-m",
            "auditor",
            "collect",
            "-o",
            str(tmp_path / "s.json"),
            "--check",
            "CONN-001",
            *args,
            *fake.cli_args(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=fake.env(**env),
        cwd=tmp_path,  # the installed package, not the source tree
    )
    assert done.returncode == 0, done.stderr
    assert "2 sources ok, 0 failed" in done.stderr
