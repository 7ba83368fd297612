"""Bad baselines and snapshots: every problem named by file and JSON path."""

import json

import pytest

import baselines
from auditor import snapshot as snapshot_mod
from auditor.common.errors import AuditInputError
from auditor.judge import baseline as baseline_mod
from auditor.judge.registry import discover
from tests.helpers import baseline_doc, inbound, make_snapshot, snapshot_doc


def baseline_problems(document) -> list[str]:
    with pytest.raises(AuditInputError) as caught:
        baseline_mod.parse(json.dumps(document).encode(), "b.json")
    return caught.value.lines()


def snapshot_problems(document) -> list[str]:
    with pytest.raises(AuditInputError) as caught:
        snapshot_mod.parse(json.dumps(document).encode(), "s.json")
    return caught.value.lines()


class TestBaseline:
    def test_shipped_baselines_are_valid(self):
        loaded = baseline_mod.load(baselines.RECOMMENDED)
        assert loaded.thresholds["maxConnectorIpRangeAddresses"] == 32
        loaded.require_known_checks(discover())

    def test_thresholds_default_when_left_out(self):
        loaded = baseline_mod.parse(b'{"baselineVersion": 1}', "b.json")
        assert dict(loaded.thresholds) == dict(baseline_mod.DEFAULT_THRESHOLDS)

    def test_every_violation_is_reported_with_its_path(self):
        lines = baseline_problems(
            baseline_doc(
                thresholds={"newConnectorDays": -1},
                inboundConnectors=[{"Name": "A", "Enabled": "yes"}],
                bogus=True,
            )
        )
        assert "b.json: $: Additional properties are not allowed ('bogus' was unexpected)" in lines
        assert "b.json: $.inboundConnectors[0].Enabled: 'yes' is not of type 'boolean'" in lines
        assert "b.json: $.thresholds.newConnectorDays: -1 is less than the minimum of 0" in lines

    def test_waiver_without_reason(self):
        lines = baseline_problems(
            baseline_doc(
                waivers=[{"check": "DOM-001", "resource": "domain:x", "expires": "2027-01-01"}]
            )
        )
        assert lines == ["b.json: $.waivers[0]: 'reason' is a required property"]

    def test_waiver_with_blank_reason(self):
        lines = baseline_problems(
            baseline_doc(
                waivers=[
                    {"check": "DOM-001", "resource": "d", "reason": "   ", "expires": "2027-01-01"}
                ]
            )
        )
        assert lines == ["b.json: $.waivers[0].reason: '   ' does not match '\\\\S'"]

    def test_waiver_with_impossible_date(self):
        lines = baseline_problems(
            baseline_doc(
                waivers=[
                    {"check": "DOM-001", "resource": "d", "reason": "why", "expires": "2027-02-30"}
                ]
            )
        )
        assert lines == ["b.json: $.waivers[0].expires: '2027-02-30' is not a 'date'"]

    def test_break_glass_without_reason(self):
        lines = baseline_problems(
            baseline_doc(breakGlassAccounts=[{"userPrincipalName": "bg@x.com"}])
        )
        assert lines == ["b.json: $.breakGlassAccounts[0]: 'reason' is a required property"]

    def test_unknown_check_ids_in_settings_and_waivers(self):
        loaded = baseline_mod.parse(
            json.dumps(
                baseline_doc(
                    checks={"XYZ-999": {"enabled": False}},
                    waivers=[
                        {
                            "check": "DOM-009",
                            "resource": "d",
                            "reason": "why",
                            "expires": "2027-01-01",
                        }
                    ],
                )
            ).encode(),
            "b.json",
        )
        with pytest.raises(AuditInputError) as caught:
            loaded.require_known_checks(discover())
        assert caught.value.lines() == [
            "b.json: $.checks['XYZ-999']: unknown check id 'XYZ-999'",
            "b.json: $.waivers[0].check: unknown check id 'DOM-009'",
        ]

    def test_duplicate_entries_are_refused(self):
        lines = baseline_problems(
            baseline_doc(
                inboundConnectors=[{"Name": "Hybrid"}, {"Name": "hybrid"}],
                acceptedDomains=[{"name": "example.com"}, {"name": "Example.com"}],
            )
        )
        assert lines == [
            "b.json: $.acceptedDomains[1].name: duplicate of $.acceptedDomains[0]",
            "b.json: $.inboundConnectors[1].Name: duplicate of $.inboundConnectors[0]",
        ]

    def test_invalid_json_names_line_and_column(self):
        with pytest.raises(AuditInputError) as caught:
            baseline_mod.parse(b'{"baselineVersion": 1,,}', "b.json")
        assert caught.value.lines() == [
            "b.json: $: invalid JSON at line 1 column 23: Expecting property name enclosed in "
            "double quotes"
        ]

    def test_missing_file(self, tmp_path):
        with pytest.raises(AuditInputError) as caught:
            baseline_mod.load(tmp_path / "nope.json")
        assert caught.value.lines() == [f"{tmp_path / 'nope.json'}: $: file not found"]

    def test_long_messages_are_shortened_to_one_line(self):
        lines = baseline_problems(baseline_doc(acceptedDomains=[{"name": "x" * 400}]))
        assert len(lines) == 1 and len(lines[0]) < 250 and lines[0].endswith("...")


class TestSnapshot:
    def test_demo_snapshot_is_valid(self):
        from auditor.demo import SNAPSHOT as DEMO_SNAPSHOT

        loaded = snapshot_mod.load(DEMO_SNAPSHOT)
        assert loaded.tenant.display_name == "Tailspin Toys (demo)"
        assert all(s.ok for s in loaded.sources.values())

    def test_wrong_field_type_in_source_data_is_named(self):
        doc = snapshot_doc(
            {"exchange.inboundConnectors": [inbound("A", SenderIPAddresses="1.2.3.4")]}
        )
        assert snapshot_problems(doc) == [
            "s.json: $.sources['exchange.inboundConnectors'].data[0].SenderIPAddresses: "
            "'1.2.3.4' is not of type 'array', 'null'"
        ]

    def test_ok_source_without_data_and_error_source_without_reason(self):
        doc = snapshot_doc(
            {
                "graph.domains": {"status": "ok", "collectedAt": "2026-11-20T06:00:00Z"},
                "exchange.forwardingMailboxes": {
                    "status": "error",
                    "collectedAt": "2026-11-20T06:00:00Z",
                },
            },
            wrap=False,
        )
        assert snapshot_problems(doc) == [
            "s.json: $.sources['exchange.forwardingMailboxes']: 'error' is a required property",
            "s.json: $.sources['graph.domains']: 'data' is a required property",
        ]

    def test_bad_time_is_named(self):
        doc = snapshot_doc({}) | {"collectedAt": "yesterday"}
        assert snapshot_problems(doc) == ["s.json: $.collectedAt: 'yesterday' is not a 'date-time'"]

    def test_wrong_schema_version(self):
        doc = snapshot_doc({}) | {"schemaVersion": 2}
        assert snapshot_problems(doc) == ["s.json: $.schemaVersion: 1 was expected"]

    def test_not_an_object(self):
        assert snapshot_problems([1, 2]) == ["s.json: $: [1, 2] is not of type 'object'"]

    def test_plugin_sources_are_accepted_with_any_data(self):
        loaded = make_snapshot({"custom.thing": {"anything": [1, 2]}})
        assert loaded.sources["custom.thing"].data["anything"] == [1, 2]
        assert loaded.frozen("custom.thing")["anything"] == (1, 2)  # what a plugin check sees

    def test_not_utf8(self):
        with pytest.raises(AuditInputError) as caught:
            snapshot_mod.parse(b'{"a": "\xff"}', "s.json")
        assert caught.value.lines() == ["s.json: $: not UTF-8 text (byte 7)"]


def test_atomic_write_into_a_pipe_writes_through_it(tmp_path):
    """Renaming over a device or pipe would replace the node itself (as -o /dev/null once
    did): such a target is written into instead."""
    import os
    import stat
    import threading

    from auditor.common.jsonio import atomic_write

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    atomic_write(fifo, "report\n")
    reader.join(timeout=10)
    assert received == [b"report\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_lone_surrogate_becomes_a_replacement_character():
    """Found by the long fuzz run: JSON's `\\ud800` escape is no character, and a string
    holding one could be judged but never written as UTF-8 (every report failed)."""
    from auditor.common import jsonio

    assert jsonio.loads('{"a\\ud800": ["x\\udc00y", "\\ud83d\\ude00"]}') == {
        "a\ufffd": ["x\ufffdy", "\U0001f600"]
    }
    raw = json.dumps(snapshot_doc({"exchange.inboundConnectors": [inbound("Relay\ud800X")]}))
    parsed = snapshot_mod.parse(raw.encode(), "s.json")
    names = [c["Name"] for c in parsed.sources["exchange.inboundConnectors"].data]
    assert names == ["Relay\ufffdX"]
    ("\n".join(names)).encode("utf-8")  # writable


def test_licence_counts_that_are_not_numbers_are_refused_by_the_schema():
    """Found by the long fuzz run: SUB-001 met a list where prepaidUnits.enabled is a number."""
    sku = {"skuId": "s", "prepaidUnits": {"enabled": [1]}, "consumedUnits": 1}
    raw = json.dumps(snapshot_doc({"graph.subscribedSkus": [sku]})).encode()
    with pytest.raises(AuditInputError) as caught:
        snapshot_mod.parse(raw, "s.json")
    assert any("prepaidUnits.enabled" in line for line in caught.value.lines())


def test_a_skipped_blocklist_entry_without_its_connector_is_refused_by_the_schema():
    """Found by the long fuzz run: IP-001 met a skipped entry without `connector`."""
    data = {"resolver": "r", "zones": ["z"], "addresses": [], "skipped": [{"entry": "::/0"}]}
    raw = json.dumps(snapshot_doc({"dns.blocklists": data})).encode()
    with pytest.raises(AuditInputError) as caught:
        snapshot_mod.parse(raw, "s.json")
    assert any("skipped[0]" in line and "connector" in line for line in caught.value.lines())


@pytest.mark.parametrize(
    ("source", "record", "path"),
    [
        ("graph.subscriptions", {"id": "s", "totalLicenses": -7}, "totalLicenses"),
        ("graph.subscribedSkus", {"skuId": "s", "consumedUnits": -1}, "consumedUnits"),
        ("graph.subscribedSkus", {"skuId": "s", "prepaidUnits": {"enabled": -2}}, "enabled"),
    ],
)
def test_negative_licence_counts_are_refused_by_the_schema(source, record, path):
    """Found by the fuzz run in CI: a negative totalLicenses made LIM-002's 500 x n^0.7 a
    complex number (the check errored on the data). A count of licences is never negative."""
    raw = json.dumps(snapshot_doc({source: [record]})).encode()
    with pytest.raises(AuditInputError) as caught:
        snapshot_mod.parse(raw, "s.json")
    assert any(
        f".{path}: " in line and "less than the minimum of 0" in line
        for line in caught.value.lines()
    ), caught.value.lines()
