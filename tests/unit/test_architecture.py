"""The architecture's import contracts (pyproject.toml, `lint-imports`) hold, and each one can
fail: a copy of the package with one wrong import breaks the contract and names the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the copy, not the editable install, is the package analysed.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the importable packages and the configuration, to break on purpose."""
    for name in ("auditor", "checks", "baselines"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(path: Path, statement: str) -> None:
    """Put `statement` after the module's `from __future__` line (or first, if none)."""
    text = path.read_text(encoding="utf-8")
    marker = "from __future__ import annotations\n"
    if marker in text:
        text = text.replace(marker, f"{marker}{statement}\n", 1)
    else:
        text = f"{statement}\n{text}"
    path.write_text(text, encoding="utf-8")


def test_the_tree_keeps_every_contract():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "statement", "contract", "named"),
    [
        (
            "checks/outbound.py",
            "import auditor.collect.http",
            "Checks import only the judging interface",
            "checks.outbound -> auditor.collect.http",
        ),
        (
            "checks/outbound.py",
            "import auditor.reports.table",
            "Checks import only the judging interface",
            "checks.outbound -> auditor.reports.table",
        ),
        (
            "checks/domains.py",
            "from auditor.judge.model import Result",
            "Checks import auditor.judge itself",
            "checks.domains -> auditor.judge.model",
        ),
        (
            "auditor/judge/engine.py",
            "import auditor.reports.table",
            "Judging never imports collection, reports",
            "auditor.judge.engine -> auditor.reports.table",
        ),
        (
            "auditor/judge/registry.py",
            "import checks",
            "it never imports them",
            "auditor.judge.registry -> checks",
        ),
        (
            "auditor/reports/table.py",
            "import auditor.collect.http",
            "Reports never import collection",
            "auditor.reports.table -> auditor.collect.http",
        ),
        (
            "auditor/collect/runner.py",
            "import checks.domains",
            "Collection never imports checks",
            "auditor.collect.runner -> checks.domains",
        ),
        (
            "auditor/collect/runner.py",
            "import auditor.reports.json_report",
            "Collection never imports checks",
            "auditor.collect.runner -> auditor.reports.json_report",
        ),
        (
            "auditor/collect/runner.py",
            "import auditor.judge.engine",
            "Collection never imports checks",
            "auditor.collect.runner -> auditor.judge.engine",
        ),
        (
            "auditor/snapshot/read.py",
            "import auditor.judge.model",
            "The stages depend one way",
            "auditor.snapshot.read -> auditor.judge.model",
        ),
        (
            "auditor/reports/markdown.py",
            "from auditor.model import Status",
            "not from its old paths",
            "auditor.reports.markdown -> auditor.model",
        ),
    ],
)
def test_a_wrong_import_breaks_its_contract_and_is_named(tree, module, statement, contract, named):
    add_import(tree / module, statement)
    done = lint_imports(tree)
    assert done.returncode == 1, done.stdout + done.stderr
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in " ".join(broken.split()), done.stdout
    assert named in done.stdout, done.stdout


def test_a_new_folder_outside_the_layers_breaks_the_flow_contract(tree):
    """The layers are exhaustive: a new top-level module must be given its place."""
    (tree / "auditor" / "notify").mkdir()
    (tree / "auditor" / "notify" / "__init__.py").write_text('"""Somewhere new."""\n')
    done = lint_imports(tree)
    assert done.returncode == 1, done.stdout
    assert "auditor.notify" in done.stdout, done.stdout
