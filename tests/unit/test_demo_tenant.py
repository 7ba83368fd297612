"""The committed demo snapshot is what scripts/make_demo_tenant.py builds."""

import importlib.util
from pathlib import Path

from auditor.demo import SNAPSHOT as DEMO_SNAPSHOT

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_demo_tenant.py"


def test_committed_demo_snapshot_matches_its_generator():
    spec = importlib.util.spec_from_file_location("make_demo_tenant", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DEMO_SNAPSHOT.read_text(encoding="utf-8") == module.render(), (
        "run: python scripts/make_demo_tenant.py"
    )


def test_demo_tenant_is_realistically_sized():
    import json

    sources = json.loads(DEMO_SNAPSHOT.read_text())["sources"]
    assert len(sources["graph.users"]["data"]) >= 40
    assert sources["exchange.forwardingMailboxes"]["data"]
    assert len(sources["exchange.acceptedDomains"]["data"]) >= 4
    assert len(sources["exchange.inboundConnectors"]["data"]) >= 4
    admins = (
        sources["graph.roleAssignments"]["data"] + sources["graph.roleEligibilitySchedules"]["data"]
    )
    assert len(admins) >= 12
