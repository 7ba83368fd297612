"""`doctor` against the fake tenant: ready when everything is granted; each grant removed in
turn is named, with its fix and exactly the checks it blocks; licences whose absence the
checks read as an answer are notes, not blockers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from auditor.collect import describe, with_dependencies
from auditor.judge.registry import discover
from tests.fake_tenant.server import ALL_GRANTS, EXCHANGE_APP_PERMISSION, EXCHANGE_ROLE


def doctor(fake, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auditor", "doctor", *args, *fake.cli_args()],
        capture_output=True,
        text=True,
        timeout=120,
        env=fake.env(M365_AUDIT_CLIENT_SECRET=fake.app.secret),
    )


def needing(grant: str) -> list[str]:
    """The checks whose sources (with what they depend on) need this grant."""
    out = []
    for cid, check in sorted(discover().items()):
        for name in with_dependencies(check.spec.requires, always=False):
            info = describe(name)
            if grant == info.permission or (
                info.service == "exchange" and grant in (EXCHANGE_APP_PERMISSION, EXCHANGE_ROLE)
            ):
                out.append(cid)
                break
    return out


def test_everything_granted_is_ready(fake):
    done = doctor(fake)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MISSING" not in done.stdout
    assert done.stdout.rstrip().endswith("Ready: every one of the 25 selected checks can run.")
    assert fake.app.secret not in done.stdout + done.stderr


@pytest.mark.parametrize("grant", sorted(ALL_GRANTS))
def test_each_grant_removed_is_named_with_the_checks_it_blocks(fake, grant):
    fake.revoke(grant)
    done = doctor(fake)
    lines = done.stdout.splitlines()
    missing = [i for i, line in enumerate(lines) if line.strip().startswith("MISSING")]
    blocked = needing(grant)
    if not blocked:  # Organization.Read.All: read by every live run, needed by no check alone
        assert done.returncode == 0 and not missing, done.stdout
        assert any(line.strip().startswith("note") and grant in line for line in lines)
        return
    assert done.returncode == 2, done.stdout
    assert missing and grant in lines[missing[0]], done.stdout
    fix = lines[missing[0] + 1].strip()
    assert fix.startswith("fix: ") and (grant in fix or "Global Reader" in fix)
    assert lines[missing[0] + 2].strip().endswith(", ".join(blocked)), done.stdout
    assert lines[-1].startswith("Not ready:")


def test_only_the_selected_checks_are_asked_about(fake):
    fake.revoke("Domain.Read.All")
    done = doctor(fake, "--check", "conn-001")
    assert done.returncode == 0, done.stdout
    assert "Domain.Read.All" not in done.stdout and "1 checks selected" in done.stdout


def test_licences(fake):
    fake.licences["P2"] = False  # no PIM: no eligible assignments can exist; ADM-001 still runs
    done = doctor(fake)
    assert done.returncode == 0, done.stdout
    (note,) = [line for line in done.stdout.splitlines() if line.strip().startswith("note")]
    assert "roleEligibilitySchedules" in note and "the checks run" in note
    fake.licences["P1"] = False  # registration details refused: ADM-001 cannot judge
    done = doctor(fake)
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    (index,) = [i for i, line in enumerate(lines) if line.strip().startswith("MISSING")]
    assert "userRegistrationDetails: Entra ID P1" in lines[index]
    assert lines[index + 1].strip() == (
        "fix: the tenant needs Entra ID P1 to read GET "
        "/reports/authenticationMethods/userRegistrationDetails?$filter=isAdmin eq true"
    )
    assert lines[index + 2].strip() == "blocks 1 check: ADM-001"
