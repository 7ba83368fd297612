"""The DMARC record as RFC 7489 defines it (6.3 tags, 6.4 grammar, 6.6.3 discovery): the
parser's reading of each rule, and a property test that no text makes it raise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.mail.dmarc import dmarc_records, is_dmarc, looks_like_dmarc, parse


@pytest.mark.parametrize(
    "text",
    ["v=DMARC1; p=none", "v=DMARC1;p=reject", "v = DMARC1 ; p = quarantine", "V=DMARC1; p=none"],
)
def test_the_version_tag_makes_a_dmarc_record(text):
    assert is_dmarc(text)


@pytest.mark.parametrize(
    "text",
    ["v=dmarc1; p=none", "p=none; v=DMARC1", "v=DMARC2; p=none", "v=DMARC1p=none", "", "v=spf1"],
)
def test_anything_else_is_discarded(text):
    assert not is_dmarc(text)  # 6.6.3: records not starting with v=DMARC1 are discarded


def test_a_lower_case_version_is_recognised_as_meant_for_dmarc():
    assert looks_like_dmarc("v=dmarc1; p=reject") and not looks_like_dmarc("v=spf1 -all")
    assert dmarc_records(["v=spf1 -all", "v=DMARC1; p=reject"]) == ["v=DMARC1; p=reject"]


def test_a_complete_record():
    record = parse(
        "v=DMARC1; p=reject; sp=quarantine; pct=100; adkim=s; aspf=r; "
        "rua=mailto:a@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; ri=86400"
    )
    assert record.problems == ()
    assert record.policy == "reject" and record.subdomain_policy == "quarantine"
    assert record.reports == ("mailto:a@example.com", "mailto:b@example.net!10m")
    assert record.effective_policy(for_subdomain=False) == "reject"
    assert record.effective_policy(for_subdomain=True) == "quarantine"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("v=DMARC1", "no p tag"),
        ("v=DMARC1; rua=mailto:a@example.com; p=none", "p must directly follow v"),
        ("v=DMARC1; p=reject; p=none", "tag p appears twice"),
        ("v=DMARC1; p=monitor", "p=monitor is not one of"),
        ("v=DMARC1; p=reject; adkim=x", "adkim=x is not one of"),
        ("v=DMARC1; p=reject; pct=abc", "pct=abc is not a number"),
        ("v=DMARC1; p=reject; ri=daily", "ri=daily is not a number of seconds"),
        ("v=DMARC1; p=reject; rua=https://report.example.com", "is not a mailto: address"),
        ("v=DMARC1; p=reject; ruf=f@example.com", "ruf entry `f@example.com`"),
        ("v=DMARC1; p=reject; garbage", "is not a tag=value pair"),
    ],
)
def test_each_problem_is_named(text, problem):
    problems = parse(text).problems
    assert any(problem in p for p in problems), problems


def test_an_invalid_p_or_sp_leaves_no_enforcement():
    assert parse("v=DMARC1; p=monitor").effective_policy(for_subdomain=False) == "none"
    record = parse("v=DMARC1; p=reject; sp=monitor")
    assert record.effective_policy(for_subdomain=True) == "none"  # 6.6.3


def test_unknown_tags_are_ignored():
    assert parse("v=DMARC1; p=reject; np=reject; psd=n").problems == ()


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "v=DMARC1",
                "v=dmarc1",
                "; ",
                ";",
                "p=",
                "sp=",
                "rua=",
                "pct=",
                "reject",
                "none",
                "mailto:",
                "a@b.c",
                ",",
                "!",
                "=",
                " ",
                "\t",
                "50",
                "x",
                "\xe9",
            ]
        ),
        max_size=25,
    ).map("".join)
)
def test_any_record_text_gives_a_reading_never_an_exception(text):
    record = parse(text)
    assert record.effective_policy(for_subdomain=True) in ("none", "quarantine", "reject")
    is_dmarc(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_unicode_never_raises(text):
    parse(text)
    is_dmarc(text)
    looks_like_dmarc(text)
