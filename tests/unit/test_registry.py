"""Check discovery from checks/ and from the entry-point group."""

import textwrap

import pytest

from auditor.collect.catalogue import CATALOGUE
from auditor.judge.engine import run_check
from auditor.judge.model import Status
from auditor.judge.registry import CheckDefinitionError, check, discover
from tests.helpers import accepted, make_baseline, make_snapshot

BUILTIN = [
    "ADM-001",
    "ADM-002",
    "ALERT-001",
    "APP-001",
    "AUTH-001",
    "AUTH-002",
    "AUTH-003",
    "CONN-001",
    "CONN-002",
    "CONN-003",
    "DOM-001",
    "DOM-002",
    "FWD-001",
    "FWD-002",
    "IP-001",
    "LIM-001",
    "LIM-002",
    "LIM-003",
    "OUT-001",
    "OUT-002",
    "OUT-003",
    "SIGN-001",
    "SIGN-002",
    "SIGN-003",
    "SUB-001",
]


def install_plugin(tmp_path, monkeypatch, module_source, target="acme_checks"):
    (tmp_path / "acme_checks.py").write_text(textwrap.dedent(module_source))
    dist = tmp_path / "acme_checks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[m365_mail_auditor.checks]\nacme = {target}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "acme_checks", raising=False)


PLUGIN = """
    from auditor.judge import Result, Status, check

    @check(id="ACME-001", slug="acme-rule", title="Acme rule", severity="low",
           requires=("exchange.acceptedDomains",), remediation="Ask Acme.")
    def acme(ctx):
        for d in ctx.source("exchange.acceptedDomains"):
            yield Result("domain:" + d["DomainName"], Status.PASS, "ok")
"""


def test_builtin_checks_are_discovered_in_id_order():
    assert list(discover()) == BUILTIN


def test_builtin_checks_require_only_catalogued_sources():
    for item in discover().values():
        assert set(item.spec.requires) <= set(CATALOGUE), item.spec.id


def test_plugin_module_from_entry_point_is_discovered(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, PLUGIN)
    found = discover()
    assert "ACME-001" in found
    assert found["ACME-001"].spec.module == "acme_checks"


# A plugin written against the first README: the contract's old import paths still work.
LEGACY_PLUGIN = """
    from auditor.context import CheckContext
    from auditor.model import Result, Status
    from auditor.registry import check

    @check(id="ACME-002", slug="acme-legacy", title="Acme legacy rule", severity="low",
           requires=("exchange.acceptedDomains",), remediation="Ask Acme.")
    def acme(ctx: CheckContext):
        for d in ctx.source("exchange.acceptedDomains"):
            yield Result("domain:" + d["DomainName"], Status.FAIL, "legacy")
"""


def test_plugin_on_the_old_import_paths_still_loads_and_judges(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, LEGACY_PLUGIN)
    outcome = run_check(
        discover()["ACME-002"],
        make_snapshot({"exchange.acceptedDomains": [accepted("contoso.com")]}),
        make_baseline(),
    )
    assert [(r.resource, r.status) for r in outcome.results] == [
        ("domain:contoso.com", Status.FAIL)
    ]


def test_plugin_function_from_entry_point_is_discovered(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, PLUGIN, target="acme_checks:acme")
    assert "ACME-001" in discover()


def test_plugin_reusing_a_builtin_id_is_refused(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, PLUGIN.replace("ACME-001", "DOM-001"))
    with pytest.raises(CheckDefinitionError, match="DOM-001 is defined twice"):
        discover()


def test_plugin_that_fails_to_import_is_reported(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "raise RuntimeError('broken plugin')\n")
    with pytest.raises(CheckDefinitionError, match="failed to load: broken plugin"):
        discover()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": "dom1"}, "not of the form"),
        ({"slug": "Not Kebab"}, "kebab-case"),
        ({"severity": "urgent"}, "unknown severity"),
        ({"requires": ()}, "no required sources"),
    ],
)
def test_decorator_refuses_a_broken_contract(kwargs, message):
    args = {
        "id": "TST-001",
        "slug": "test",
        "title": "t",
        "severity": "low",
        "requires": ("graph.domains",),
        "remediation": "r",
    } | kwargs
    with pytest.raises(CheckDefinitionError, match=message):
        check(**args)
