"""`fleet`: several tenants at once against the fake tenant; one failing never stops the rest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from auditor.commands.fleet import FleetTenant, shard
from auditor.demo import BASELINE as DEMO_BASELINE
from tests.fake_tenant import FakeTenant


def entry(fake: FakeTenant, name: str, credential: dict, client_id: str | None = None) -> dict:
    return {
        "name": name,
        "tenant": fake.data.domain,
        "clientId": client_id or fake.app.client_id,
        "credential": credential,
        "baseline": str(DEMO_BASELINE),
        "authority": fake.base,
        "graphUrl": f"{fake.base}/graph",
        "exchangeUrl": f"{fake.base}/exchange",
        "dnsServer": fake.dns.address,
    }


def run_fleet(fake, tmp_path, tenants, *extra):
    fleet_file = tmp_path / "tenants.json"
    fleet_file.write_text(json.dumps({"tenants": tenants}))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor",
            "fleet",
            "--tenants",
            str(fleet_file),
            "--output-dir",
            str(tmp_path / "out"),
            "--jobs",
            "3",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=fake.env(FLEET_SECRET=fake.app.secret),
    )


def test_each_tenant_gets_a_report_and_a_broken_one_does_not_stop_the_rest(fake, tmp_path):
    tenants = [
        entry(fake, "alpha", {"type": "secretEnv", "env": "FLEET_SECRET"}),
        entry(fake, "beta", {"type": "certificate", "path": str(fake.materials.client_pem)}),
        entry(
            fake,
            "broken",
            {"type": "secretEnv", "env": "FLEET_SECRET"},
            client_id="00000000-0000-0000-0000-000000000000",
        ),
    ]
    done = run_fleet(fake, tmp_path, tenants)
    # A tenant that could not be audited outweighs the findings of the others.
    assert done.returncode == 2, done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    status = {t["name"]: t["status"] for t in summary["tenants"]}
    # The fake tenant, as the demo, has one address a blocklist refuses to judge.
    assert status == {"alpha": "incomplete", "beta": "incomplete", "broken": "error"}
    broken = next(t for t in summary["tenants"] if t["name"] == "broken")
    assert "AADSTS700016" in broken["error"]
    for name in ("alpha", "beta"):
        report = json.loads((tmp_path / "out" / name / "report.json").read_text())
        assert report["tenant"]["id"] == fake.data.tenant_id
    assert fake.app.secret not in done.stdout + done.stderr
    assert "broken" in done.stdout and "AADSTS700016" in done.stdout


def test_a_bad_fleet_file_is_one_line_and_exit_2(fake, tmp_path):
    bad = [{"name": "x", "tenant": "t", "clientId": "c", "credential": {"type": "password"}}]
    done = run_fleet(fake, tmp_path, bad)
    assert done.returncode == 2
    assert "$.tenants[0].credential" in done.stderr
    assert "Traceback" not in done.stderr


def test_shards_partition_the_fleet_stably():
    tenants = [FleetTenant(f"t{i}", "x", "y", {"type": "github"}) for i in range(40)]
    parts = [shard(tenants, k, 4) for k in range(1, 5)]
    names = [t.name for part in parts for t in part]
    assert sorted(names) == sorted(t.name for t in tenants)
    assert all(parts)  # 40 names spread over 4 shards
    # adding a tenant moves nobody else
    more = [*tenants, FleetTenant("t-new", "x", "y", {"type": "github"})]
    again = [shard(more, k, 4) for k in range(1, 5)]
    for before, after in zip(parts, again, strict=True):
        assert {t.name for t in before} <= {t.name for t in after}


def test_shard_argument_is_checked(fake, tmp_path):
    done = run_fleet(fake, tmp_path, [entry(fake, "a", {"type": "github"})], "--shard", "5/4")
    assert done.returncode == 2
    assert "--shard must be K/N" in done.stderr


def test_example_matrix_workflow_shards_the_fleet():
    text = (Path(__file__).resolve().parents[2] / ".github" / "workflows" / "fleet.yml").read_text()
    assert "matrix:" in text and "--shard ${{ matrix.shard }}/4" in text


def test_the_deadline_holds_for_each_tenant(fake, tmp_path):
    from tests.fake_tenant import Fault

    fake.reset()
    fake.inject("exchange:Get-InboundConnector", Fault("hang", delay=120))
    tenants = [entry(fake, "slow", {"type": "secretEnv", "env": "FLEET_SECRET"})]
    done = run_fleet(fake, tmp_path, tenants, "--check", "CONN-001", "--deadline", "5")
    assert done.returncode == 2, done.stderr
    (slow,) = json.loads((tmp_path / "out" / "summary.json").read_text())["tenants"]
    assert slow["status"] == "error"
    assert slow["error"] == (
        "the deadline of 5 s passed before exchange.inboundConnectors could be read"
    )
    assert (tmp_path / "out" / "slow" / "report.json").is_file()
