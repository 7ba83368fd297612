"""Requests that grow with admins and records, not with users or group members: a group of
thousands that Conditional Access names costs the same as a group of ten."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
