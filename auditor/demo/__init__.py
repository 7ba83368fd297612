"""The bundled demo tenant: a snapshot with planted problems and the baseline it is judged
against. Built by scripts/make_demo_tenant.py; the problems are listed in docs/demo-tenant.md."""

from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parent / "snapshot.json"
BASELINE = Path(__file__).resolve().parent / "baseline.json"
