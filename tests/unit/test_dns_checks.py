"""AUTH-001..003 and IP-001 on DNS answers; the DNS client against the fake DNS server."""

from __future__ import annotations

import pytest

from auditor.collect.collectors.dns_sources import mail_records, sending_addresses
from auditor.collect.dnsquery import DnsClient, parse_server
from auditor.judge.model import Status
from auditor.mail.dmarc import organisational_domain
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


def one(outcome, resource="domain:example.com"):
    """The result for the one domain under test (the .onmicrosoft.com domain has its own)."""
    found = [r for r in outcome.results if r.resource == resource]
    assert len(found) == 1, [r.resource for r in outcome.results]
    return found[0]


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
        message = one(auth("AUTH-001", zone)).message
        assert "does not authorise spf.protection.outlook.com" in message
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
        result = one(auth("AUTH-001", zone))
        assert result.status is Status.FAIL
        assert "`include:gone.example` leads to gone.example publishes no SPF record" in (
            result.message
        )

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
            ("v=DMARC1; p=reject", "no valid rua"),
            ("v=DMARC1; rua=mailto:d@x.com", "no p tag"),
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
            {
                "TXT _dmarc.example.com": ["v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com"],
                "MX mail.example.com": ["10 mail-example-com.mail.protection.outlook.com"],
            }
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
        assert "the policy in force is none" in outcome.results[0].message
        assert outcome.results[0].evidence["at"] == "_dmarc.example.com"

    def test_organisational_domain_knows_two_label_suffixes(self):
        assert organisational_domain("shop.tailspin.co.uk") == "tailspin.co.uk"
        assert organisational_domain("a.b.example.com") == "example.com"


TRUTHFUL = {
    "zen.spamhaus.org": {
        "listed": {"status": "ok", "answers": ["127.0.0.2", "127.0.0.10"]},
        "unlisted": {"status": "nxdomain", "answers": []},
    }
}


def ip001(addresses, skipped=(), tests=TRUTHFUL, unresolved=()):
    data = {
        "resolver": "t",
        "zones": ["zen.spamhaus.org"],
        "addresses": addresses,
        "skipped": list(skipped),
        "unresolved": list(unresolved),
    }
    if tests is not None:
        data["zoneTests"] = tests
    return judge("IP-001", {"dns.blocklists": data})


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
        found, skipped, unresolved = sending_addresses(inbound, [], trace, zone_lookup({}), 16)
        assert unresolved == []
        assert sorted(found) == [
            "192.0.2.1",
            "192.0.2.2",
            "198.51.100.9",
            "203.0.113.10",
            "203.0.113.11",
        ]
        assert [s["entry"] for s in skipped] == ["198.51.100.0/24", "2001:db8::/64"]

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


EXO = "include:spf.protection.outlook.com"


def spf_result(zone, **kwargs):
    return one(auth("AUTH-001", zone, **kwargs))


class TestSpfRules:
    """AUTH-001 applies RFC 7208 in full: each case fails (or errors) on what the record or
    its DNS answers really say, naming why."""

    def test_the_first_all_decides_all_then_minus_all_passes_everyone(self):
        result = spf_result({"TXT example.com": [f"v=spf1 {EXO} all -all"]})
        assert result.status is Status.FAIL
        assert "the first all is +all" in result.message  # 5.1

    def test_a_fail_qualified_exchange_include_does_not_authorise_it(self):
        result = spf_result({"TXT example.com": [f"v=spf1 -{EXO} -all"]})
        assert result.status is Status.FAIL
        assert "does not authorise spf.protection.outlook.com" in result.message

    def test_an_include_after_the_first_all_is_never_evaluated(self):
        result = spf_result({"TXT example.com": [f"v=spf1 -all {EXO}"]})
        assert result.status is Status.FAIL
        assert "does not authorise" in result.message

    def test_terms_after_the_first_all_cost_no_lookups(self):
        record = f"v=spf1 {EXO} -all " + "a " * 12
        result = spf_result({"TXT example.com": [record], "A example.com": ["192.0.2.1"]})
        assert result.status is Status.PASS
        assert result.evidence["lookups"] == 1

    def test_a_syntax_error_fails_the_domain_naming_the_term(self):
        result = spf_result({"TXT example.com": [f"v=spf1 {EXO} ip4:192.0.2.1/33 -all"]})
        assert result.status is Status.FAIL
        assert "`ip4:192.0.2.1/33`: `/33`: an ip4 CIDR length is 0 to 32" in result.message

    def test_a_syntax_error_in_an_included_record_fails_too(self):
        zone = {
            "TXT example.com": [f"v=spf1 {EXO} include:_spf.example.com -all"],
            "TXT _spf.example.com": ["v=spf1 ip4:192.0.2.1 ipv4:192.0.2.2 -all"],
        }
        result = spf_result(zone)
        assert result.status is Status.FAIL
        assert "`include:_spf.example.com` leads to _spf.example.com: `ipv4:192.0.2.2`" in (
            result.message
        )

    def test_three_void_lookups_for_a_targets_are_a_permerror(self):
        zone = {
            "TXT example.com": [
                f"v=spf1 {EXO} a:x1.example.com a:x2.example.com a:x3.example.com -all"
            ]
        }
        result = spf_result(zone)  # none of x1..x3 exists: 4.6.4
        assert result.status is Status.FAIL
        assert "3 lookups that find nothing for an IPv4 sender, over the limit of 2" in (
            result.message
        )

    def test_two_void_lookups_are_allowed(self):
        zone = {
            "TXT example.com": [f"v=spf1 {EXO} a:x1.example.com a:x2.example.com -all"],
        }
        assert spf_result(zone).status is Status.PASS

    def test_void_lookups_for_an_ipv6_sender_count_too(self):
        zone = {
            "TXT example.com": [
                f"v=spf1 {EXO} a:x1.example.com a:x2.example.com a:x3.example.com -all"
            ],
            "A x1.example.com": ["192.0.2.1"],
            "A x2.example.com": ["192.0.2.2"],
            "A x3.example.com": ["192.0.2.3"],
        }
        result = spf_result(zone)
        assert "3 lookups that find nothing for an IPv6 sender" in result.message

    def test_mx_with_more_than_ten_hosts_is_a_permerror(self):
        hosts = [f"{n} mx{n}.example.com" for n in range(11)]
        zone = {"TXT example.com": [f"v=spf1 {EXO} mx -all"], "MX example.com": hosts}
        result = spf_result(zone)
        assert result.status is Status.FAIL
        assert "example.com has 11 MX hosts, over the 10" in result.message

    def test_more_than_ten_lookups_is_a_permerror_and_ten_is_fine(self):
        names = [f"a:h{n}.example.com" for n in range(9)]
        zone = {f"A h{n}.example.com": [f"192.0.2.{n}"] for n in range(10)}
        zone |= {f"AAAA h{n}.example.com": [f"2001:db8::{n}"] for n in range(10)}
        zone["TXT example.com"] = [f"v=spf1 {EXO} {' '.join(names)} -all"]
        assert spf_result(zone).status is Status.PASS  # 1 + 9 = 10
        zone["TXT example.com"] = [f"v=spf1 {EXO} {' '.join(names)} a:h9.example.com -all"]
        assert "11 DNS-querying terms, over the limit of 10" in spf_result(zone).message

    def test_a_redirect_to_a_name_without_spf_is_a_permerror(self):
        result = spf_result({"TXT example.com": ["v=spf1 redirect=_spf.example.com"]})
        assert result.status is Status.FAIL
        assert "_spf.example.com publishes no SPF record" in result.message  # 6.1

    def test_a_dns_error_on_an_include_is_an_error_not_a_verdict(self):
        zone = {"TXT example.com": [f"v=spf1 {EXO} include:_spf.example.com -all"]}
        records = {
            "resolver": "t",
            "queries": mail_records(zone_lookup({**BASE_ZONE, **zone}), ["example.com"]),
        }
        records["queries"]["TXT _spf.example.com"] = {
            "status": "error",
            "answers": [],
            "error": "Timeout",
        }
        outcome = judge(
            "AUTH-001",
            {
                "exchange.acceptedDomains": [accepted("example.com")],
                "exchange.outboundConnectors": [],
                "dns.records": records,
            },
        )
        result = one(outcome)
        assert result.status is Status.ERROR
        assert "the TXT lookup of _spf.example.com failed (Timeout)" in result.message

    def test_an_include_built_from_macros_cannot_be_judged_in_full(self):
        zone = {"TXT example.com": [f"v=spf1 {EXO} include:%{{d}}._spf.example.net -all"]}
        result = spf_result(zone)
        assert result.status is Status.ERROR
        assert "depends on the sender" in result.message

    def test_a_domain_the_resolver_cannot_see_is_an_error(self):
        zone_without_domain = {"TXT spf.protection.outlook.com": ["v=spf1 -all"]}
        outcome = judge(
            "AUTH-001",
            {
                "exchange.acceptedDomains": [accepted("example.com")],
                "exchange.outboundConnectors": [],
                "dns.records": {
                    "resolver": "t",
                    "queries": mail_records(zone_lookup(zone_without_domain), ["example.com"]),
                },
            },
        )
        result = one(outcome)
        assert result.status is Status.ERROR
        assert "does not exist (NXDOMAIN" in result.message


class TestDkimRules:
    def test_a_failed_cname_lookup_is_an_error_not_a_missing_cname(self):
        records = {
            "resolver": "t",
            "queries": mail_records(zone_lookup({**BASE_ZONE, **DKIM_ZONE}), ["example.com"]),
        }
        records["queries"]["CNAME selector2._domainkey.example.com"] = {
            "status": "error",
            "answers": [],
            "error": "NoNameservers",
        }
        outcome = judge(
            "AUTH-002",
            {
                "exchange.acceptedDomains": [accepted("example.com")],
                "exchange.dkimSigningConfig": dkim_config(),
                "dns.records": records,
            },
        )
        result = one(outcome)
        assert result.status is Status.ERROR
        assert "the CNAME lookup of selector2._domainkey.example.com failed" in result.message

    def test_onmicrosoft_domains_are_judged_on_signing(self):
        config = [
            *dkim_config(),
            {"Domain": "example.onmicrosoft.com", "Enabled": False},
        ]
        outcome = auth("AUTH-002", DKIM_ZONE, config)
        result = one(outcome, "domain:example.onmicrosoft.com")
        assert result.status is Status.FAIL
        assert "disabled" in result.message
        config[-1] = {"Domain": "example.onmicrosoft.com", "Enabled": True}
        assert one(
            auth("AUTH-002", DKIM_ZONE, config), "domain:example.onmicrosoft.com"
        ).status is (Status.PASS)


def dmarc_result(zone, domain="example.com", **baseline):
    full = {**BASE_ZONE, f"MX {domain}": ["10 mx.example.com"], **zone}
    outcome = judge(
        "AUTH-003",
        {
            "exchange.acceptedDomains": [accepted(domain)],
            "dns.records": {"resolver": "t", "queries": mail_records(zone_lookup(full), [domain])},
        },
        **baseline,
    )
    return one(outcome, f"domain:{domain}")


class TestDmarcRules:
    """AUTH-003 applies RFC 7489: the record's grammar (6.3, 6.4) and policy discovery
    (6.6.3), with the organisational domain from the Public Suffix List (3.2)."""

    @pytest.mark.parametrize(
        ("record", "reason"),
        [
            ("v=DMARC1; rua=mailto:d@example.com; p=reject", "p must directly follow v"),
            ("v=DMARC1; p=block; rua=mailto:d@example.com", "p=block is not one of"),
            ("v=DMARC1; p=reject; rua=d@example.com", "rua entry `d@example.com` is not a mailto"),
            ("v=DMARC1; p=reject; sp=strict; rua=mailto:d@example.com", "sp=strict is not one of"),
            ("v=DMARC1; p=quarantine; pct=20; rua=mailto:d@example.com", "pct=20: quarantine"),
            ("v=DMARC1; p=reject; pct=101; rua=mailto:d@example.com", "pct=101 is not a number"),
        ],
    )
    def test_each_rule(self, record, reason):
        result = dmarc_result({"TXT _dmarc.example.com": [record]})
        assert result.status is Status.FAIL
        assert reason in result.message

    def test_an_invalid_p_leaves_no_policy_in_force(self):
        result = dmarc_result(
            {"TXT _dmarc.example.com": ["v=DMARC1; p=block; rua=mailto:d@example.com"]}
        )
        assert result.evidence["effectivePolicy"] == "none"

    def test_rua_without_mailto_is_no_reporting_address(self):
        result = dmarc_result({"TXT _dmarc.example.com": ["v=DMARC1; p=reject; rua=d@example.com"]})
        assert "no valid rua (mailto:) address" in result.message

    def test_the_version_is_case_sensitive_and_first(self):
        result = dmarc_result(
            {"TXT _dmarc.example.com": ["v=dmarc1; p=reject; rua=mailto:d@example.com"]}
        )
        assert result.status is Status.FAIL
        assert "no DMARC record" in result.message and "exactly v=DMARC1" in result.message
        result = dmarc_result({"TXT _dmarc.example.com": ["p=reject; v=DMARC1"]})
        assert "no DMARC record" in result.message

    def test_a_failed_own_lookup_never_falls_back_to_the_parent(self):
        zone = {
            **BASE_ZONE,
            "MX mail.example.com": ["10 mx.example.com"],
            "TXT _dmarc.example.com": ["v=DMARC1; p=reject; rua=mailto:d@example.com"],
        }
        queries = mail_records(zone_lookup(zone), ["mail.example.com"])
        queries["TXT _dmarc.mail.example.com"] = {
            "status": "error",
            "answers": [],
            "error": "Timeout",
        }
        outcome = judge(
            "AUTH-003",
            {
                "exchange.acceptedDomains": [accepted("mail.example.com")],
                "dns.records": {"resolver": "t", "queries": queries},
            },
        )
        result = outcome.results[0]
        assert result.status is Status.ERROR
        assert "the TXT lookup of _dmarc.mail.example.com failed (Timeout)" in result.message

    def test_a_clean_nxdomain_falls_back_to_the_organisational_domain(self):
        result = dmarc_result(
            {"TXT _dmarc.example.com": ["v=DMARC1; p=reject; rua=mailto:d@example.com"]},
            domain="mail.example.com",
        )
        assert result.status is Status.PASS
        assert result.evidence["at"] == "_dmarc.example.com"

    @pytest.mark.parametrize(
        ("domain", "organisational"),
        [
            ("mail.contoso.co.at", "contoso.co.at"),
            ("contoso.com.pl", "contoso.com.pl"),
            ("a.b.com.de", "b.com.de"),
            ("x.school.k12.ca.us", "school.k12.ca.us"),
            ("shop.tailspin.co.uk", "tailspin.co.uk"),
            ("a.b.example.com", "example.com"),
        ],
    )
    def test_the_organisational_domain_comes_from_the_public_suffix_list(
        self, domain, organisational
    ):
        assert organisational_domain(domain) == organisational

    def test_the_collector_asks_the_organisational_domain_s_dmarc(self):
        queries = mail_records(zone_lookup({}), ["mail.contoso.co.at"])
        assert "TXT _dmarc.contoso.co.at" in queries
        assert "TXT _dmarc.co.at" not in queries


class TestBlocklistTruth:
    def test_a_resolver_answering_nxdomain_for_everything_gives_errors_not_passes(self):
        liar = {
            "zen.spamhaus.org": {
                "listed": {"status": "nxdomain", "answers": []},
                "unlisted": {"status": "nxdomain", "answers": []},
            }
        }
        result = ip001([entry("nxdomain")], tests=liar).results[0]
        assert result.status is Status.ERROR
        assert "does not answer blocklist queries truthfully" in result.message

    def test_a_resolver_listing_127_0_0_1_is_not_trusted_even_for_its_listings(self):
        wildcard = {
            "zen.spamhaus.org": {
                "listed": {"status": "ok", "answers": ["127.0.0.2"]},
                "unlisted": {"status": "ok", "answers": ["127.0.0.2"]},
            }
        }
        result = ip001([entry("ok", ["127.0.0.2"])], tests=wildcard).results[0]
        assert result.status is Status.ERROR
        assert "answers a listing for 127.0.0.1" in result.message

    def test_without_the_test_entries_nothing_is_judged(self):
        result = ip001([entry("nxdomain")], tests=None).results[0]
        assert result.status is Status.ERROR
        assert "test entries were not looked up" in result.message

    def test_a_refused_test_entry_names_the_refusal(self):
        refused = {
            "zen.spamhaus.org": {
                "listed": {"status": "ok", "answers": ["127.255.255.254"]},
                "unlisted": {"status": "ok", "answers": ["127.255.255.254"]},
            }
        }
        result = ip001([entry("ok", ["127.255.255.254"])], tests=refused).results[0]
        assert result.status is Status.ERROR
        assert "public or open resolver" in result.message

    def test_a_smart_host_that_does_not_resolve_is_an_error(self):
        outbound = [{"Name": "Relay", "Enabled": True, "SmartHosts": ["gone.example.net"]}]
        found, _, unresolved = sending_addresses([], outbound, {}, zone_lookup({}), 16)
        assert found == {}
        assert unresolved == [
            {"host": "gone.example.net", "connector": "Relay", "status": "nxdomain", "error": ""}
        ]
        result = ip001([], unresolved=unresolved).results[0]
        assert result.resource == "host:gone.example.net"
        assert result.status is Status.ERROR
        assert "did not resolve (NXDOMAIN)" in result.message
