"""NDR recognition, and its agreement with what each check says it prevents."""

import pytest

from auditor.commands.explain import FAMILIES, recognise
from auditor.judge.registry import discover


@pytest.mark.parametrize(
    ("text", "family"),
    [
        (
            "550 5.7.750 Service unavailable. Client blocked from sending from unregistered "
            "domains",
            "unregistered-domain",
        ),
        ("5.7.750", "unregistered-domain"),
        ("550 5.7.705 Access denied, tenant has exceeded threshold", "tenant-threshold"),
        (
            "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP",
            "tenant-threshold",
        ),
        ("550 5.1.8 Access denied, bad outbound sender", "restricted-sender"),
        ("550 5.7.606 Access denied, banned sending IP [203.0.113.26]", "banned-ip"),
        ("5.7.649", "banned-ip"),
        (
            "554 5.7.1 Service unavailable; Client host [203.0.113.26] blocked using "
            "zen.spamhaus.org",
            "blocklist",
        ),
        (
            "550 5.7.520 Access denied, Your organization does not allow external forwarding",
            "external-forwarding",
        ),
        (
            "550 5.7.509 Access denied, sending domain example.com does not pass DMARC "
            "verification",
            "authentication",
        ),
        ("Your subscription has been suspended", "subscription"),
        (
            "550 5.7.233 Your message can't be sent because your tenant exceeded its daily "
            "limit for sending email to external recipients (tenant external recipient rate "
            "limit)",
            "tenant-external-limit",
        ),
        (
            "550 5.7.232 Your message can't be sent because your trial tenant has exceeded its "
            "daily limit for sending email to external recipients (tenant external recipient "
            "rate limit)",
            "tenant-external-limit",
        ),
        ("550 5.7.236", "onmicrosoft-limit"),
    ],
)
def test_each_family_is_recognised(text, family):
    assert recognise(text).key == family


@pytest.mark.parametrize("text", ["hello world", "250 2.0.0 OK", "5.4.1"])
def test_unknown_text_is_not_recognised(text):
    assert recognise(text) is None


def test_families_name_only_existing_checks():
    checks = discover()
    for family in FAMILIES:
        assert set(family.checks) <= set(checks), family.key


def test_every_ndr_a_check_prevents_leads_back_to_it():
    for cid, item in discover().items():
        for code in item.spec.ndr:
            family = recognise(code)
            assert family is not None, (cid, code)
            assert cid in family.checks, (cid, code, family.key)
