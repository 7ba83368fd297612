"""Requests that grow with admins and records, not with users or group members: a group of
thousands that Conditional Access names costs the same as a group of ten."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.e2e.test_live import DEMO_BASELINE
from tests.fake_tenant import FakeTenant
from tests.fake_tenant.data import add_policy_group


@pytest.fixture(scope="module")
def staffed(tmp_path_factory):
    with FakeTenant(tmp_path_factory.mktemp("staffed")) as fake:
        gid = add_policy_group(fake.data, members=5000, admins=2)
        yield fake, gid


def collect(fake: FakeTenant, target) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor",
            "collect",
            "-o",
            str(target),
            "--check",
            "ADM-001",
            *fake.cli_args(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=fake.env(M365_AUDIT_CLIENT_SECRET=fake.app.secret),
    )


def graph_requests(fake: FakeTenant) -> int:
    return sum(n for route, n in fake.counts.items() if route.startswith("graph:"))


def test_a_policy_group_is_asked_about_the_admins_not_read_whole(staffed, tmp_path):
    fake, gid = staffed
    fake.reset()
    done = collect(fake, tmp_path / "big.json")
    assert done.returncode == 0, done.stderr
    big = graph_requests(fake)
    groups = json.loads((tmp_path / "big.json").read_text())["sources"]["graph.groupMembers"]
    (entry,) = [g for g in groups["data"] if g["id"] == gid]
    holders = [
        m["principal"]["id"]
        for m in fake.data.graph["roleAssignments"]
        if m["principal"]["@odata.type"] == "#microsoft.graph.user"
    ][:2]
    assert entry["membersListed"] == "admins"
    assert sorted(m["id"] for m in entry["members"]) == sorted(holders)
    assert fake.counts["graph:checkMemberGroups"] > 0
    # The same tenant with the group cut to ten members: not one request fewer.
    members = fake.data.graph["groups"][gid]["members"]
    fake.data.graph["groups"][gid]["members"] = members[:12]
    try:
        fake.reset()
        assert collect(fake, tmp_path / "small.json").returncode == 0
        assert graph_requests(fake) == big
    finally:
        fake.data.graph["groups"][gid]["members"] = members


def test_a_group_that_cannot_be_read_never_makes_an_admin_covered(staffed, tmp_path):
    """A policy that requires MFA of the admins but excludes a group Graph answers 404 for
    (deleted, or not readable by the app): whether an admin is in it is unknown, so the admin
    the policy would cover is `error`, never `pass`."""
    fake, _ = staffed
    fake.reset()
    policies = fake.data.graph["conditionalAccessPolicies"]
    ca001 = next(p for p in policies if p["displayName"].startswith("CA001"))
    ghost = "0badf00d-0000-4000-8000-000000000404"
    excluded = ca001["conditions"]["users"]["excludeGroups"]
    excluded.append(ghost)
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "auditor",
                "run",
                "--check",
                "ADM-001",
                "--format",
                "json",
                *fake.cli_args(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            env=fake.env(M365_AUDIT_CLIENT_SECRET=fake.app.secret),
        )
    finally:
        excluded.remove(ghost)
    report = json.loads(done.stdout)
    (check,) = report["checks"]
    alice = next(
        r for r in check["results"] if r["resource"] == "user:alice.nguyen@tailspintoys.com"
    )
    assert alice["status"] == "error", alice
    assert "members of a group it excludes were not collected" in alice["message"]
    assert done.returncode == 2


@pytest.mark.timeout(300)
def test_one_page_of_50k_connectors_keeps_the_rogue_one(tmp_path):
    """Issue 16, defect 1: a single answer of 50,000 inbound connectors once lost the planted
    rogue connector's results. Every connector is judged, the rogue one among them."""
    with FakeTenant(tmp_path, exchange_page_size=100_000) as fake:
        fake.honour_prefer = False
        connectors = fake.data.exchange["Get-InboundConnector"]
        partner = next(c for c in connectors if c["ConnectorType"] == "Partner")
        planted = len(connectors)
        for i in range(50_000):
            connectors.insert(
                i % planted, {**partner, "Name": f"P{i:05d}", "Identity": f"P{i:05d}"}
            )
        command = [sys.executable, "-m", "auditor", "run", "--format", "json"]
        command += ["--check", "CONN-001", "--baseline", str(DEMO_BASELINE), *fake.cli_args()]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=280,
            env=fake.env(M365_AUDIT_CLIENT_SECRET=fake.app.secret),
        )
        assert fake.counts["exchange:Get-InboundConnector"] == 1  # one page
    assert done.returncode == 1, done.stderr
    (check,) = json.loads(done.stdout)["checks"]
    added = [r for r in check["results"] if re.fullmatch(r"connector:P\d{5}", r["resource"])]
    assert len(added) == 50_000
    rogue = [r for r in check["results"] if r["resource"] == "connector:Relay-Backup"]
    assert [r["status"] for r in rogue] == ["fail"]
