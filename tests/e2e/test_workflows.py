"""The Action and the workflows users copy: valid against SchemaStore's schemas, and clean
under zizmor (every third-party action pinned to a commit, no credential left in checkouts, no
template injection). Under CI=true zizmor must be installed (the test extras bring it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.e2e.test_html import in_ci

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "schemas"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load_yaml(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    if True in document:  # YAML 1.1 reads the key `on` as true
        document["on"] = document.pop(True)
    return document


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_each_workflow_is_valid(path):
    schema = json.loads((SCHEMAS / "github-workflow.json").read_text())
    jsonschema.Draft7Validator(schema).validate(load_yaml(path))


def test_the_action_is_valid_and_every_input_reaches_the_script():
    schema = json.loads((SCHEMAS / "github-action.json").read_text())
    action = load_yaml(ROOT / "action.yml")
    jsonschema.Draft7Validator(schema).validate(action)
    text = (ROOT / "action.yml").read_text()
    for name in action["inputs"]:
        assert f"inputs.{name}" in text, f"input {name} is never used"


def test_a_broken_workflow_is_caught():
    schema = json.loads((SCHEMAS / "github-workflow.json").read_text())
    broken = load_yaml(WORKFLOWS[0])
    broken["jobs"] = {"x": {"steps": [{"uses": "a/b@v1"}]}}  # no runs-on
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_zizmor_finds_nothing():
    zizmor = shutil.which("zizmor")
    if zizmor is None:
        message = "zizmor not installed: pip install -e '.[test]'"
        if in_ci():
            pytest.fail(f"{message} (CI is set, so it must run)", pytrace=False)
        pytest.skip(message)
    done = subprocess.run(
        [
            zizmor,
            "--offline",
            "--config",
            str(ROOT / ".github" / "zizmor.yml"),
            "--format",
            "plain",
            str(ROOT / ".github" / "workflows"),
            str(ROOT / "action.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "No findings to report" in done.stdout + done.stderr
