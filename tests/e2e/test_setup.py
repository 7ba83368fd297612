"""`setup`: the permissions the selected checks need, least privileged and deduplicated, and a
script that does the whole registration. The script runs here under bash against a stub `az`
that answers as the Azure CLI would and records every call."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.collect import describe, with_dependencies
from auditor.judge.registry import discover, required_sources

STUB = r"""#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
line = " ".join(args)
state = os.environ.get("AZ_STATE", "")
def out(text):
    print(text)
    sys.exit(0)
if args[:3] == ["ad", "app", "list"]:
    out("existing-app-id" if state == "again" else "")
if args[:3] == ["ad", "app", "create"]:
    out("new-app-id")
if args[:3] == ["ad", "sp", "list"]:
    out("existing-sp-id" if state == "again" else "")
if args[:3] == ["ad", "sp", "create"]:
    out("new-sp-id")
if args[:3] == ["ad", "sp", "show"]:
    resource = args[args.index("--id") + 1]
    query = args[args.index("--query") + 1]
    if query == "id":
        out("sp-of-" + resource)
    wanted = query.split("'")[1]
    out("" if wanted == "No.Such.Permission" else "role-" + wanted)
if args[:2] == ["rest", "--method"] and args[2] == "GET":
    out("1" if state == "again" else "0")
if args[:4] == ["ad", "app", "federated-credential", "list"]:
    out("1" if state == "again" else "0")
if args[:2] == ["account", "show"]:
    out("tenant-guid")
out("")
"""


@pytest.fixture
def az(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "az"
    stub.write_text(STUB.replace("{python}", sys.executable))
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def setup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auditor", "setup", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_script(script: str, az: Path, tmp_path: Path, state: str = "") -> list[list[str]]:
    path = tmp_path / "setup.sh"
    path.write_text(script)
    log = tmp_path / f"az{state}.log"
    done = subprocess.run(
        [shutil.which("bash") or "bash", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "PATH": f"{az}{os.pathsep}{os.environ['PATH']}",
            "AZ_LOG": str(log),
            "AZ_STATE": state,
        },
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in log.read_text().splitlines()]


def graph_permissions(selected: list[str]) -> set[str]:
    checks = discover()
    names = with_dependencies(required_sources(checks, selected))
    return {describe(n).permission for n in names if describe(n).service == "graph"}


def test_the_script_registers_grants_and_federates(az, tmp_path):
    done = setup("--github-repo", "tailspin/mail-audit")
    assert done.returncode == 0, done.stderr
    calls = run_script(done.stdout, az, tmp_path)
    posted = [
        json.loads(c[c.index("--body") + 1]) for c in calls if c[:3] == ["rest", "--method", "POST"]
    ]
    granted = {p["appRoleId"].removeprefix("role-") for p in posted if "appRoleId" in p}
    assert granted == graph_permissions([]) | {"Exchange.ManageAsApp"}
    assert all(p["principalId"] == "new-sp-id" for p in posted)
    (role,) = [p for p in posted if "roleDefinitionId" in p]
    assert role["roleDefinitionId"] == "f2ef992c-3afb-46b9-b7cf-a126ee74c451"  # Global Reader
    declared = [c for c in calls if c[:4] == ["ad", "app", "permission", "add"]]
    assert len(declared) == len(granted)
    (federated,) = [c for c in calls if c[:4] == ["ad", "app", "federated-credential", "create"]]
    credential = json.loads(federated[federated.index("--parameters") + 1])
    assert credential["subject"] == "repo:tailspin/mail-audit:ref:refs/heads/main"
    assert credential["issuer"] == "https://token.actions.githubusercontent.com"
    assert credential["audiences"] == ["api://AzureADTokenExchange"]


def test_running_it_again_creates_and_grants_nothing_twice(az, tmp_path):
    script = setup("--github-repo", "tailspin/mail-audit").stdout
    calls = run_script(script, az, tmp_path, state="again")
    assert not [c for c in calls if c[:3] in (["ad", "app", "create"], ["ad", "sp", "create"])]
    assert not [c for c in calls if c[:3] == ["rest", "--method", "POST"]]
    assert not [c for c in calls if c[:4] == ["ad", "app", "federated-credential", "create"]]


def test_a_few_checks_need_a_few_permissions(az, tmp_path):
    done = setup("--check", "sub-001", "--format", "json")
    document = json.loads(done.stdout)
    assert set(document["graphApplicationPermissions"]) == graph_permissions(["SUB-001"])
    assert document["exchangeApplicationPermissions"] == [] and document["entraRoles"] == []
    assert "Exchange" not in document["script"].split("set -euo pipefail", 1)[1]


def test_a_managed_identity_gets_the_same_grants_and_no_app(az, tmp_path):
    object_id = "5b0e7a51-1111-2222-3333-444455556666"
    calls = run_script(setup("--managed-identity", object_id).stdout, az, tmp_path)
    assert not [c for c in calls if c[:2] == ["ad", "app"]]
    posted = [c for c in calls if c[:3] == ["rest", "--method", "POST"]]
    assert posted and all(
        object_id in c[c.index("--url") + 1] or object_id in c[-3] for c in posted
    )


@pytest.mark.parametrize(
    "args",
    [
        ("--github-repo", "tailspin/mail-audit; rm -rf ~"),
        ("--app-name", "x$(id)"),
        ("--managed-identity", "not-a-guid"),
        ("--github-environment", "prod`id`", "--github-repo", "a/b"),
    ],
)
def test_values_that_would_reach_the_shell_are_refused(args):
    done = setup(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
