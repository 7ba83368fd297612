"""AUTH-001..003 and IP-001 on DNS answers; the DNS client against the fake DNS server."""

from __future__ import annotations

import pytest

from auditor.collect.collectors.dns_sources import mail_records, sending_addresses
from auditor.collect.dnsquery import DnsClient, parse_server
from auditor.judge.model import Status
from auditor.mail.dmarc import organisational_domain
from auditor.mail.spf import spf_terms
from tests.fake_tenant.dns_server import FakeDns, zone_lookup
from tests.helpers import accepted, judge

BASE_ZONE = {
    "TXT spf.protection.outlook.com": ["v=spf1 ip4:40.92.0.0/15 -all"],
    "MX example.com": ["0 example-com.mail.protection.outlook.com"],
}


def records(zone):
    return {"resolver": "test", "queries": mail_records(zone_lookup(zone), ["example.com"])}


def auth(check_id, zone, dkim=None, outbound=(), **baseline):
    sources = {
        "exchange.acceptedDomains": [accepted("example.com"), accepted("example.onmicrosoft.com")],
        "exchange.outboundConnectors": list(outbound),
        "dns.records": records({**BASE_ZONE, **zone}),
        "exchange.dkimSigningConfig": dkim or [],
    }
    from auditor.judge.registry import discover

    needed = discover()[check_id].spec.requires
    return judge(check_id, {k: v for k, v in sources.items() if k in needed}, **baseline)


def one(outcome):
    assert [r.resource for r in outcome.results] == ["domain:example.com"]
    return outcome.results[0]


class TestSpf:
    def test_good_record_passes(self):
        result = one(
            auth(
                "AUTH-001", {"TXT example.com": ["v=spf1 include:spf.protection.outlook.com -all"]}
            )
        )
        assert result.status is Status.PASS
        assert result.evidence["lookups"] == 1

    def test_missing_record_fails(self):
        result = one(auth("AUTH-001", {"TXT example.com": ["some-verification=1"]}))
        assert "no v=spf1 record" in result.message

    def test_two_records_fail(self):
        result = one(auth("AUTH-001", {"TXT example.com": ["v=spf1 -all", "v=spf1 ~all"]}))
        assert "2 v=spf1 records" in result.message

    def test_lookups_are_counted_through_includes(self):
        zone = {
            "TXT example.com": [
                "v=spf1 a mx include:spf.protection.outlook.com include:x.example "
                "include:y.example -all"
            ],
            "TXT x.example": ["v=spf1 a:1.example a:2.example a:3.example mx ~all"],
            "TXT y.example": ["v=spf1 exists:%{i}.z.example ptr ~all"],
        }
        result = one(auth("AUTH-001", zone))
        assert result.status is Status.FAIL
        assert "11 DNS-querying terms, over the limit of 10" in result.message

    @pytest.mark.parametrize("ending", ["?all", "+all", ""])
    def test_weak_or_missing_all_fails(self, ending):
        record = f"v=spf1 include:spf.protection.outlook.com {ending}".strip()
        result = one(auth("AUTH-001", {"TXT example.com": [record]}))
        assert "not -all or ~all" in result.message

    def test_redirect_is_followed_for_the_all(self):
        zone = {
            "TXT example.com": ["v=spf1 redirect=_spf.example.com"],
            "TXT _spf.example.com": ["v=spf1 include:spf.protection.outlook.com ~all"],
        }
        result = one(auth("AUTH-001", zone))
        assert result.status is Status.PASS
        assert result.evidence["lookups"] == 2

    def test_exchange_include_missing_fails_unless_mail_leaves_via_a_smart_host(self):
        zone = {
            "TXT example.com": ["v=spf1 include:_spf.gateway.example -all"],
            "TXT _spf.gateway.example": ["v=spf1 ip4:198.18.0.0/24 -all"],
        }
        assert "does not include spf.protection.outlook.com" in one(auth("AUTH-001", zone)).message
        smart = {
            "Name": "All via gateway",
            "Enabled": True,
            "UseMXRecord": False,
            "RecipientDomains": ["*"],
            "SmartHosts": ["out.gateway.example"],
        }
        assert one(auth("AUTH-001", zone, outbound=[smart])).status is Status.PASS

    def test_include_without_spf_is_a_permerror(self):
        zone = {
            "TXT example.com": [
                "v=spf1 include:gone.example include:spf.protection.outlook.com -all"
            ]
        }
        assert "gone.example has no SPF record" in one(auth("AUTH-001", zone)).message

    def test_missing_answers_are_an_error_not_a_pass(self):
        outcome = judge(
            "AUTH-001",
            {
                "exchange.acceptedDomains": [accepted("example.com")],
                "exchange.outboundConnectors": [],
                "dns.records": {"resolver": "t", "queries": {}},
            },
        )
        assert outcome.results[0].status is Status.ERROR

    def test_exempt_domains_are_skipped(self):
        outcome = auth("AUTH-001", {}, mailAuthentication={"exemptDomains": ["example.com"]})
        assert outcome.results == ()


def dkim_config(enabled=True):
    return [
        {
            "Domain": "example.com",
            "Enabled": enabled,
            "Selector1CNAME": "selector1-example-com._domainkey.t.onmicrosoft.com",
            "Selector2CNAME": "selector2-example-com._domainkey.t.onmicrosoft.com",
        }
    ]


DKIM_ZONE = {
    "CNAME selector1._domainkey.example.com": [
        "selector1-example-com._domainkey.t.onmicrosoft.com"
    ],
    "CNAME selector2._domainkey.example.com": [
        "selector2-example-com._domainkey.t.onmicrosoft.com"
    ],
}


class TestDkim:
    def test_enabled_with_both_cnames_passes(self):
        assert one(auth("AUTH-002", DKIM_ZONE, dkim_config())).status is Status.PASS

    def test_disabled_signing_fails(self):
        assert "disabled" in one(auth("AUTH-002", DKIM_ZONE, dkim_config(False))).message

    def test_wrong_or_missing_cname_fails(self):
        zone = {"CNAME selector1._domainkey.example.com": ["elsewhere.example"]}
        message = one(auth("AUTH-002", zone, dkim_config())).message
        assert "points to elsewhere.example" in message
        assert "selector2._domainkey.example.com has no CNAME" in message

    def test_no_signing_configuration_fails(self):
        assert "no DKIM signing configuration" in one(auth("AUTH-002", DKIM_ZONE, [])).message


class TestDmarc:
    def test_enforcing_policy_with_reports_passes(self):
        zone = {"TXT _dmarc.example.com": ["v=DMARC1; p=reject; rua=mailto:d@example.com"]}
        assert one(auth("AUTH-003", zone)).status is Status.PASS

    @pytest.mark.parametrize(
        ("record", "message"),
        [
            ("v=DMARC1; p=none; rua=mailto:d@example.com", "weaker than the baseline's quarantine"),
            ("v=DMARC1; p=reject; pct=50; rua=mailto:d@x.com", "pct=50"),
            ("v=DMARC1; p=reject", "no rua"),
            ("v=DMARC1; rua=mailto:d@x.com", "policy (missing)"),
        ],
    )
    def test_weak_records_fail(self, record, message):
        assert message in one(auth("AUTH-003", {"TXT _dmarc.example.com": [record]})).message

    def test_missing_record_fails(self):
        assert "no DMARC record" in one(auth("AUTH-003", {})).message

    def test_baseline_minimum_is_honoured(self):
        zone = {"TXT _dmarc.example.com": ["v=DMARC1; p=quarantine; rua=mailto:d@x.com"]}
        strict = auth("AUTH-003", zone, mailAuthentication={"dmarcMinimumPolicy": "reject"})
        assert one(strict).status is Status.FAIL

    def test_subdomain_inherits_the_organisational_policy_and_its_sp(self):
        lookup = zone_lookup(
            {"TXT _dmarc.example.com": ["v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com"]}
        )
        outcome = judge(
            "AUTH-003",
            {
                "exchange.acceptedDomains": [accepted("mail.example.com")],
                "dns.records": {
                    "resolver": "t",
                    "queries": mail_records(lookup, ["mail.example.com"]),
                },
            },
        )
        assert "policy none is weaker" in outcome.results[0].message
        assert outcome.results[0].evidence["at"] == "_dmarc.example.com"

    def test_organisational_domain_knows_two_label_suffixes(self):
        assert organisational_domain("shop.tailspin.co.uk") == "tailspin.co.uk"
        assert organisational_domain("a.b.example.com") == "example.com"


def ip001(addresses, skipped=()):
    return judge(
        "IP-001",
        {
            "dns.blocklists": {
                "resolver": "t",
                "zones": ["zen.spamhaus.org"],
                "addresses": addresses,
                "skipped": list(skipped),
            }
        },
    )


def entry(status, answers=(), address="192.0.2.1"):
    return {
        "address": address,
        "sources": ["inbound connector A"],
        "results": {"zen.spamhaus.org": {"status": status, "answers": list(answers)}},
    }


class TestBlocklists:
    def test_not_listed_passes(self):
        assert ip001([entry("nxdomain")]).results[0].status is Status.PASS

    @pytest.mark.parametrize(
        ("code", "name"),
        [
            ("127.0.0.2", "SBL"),
            ("127.0.0.3", "CSS"),
            ("127.0.0.4", "XBL"),
            ("127.0.0.9", "DROP"),
            ("127.0.0.10", "PBL (ISP"),
            ("127.0.0.11", "PBL (Spamhaus"),
        ],
    )
    def test_each_listing_code_is_named(self, code, name):
        result = ip001([entry("ok", [code])]).results[0]
        assert result.status is Status.FAIL
        assert name in result.message

    @pytest.mark.parametrize("code", ["127.255.255.252", "127.255.255.254", "127.255.255.255"])
    def test_refusals_are_errors_never_listings_or_passes(self, code):
        result = ip001([entry("ok", [code])]).results[0]
        assert result.status is Status.ERROR
        assert "refused the query" in result.message

    def test_unanswered_query_is_an_error(self):
        assert ip001([entry("error")]).results[0].status is Status.ERROR

    def test_skipped_ranges_are_reported(self):
        outcome = ip001([], [{"entry": "198.51.100.0/24", "connector": "R", "addresses": 256}])
        assert outcome.results[0].resource == "range:198.51.100.0/24"
        assert "message trace were checked instead" in outcome.results[0].message

    def test_ipv6_ranges_are_not_checked_and_say_so(self):
        outcome = ip001([], [{"entry": "2001:db8::/64", "connector": "R", "reason": "IPv6"}])
        assert outcome.results[0].status is Status.ERROR
        assert "not checked: IPv6" in outcome.results[0].message


class TestCollectionHelpers:
    def test_small_ranges_are_expanded_and_trace_senders_in_large_ones_are_added(self):
        inbound = [
            {
                "Name": "A",
                "ConnectorType": "OnPremises",
                "SenderIPAddresses": [
                    "192.0.2.0/30",
                    "198.51.100.0/24",
                    "2001:db8::/64",
                    "203.0.113.10-203.0.113.11",
                ],
            }
        ]
        trace = {
            "Aggregates": [
                {"FromIP": "198.51.100.9", "Outbound": True},
                {"FromIP": "198.51.100.10", "Outbound": False},
            ]
        }
        found, skipped = sending_addresses(inbound, [], trace, zone_lookup({}), 16)
        assert sorted(found) == [
            "192.0.2.1",
            "192.0.2.2",
            "198.51.100.9",
            "203.0.113.10",
            "203.0.113.11",
        ]
        assert [s["entry"] for s in skipped] == ["198.51.100.0/24", "2001:db8::/64"]

    def test_spf_terms(self):
        assert spf_terms("v=spf1 -include:a.example ip4:1.2.3.4/24 redirect=b.example") == [
            ("-", "include", "a.example"),
            ("+", "ip4", "1.2.3.4/24"),
            ("=", "redirect", "b.example"),
        ]

    def test_parse_server(self):
        assert parse_server("127.0.0.1:5353") == ("127.0.0.1", 5353)
        assert parse_server("10.0.0.1") == ("10.0.0.1", 53)
        assert parse_server("[::1]:53") == ("::1", 53)


def test_dns_client_against_the_fake_server():
    zone = {
        "TXT example.com": ["v=spf1 " + "ip4:192.0.2.1 " * 40 + "-all"],
        "MX example.com": ["10 mx.example.com"],
        "CNAME s._domainkey.example.com": ["target.example.net"],
    }
    with FakeDns(zone) as server:
        client = DnsClient(server.address)
        long_txt = client.query("example.com", "TXT")
        assert long_txt["status"] == "ok" and long_txt["answers"] == zone["TXT example.com"]
        assert client.query("example.com", "MX")["answers"] == ["10 mx.example.com"]
        assert client.query("s._domainkey.example.com", "CNAME")["answers"] == [
            "target.example.net"
        ]
        assert client.query("example.com", "A")["status"] == "nodata"
        assert client.query("nothing.example.com", "TXT")["status"] == "nxdomain"
        server.fail.add("broken.example.com")
        assert client.query("broken.example.com", "TXT")["status"] == "error"
