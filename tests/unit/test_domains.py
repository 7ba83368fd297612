"""DOM-001 and DOM-002: one test per rule, passing and failing."""

from hypothesis import example, given
from hypothesis import strategies as st

from auditor.judge.model import Status
from auditor.mail.domains import smtp_address, users_by_domain
from checks.domains import _addresses
from tests.helpers import (
    accepted,
    by_resource,
    failing,
    graph_domain,
    inbound,
    judge,
    statuses,
    trace,
    trace_row,
    user,
)


def dom001(accepted_domains=None, graph=None, connectors=(), rows=(), users=()):
    return judge(
        "DOM-001",
        {
            "exchange.acceptedDomains": accepted_domains or [accepted("example.com")],
            "graph.domains": graph or [graph_domain("example.com")],
            "exchange.inboundConnectors": list(connectors),
            "exchange.messageTrace": trace(*rows),
            "graph.users": list(users),
        },
    )


class TestUnregisteredSendingDomains:
    def test_accepted_verified_domain_in_trace_passes(self):
        outcome = dom001(rows=[trace_row("example.com", 500)])
        assert statuses(outcome) == {"domain:example.com": "pass"}
        assert "500 messages" in outcome.results[0].message

    def test_unaccepted_domain_relayed_through_on_premises_connector_fails_with_evidence(self):
        outcome = dom001(
            connectors=[inbound("Relay", SenderIPAddresses=["198.51.100.0/24"])],
            rows=[
                trace_row("spam.example.net", 1800, "198.51.100.7"),
                trace_row("spam.example.net", 42, "192.0.2.9"),
            ],
        )
        result = by_resource(outcome)["domain:spam.example.net"]
        assert result.status is Status.FAIL
        assert "not an accepted domain" in result.message
        assert "1,842 messages" in result.message
        assert "1,800 from 198.51.100.7 via connector Relay" in result.message
        sources = result.evidence["messageTrace"]["sources"]
        assert sources[0] == {
            "fromIP": "198.51.100.7",
            "messages": 1800,
            "inboundConnector": "Relay",
        }
        assert sources[1]["inboundConnector"] is None

    def test_inbound_mail_from_external_domains_is_not_judged(self):
        outcome = dom001(rows=[trace_row("gmail.com", 900, "209.85.220.41", outbound=False)])
        assert "domain:gmail.com" not in by_resource(outcome)

    def test_zero_count_rows_are_ignored(self):
        outcome = dom001(rows=[trace_row("nothing.example.net", 0)])
        assert outcome.results == ()

    def test_subdomain_passes_only_when_accepted_domain_matches_subdomains(self):
        rows = [trace_row("shop.example.com", 10)]
        relay = accepted("example.com", "InternalRelay", match_sub=True)
        assert statuses(dom001([relay], rows=rows)) == {"domain:shop.example.com": "pass"}
        outcome = dom001([accepted("example.com")], rows=rows)
        assert failing(outcome) == ["domain:shop.example.com"]

    def test_accepted_but_unverified_domain_fails(self):
        outcome = dom001(
            [accepted("example.com")],
            [graph_domain("example.com", verified=False)],
            rows=[trace_row("example.com", 3)],
        )
        assert "not verified in Entra ID" in outcome.results[0].message
        assert outcome.results[0].status is Status.FAIL

    def test_verified_without_email_service_fails(self):
        outcome = dom001(
            graph=[graph_domain("example.com", services=("OfficeCommunicationsOnline",))],
            rows=[trace_row("example.com", 3)],
        )
        assert "Email is not among its supported services" in outcome.results[0].message

    def test_accepted_domain_missing_from_graph_fails(self):
        outcome = dom001(graph=[graph_domain("other.com")], rows=[trace_row("example.com", 3)])
        assert "not found in Entra ID" in outcome.results[0].message

    def test_sending_disabled_domain_fails(self):
        outcome = dom001(
            [accepted("example.com", SendingFromDomainDisabled=True)],
            rows=[trace_row("example.com", 3)],
        )
        assert "SendingFromDomainDisabled" in outcome.results[0].message

    def test_wildcard_sender_domains_on_premises_connector_fails(self):
        outcome = dom001(connectors=[inbound("Relay", SenderDomains=["smtp:*;1"])])
        result = by_resource(outcome)["connector:Relay"]
        assert result.status is Status.FAIL
        assert "any domain may be relayed" in result.message

    def test_wildcard_on_partner_connector_is_not_a_sending_domain(self):
        outcome = dom001(
            connectors=[inbound("Partner", ConnectorType="Partner", SenderDomains=["smtp:*;1"])]
        )
        assert outcome.results == ()

    def test_connector_sender_domain_outside_accepted_domains_fails(self):
        outcome = dom001(
            connectors=[
                inbound("Hybrid", SenderDomains=["smtp:example.com;1", "smtp:Legacy.org;1"])
            ]
        )
        assert statuses(outcome) == {"domain:example.com": "pass", "domain:legacy.org": "fail"}
        assert "inbound connector Hybrid" in by_resource(outcome)["domain:legacy.org"].message

    def test_user_proxy_address_in_unaccepted_domain_fails_and_x500_is_ignored(self):
        outcome = dom001(
            users=[
                user("a@example.com", "smtp:a@old.example.org", "X500:/o=Org/cn=a@x.y"),
                user("b@example.com"),
                {"id": "no-mail"},  # a user without mail or proxy addresses
            ]
        )
        assert statuses(outcome) == {"domain:example.com": "pass", "domain:old.example.org": "fail"}
        evidence = by_resource(outcome)["domain:old.example.org"].evidence
        assert evidence["users"] == {"count": 1, "addressExamples": ["a@old.example.org"]}
        assert (
            "in the addresses of 1 user" in by_resource(outcome)["domain:old.example.org"].message
        )
        # A registered domain's users are counted, their addresses not listed.
        passing = by_resource(outcome)["domain:example.com"].evidence["users"]
        assert passing == {"count": 2}

    def test_users_are_counted_once_and_examples_are_distinct_across_case_and_prefix(self):
        outcome = dom001(
            users=[
                user("A@Old.Example.org", "SMTP:a@old.example.org", "smtp: z@old.example.org."),
                user("c@old.example.org", "smtp:b@old.example.org"),
                user("d@example.com", "smtp:d@OLD.example.org"),
            ]
        )
        evidence = by_resource(outcome)["domain:old.example.org"].evidence["users"]
        # " z@old.example.org." keeps its text; its domain loses the root's dot.
        assert evidence == {
            "count": 3,
            "addressExamples": [" z@old.example.org.", "a@old.example.org", "b@old.example.org"],
        }

    def test_trace_times_and_window_are_in_the_evidence(self):
        row = trace_row("bad.example.net", 5) | {
            "FirstReceived": "2026-11-15T00:00:00Z",
            "LastReceived": "2026-11-16T00:00:00Z",
        }
        later = trace_row("bad.example.net", 1) | {"LastReceived": "2026-11-19T00:00:00Z"}
        evidence = by_resource(dom001(rows=[row, later]))["domain:bad.example.net"].evidence
        assert evidence["messageTrace"]["firstReceived"] == "2026-11-15T00:00:00Z"
        assert evidence["messageTrace"]["lastReceived"] == "2026-11-19T00:00:00Z"
        assert evidence["traceWindow"].startswith("2026-11-13")


def dom002(accepted_domains, graph, approved):
    return judge(
        "DOM-002",
        {"exchange.acceptedDomains": accepted_domains, "graph.domains": graph},
        acceptedDomains=approved,
    )


class TestAcceptedDomainDrift:
    def test_verified_and_approved_passes(self):
        outcome = dom002(
            [accepted("example.com")],
            [graph_domain("example.com")],
            [{"name": "example.com", "domainType": "Authoritative"}],
        )
        assert statuses(outcome) == {"domain:example.com": "pass"}

    def test_unverified_fails(self):
        outcome = dom002(
            [accepted("example.com")],
            [graph_domain("example.com", False)],
            [{"name": "example.com"}],
        )
        assert outcome.results[0].message == "not verified in Entra ID"

    def test_tenant_domain_not_in_baseline_fails(self):
        outcome = dom002([accepted("new.example")], [graph_domain("new.example")], [])
        assert "not in the baseline" in outcome.results[0].message

    def test_baseline_domain_missing_from_tenant_fails(self):
        outcome = dom002([], [], [{"name": "gone.example"}])
        assert statuses(outcome) == {"domain:gone.example": "fail"}
        assert "not an accepted domain in the tenant" in outcome.results[0].message

    def test_domain_type_drift_fails(self):
        outcome = dom002(
            [accepted("example.com", "InternalRelay")],
            [graph_domain("example.com")],
            [{"name": "example.com", "domainType": "Authoritative"}],
        )
        assert "DomainType is InternalRelay, the baseline expects Authoritative" in (
            outcome.results[0].message
        )

    def test_names_compare_case_insensitively(self):
        outcome = dom002(
            [accepted("Example.COM")], [graph_domain("example.com")], [{"name": "example.com"}]
        )
        assert statuses(outcome) == {"domain:example.com": "pass"}


# Any text, and text shaped like the addresses Exchange and Graph give (prefixes in any case,
# stray spaces, dots, several @, other proxy types), so the two readers meet the edge cases.
_ADDRESS_TEXT = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.builds(
        "".join,
        st.lists(
            st.sampled_from(
                [
                    "SMTP:",
                    "smtp:",
                    "sMtP:",
                    "X500:",
                    "sip:",
                    ":",
                    "@",
                    "@@",
                    " ",
                    ".",
                    "\t",
                    "a",
                    "Ab",
                    "example.com",
                    "EXAMPLE.org",
                    "\u0130",
                    "\u03a3",
                    "\u212a",
                    "\n",
                ]
            ),
            max_size=8,
        ),
    ),
)


@given(st.lists(st.lists(_ADDRESS_TEXT, max_size=6), max_size=12), st.integers(1, 4))
def test_bulk_reader_reads_each_address_as_smtp_address_does(users, keep):
    """The bulk reader DOM-001 uses over millions of addresses agrees with smtp_address, one
    address at a time, on every input: users per domain, and the smallest addresses."""
    per_user = [{found for found in map(smtp_address, values) if found} for values in users]
    expected_users: dict[str, int] = {}
    every: dict[str, set[str]] = {}
    for found in per_user:
        for domain in {domain for _, domain in found}:
            expected_users[domain] = expected_users.get(domain, 0) + 1
        for address, domain in found:
            every.setdefault(domain, set()).add(address)
    wanted = set(list(every)[::2])
    expected = {d: sorted(every[d])[:keep] if d in wanted else [] for d in every}
    use = users_by_domain(users, examples_for=wanted.__contains__, keep=keep)
    assert {domain: found.users for domain, found in use.items()} == expected_users
    assert {domain: found.examples for domain, found in use.items()} == expected


@given(_ADDRESS_TEXT, st.lists(_ADDRESS_TEXT, max_size=4), st.booleans())
@example(" a@example.com", [], True)  # the proxy address keeps the space after its prefix
@example("smtp:a@example.com", [], True)  # the mail's own prefix goes, the proxy's stays
def test_a_mail_left_out_as_one_of_the_proxy_addresses_changes_nothing(mail, proxies, listed):
    """DOM-001 does not read a mail that is one of the user's proxy addresses again: what it
    finds (users per domain, the smallest addresses) is what reading it would find."""
    if listed and mail:
        proxies = [*proxies, f"SMTP:{mail}"]
    user = {"mail": mail, "proxyAddresses": proxies}
    everything = users_by_domain([[mail, *proxies]], examples_for=lambda domain: True)
    assert users_by_domain(_addresses([user]), examples_for=lambda domain: True) == everything


def test_smtp_address_reads_exchange_proxy_addresses():
    assert smtp_address("SMTP:Ann@Example.COM") == ("ann@example.com", "example.com")
    assert smtp_address("  smtp:ann@example.com.  ") == ("ann@example.com.", "example.com")
    assert smtp_address("ann@example.com") == ("ann@example.com", "example.com")
    for other in (
        "X500:/o=Org/cn=a@x.y",
        "SIP:ann@example.com",
        "@example.com",
        "ann@",
        "ann",
        "ann@.",
        "",
        None,
        "smtp:",
    ):
        assert smtp_address(other) is None, other
