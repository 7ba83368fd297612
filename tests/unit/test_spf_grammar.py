"""The SPF record grammar of RFC 7208 (section 12's ABNF and the sections each case cites),
one rule per case: what is valid parses without error, what is not is a permerror whose
reason names the term. Cases follow the RFC's own examples and the rules the openspf test
suite (rfc7208-tests.yml) holds implementations to."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.mail.spf import domain_spec_problem, is_spf, parse, spf_records, spf_targets

VALID = [
    # 4.6.1: terms separated by one or more spaces; trailing spaces allowed
    "v=spf1 a  -all",
    "v=spf1 -all ",
    "v=spf1",  # 4.5: an empty record is valid (evaluates to neutral)
    "V=SpF1 ~all",  # 4.5: the version is case-insensitive
    # 5.1 all, 5.2 include, 5.7 exists, 5.5 ptr
    "v=spf1 ?all",
    "v=spf1 include:_spf.example.com -all",
    "v=spf1 exists:%{i}._spf.example.com -all",
    "v=spf1 ptr -all",
    "v=spf1 ptr:example.com -all",
    # 5.3 / 5.4: a and mx, with a domain and a dual CIDR length
    "v=spf1 a mx -all",
    "v=spf1 a/24 mx//64 -all",
    "v=spf1 a:mail.example.com/24//64 -all",
    "v=spf1 a//0 mx/0 -all",
    "v=spf1 a:foo:bar/baz.example.com -all",  # 7.1: any visible char but % in a domain-spec
    "v=spf1 a:foo.example.xn--zckzah -all",  # 7.1: a top label may hold hyphens
    # 5.6 ip4 / ip6 with CIDR lengths
    "v=spf1 ip4:192.0.2.0/24 ip4:192.0.2.1 ip4:1.1.1.1/0 ip4:1.2.3.4/32 -all",
    "v=spf1 ip6:2001:db8::/32 ip6:::1.1.1.1/0 ip6:Cafe:Babe:8000::/33 ip6:2001:db8::/128 -all",
    # 6 modifiers: redirect, exp, unknown modifiers (ignored but well-formed)
    "v=spf1 redirect=_spf.example.com",
    "v=spf1 -all exp=explain._spf.example.com",
    "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all",
    # 7.1 macros
    "v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all",
    "v=spf1 exists:%{l2r-}.user.%{d2} -all",
    "v=spf1 exists:%{ir}.%{v}._spf.%{D} -all",
    "v=spf1 redirect=%{d}.d.spf.example.com.",
    "v=spf1 include:o.spf.example.com. ~all",  # a trailing dot on the domain
]


@pytest.mark.parametrize("record", VALID)
def test_valid_records_parse_without_permerror(record):
    assert parse(record).errors == ()


INVALID = [
    # (record, what the reason must say)
    ("v=spf1 ip4:1.2.3.4 -all moo", "unknown mechanism `moo`"),  # 4.6, 5
    ("v=spf1 a:ctrl.example.com\rptr -all", "a control character"),  # 3.1, 4.6.1
    ("v=spf1 a:example.net \x96all", "non-ASCII"),  # 3.1
    ("v=spf1 -all.", "all takes no argument"),  # 5.1
    ("v=spf1 -all:foobar", "all takes no argument"),
    ("v=spf1 -all/8", "all takes no argument"),
    ("v=spf1 ptr/0 -all", "ptr takes only `:domain`"),  # 5.5
    ("v=spf1 ptr: -all", "the domain is empty"),
    ("v=spf1 include -all", "include needs `:domain`"),  # 5.2
    ("v=spf1 include: -all", "the domain is empty"),
    ("v=spf1 include:ip5.example.com/24 -all", "does not end in a valid top label"),
    ("v=spf1 exists", "exists needs `:domain`"),  # 5.7
    ("v=spf1 exists:mail.example.com/24", "does not end in a valid top label"),
    ("v=spf1 a/33 -all", "`/33`: an IPv4 CIDR length is 0 to 32"),  # 5.6
    ("v=spf1 mx//129 -all", "`//129`: an IPv6 CIDR length is 0 to 128"),
    ("v=spf1 a/24/64 -all", "`/64`: an IPv4 CIDR length"),  # dual CIDR is /4//6, not /4/6
    ("v=spf1 ip4:1.2.3.4/33 -all", "`/33`: an ip4 CIDR length is 0 to 32"),
    ("v=spf1 ip4:1.2.3.4/032 -all", "without leading zeros"),
    ("v=spf1 ip4:1.2.3.4//32", "an ip4 CIDR length is 0 to 32"),  # no dual CIDR on ip4
    ("v=spf1 ip4:1.2.3.4:8080", "is not an IPv4 address"),
    ("v=spf1 ip4:1.2.3", "is not an IPv4 address"),  # 5.6: no short forms
    ("v=spf1 ip4:01.2.3.4", "is not an IPv4 address"),  # 12: qnum has no leading zeros
    ("v=spf1 ip4", "ip4 needs `:address`"),
    ("v=spf1 -all ip6", "ip6 needs `:address`"),
    ("v=spf1 ip6:::1.1.1.1/129", "an ip6 CIDR length is 0 to 128"),
    ("v=spf1 ip6:::1.1.1.1//33", "an ip6 CIDR length is 0 to 128"),
    ("v=spf1 ip6::CAFE::BABE", "is not an IPv6 address"),
    ("v=spf1 a:museum", "needs a dot and a top label"),  # 7.1: not only a top label
    ("v=spf1 a:museum.", "needs a dot and a top label"),
    ("v=spf1 a:abc.123", "not all digits"),  # 7.1: a top label is not all numeric
    ("v=spf1 a:111.222.33.44", "not all digits"),  # an address is not a domain
    ("v=spf1 a:example.-com", "does not end in a valid top label"),
    ("v=spf1 a:example.com:8080", "does not end in a valid top label"),
    ("v=spf1 a:mail.example...com -all", "has an empty label"),  # 4.3
    ("v=spf1 a:" + "a" * 64 + ".example.com -all", "longer than 63 characters"),
    ("v=spf1 redirect:t2.example.com", "unknown mechanism `redirect`"),  # a modifier
    ("v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all", "unknown mechanism `moo.cow`"),
    ("v=spf1 1up=foo", "unknown mechanism `1up=foo`"),  # A/3: a name starts with a letter
    ("v=spf1 =all", "unknown mechanism `=all`"),
    ("v=spf1 -redirect=_spf.example.com", "a modifier takes no qualifier"),
    ("v=spf1 ~exp=explain.example.com -all", "a modifier takes no qualifier"),
    ("v=spf1 exp= -all", "exp= needs a domain"),  # 6.2
    ("v=spf1 exp=-all", "exp= needs a domain"),
    ("v=spf1 ?all redirect=", "redirect= needs a domain"),  # 6.1
    ("v=spf1 redirect=-all ?all", "redirect= needs a domain"),
    ("v=spf1 redirect=a.example.com -all redirect=b.example.com", "redirect= appears 2 times"),
    ("v=spf1 exp=a.example.com -all exp=b.example.com", "exp= appears 2 times"),  # 6
    ("v=spf1 -all foo=%abc", "a % must be followed by"),  # 7.1
    ("v=spf1 exists:%(ir).sbl.example.com ?all", "a % must be followed by"),
    ("v=spf1 exists:foo%.sbl.example.com ?all", "a % must be followed by"),
    ("v=spf1 -all exp=%{r}.example.com", "allowed only in explanation text"),  # 7.2
    ("v=spf1 a:%{a}.example.com -all", "a is not a macro letter"),
    ("v=spf1 exists:%{d0}.example.com -all", "must not be zero"),  # 7.3
    ("v=spf1 exists:%{d2r;}.example.com -all", "delimiters are"),
    ("v=spf1 exists:%{i.example.com -all", "not closed"),
]


@pytest.mark.parametrize(("record", "reason"), INVALID)
def test_each_grammar_violation_is_a_permerror_naming_the_term(record, reason):
    errors = parse(record).errors
    assert errors, f"{record!r} parsed without a permerror"
    assert any(reason in e for e in errors), errors


def test_the_reason_names_the_exact_term():
    assert parse("v=spf1 ip4:1.2.3.4/33 -all").errors == (
        "`ip4:1.2.3.4/33`: `/33`: an ip4 CIDR length is 0 to 32, without leading zeros",
    )


class TestSelection:
    """4.5: which TXT records are SPF records."""

    @pytest.mark.parametrize("text", ["v=spf1", "v=spf1 -all", "V=SPF1 -all"])
    def test_spf(self, text):
        assert is_spf(text)

    @pytest.mark.parametrize("text", ["v=spf10", "v=spf1-all", "spf1 -all", " v=spf1 -all", ""])
    def test_not_spf(self, text):
        assert not is_spf(text)

    def test_only_spf_records_are_kept(self):
        assert spf_records(["google-site-verification=x", "v=spf1 -all"]) == ["v=spf1 -all"]


class TestEvaluationOrder:
    def test_the_first_all_decides_and_later_terms_are_never_evaluated(self):
        record = parse("v=spf1 all -all")  # 5.1: `all` (+) matches every sender
        assert record.first_all is not None and record.first_all.qualifier == "+"
        assert [t.text for t in record.evaluated] == ["all"]

    def test_a_redirect_is_ignored_when_an_all_is_present(self):
        assert parse("v=spf1 redirect=_spf.example.com ~all").redirect is None  # 6.1
        assert parse("v=spf1 ip4:192.0.2.1 redirect=x.example.com").redirect is not None

    def test_targets_to_follow_stop_at_the_first_all_and_skip_macros(self):
        record = "v=spf1 include:a.example include:%{d}.b.example -all include:c.example"
        assert spf_targets(record) == ["a.example"]

    def test_qualifiers_default_to_pass(self):
        terms = parse("v=spf1 mx -include:a.example ~a ?ptr").terms
        assert [t.qualifier for t in terms] == ["+", "-", "~", "?"]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("example.com", None),
        ("%{d}", None),  # domain-end may be a macro-expand
        ("_spf.%{d2}", None),
        ("", "the domain is empty"),
        ("com", "needs a dot"),
    ],
)
def test_domain_spec(spec, problem):
    found = domain_spec_problem(spec)
    assert (found is None) if problem is None else (problem in str(found))


# --- property: the parser never raises, whatever a TXT record holds -----------------------

SPF_PIECES = st.lists(
    st.sampled_from(
        [
            *"v=spf1 -+~?:/.%{}_aAmxip0123456789,=\t\x00\xe9",
            "all",
            "include:",
            "a:",
            "mx",
            "ptr",
            "exists:",
            "ip4:",
            "ip6:",
            "redirect=",
            "exp=",
            "%{d}",
            "%{i}",
            "example.com",
            "//",
        ]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(SPF_PIECES)
def test_any_text_gives_terms_or_permerrors_never_an_exception(text):
    record = parse("v=spf1 " + text)
    assert isinstance(record.errors, tuple)
    for error in record.errors:
        assert isinstance(error, str) and error


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_unicode_never_raises(text):
    parse(text)
    parse("v=spf1 " + text)
    spf_targets("v=spf1 " + text)
