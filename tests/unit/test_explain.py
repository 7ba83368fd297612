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
        # Outlook's words for 5.1.8, as Microsoft's article quotes them
        (
            "Your message couldn't be delivered because you weren't recognized as a valid "
            "sender. The most common reason for this is that your email address is suspected "
            "of sending spam and it's no longer allowed to send email.",
            "restricted-sender",
        ),
        ("550 5.7.501 Access denied, spam abuse detected", "spam-abuse"),
        ("550 5.7.502 Access denied, banned sender", "spam-abuse"),
        ("550 5.7.511 Access denied, banned sender", "banned-ip"),
        ("451 4.7.500 Access denied, please try again later (AS12345)", "temporarily-restricted"),
        ("451 4.7.850 Access denied, please try again later", "temporarily-restricted"),
        ("550 5.7.700", "tenant-threshold"),
        ("550 5.7.712", "tenant-threshold"),
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


def test_the_tenant_recipient_block_list_is_not_a_tenant_block():
    # 5.7.703 is the tenant's own block list, not Microsoft blocking the tenant.
    family = recognise(
        "550 5.7.703 Your message can't be delivered because one or more recipients are "
        "blocked by your organization's tenant recipient block policy"
    )
    assert family is None or family.key != "tenant-threshold"


def test_every_family_links_somewhere_to_read_more():
    from auditor.commands.explain import render

    for family in FAMILIES:
        assert "\nMore:\n  http" in render(family, {}), family.key


def test_quoted_addresses_are_found_once_each():
    from auditor.commands.explain import quoted_addresses

    text = (
        "550 5.7.606 Access denied, banned sending IP [203.0.113.26]. Client host "
        "[203.0.113.26] and 198.51.100.7; version 5.7.606.1 is not an address, nor 300.1.1.1"
    )
    assert quoted_addresses(text) == ["203.0.113.26", "198.51.100.7"]


def test_where_an_address_appears_in_the_demo():
    from auditor import snapshot
    from auditor.commands.explain import where
    from auditor.demo import SNAPSHOT

    demo = snapshot.load(SNAPSHOT)
    lines = where(demo, "203.0.113.26")
    assert "inbound connector On-Prem Hybrid (enabled) accepts mail from it (203.0.113.26)" in (
        lines
    )
    assert any(line.startswith("message trace: 61 messages from it") for line in lines)
    assert any(line.startswith("blocklist zen.spamhaus.org: 127.0.0.10") for line in lines)
    assert where(demo, "192.0.2.200") == [
        "nowhere in the connectors, message trace or blocklist lookups collected"
    ]
