"""Where a person reads more: the Microsoft page for each NDR a check prevents, the page on
how to make each check pass, and the area each check belongs to, named in words. Each address
was found in Microsoft's docs or in public clients citing them (docs/check-rules.md, "Links")."""

from __future__ import annotations

import re

_LEARN = "https://learn.microsoft.com/en-us"
_NDR_OLD = f"{_LEARN}/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online"
NDR_OVERVIEW = (
    f"{_LEARN}/troubleshoot/exchange/email-delivery/ndr/non-delivery-reports-in-exchange-online"
)
_TENANT_BLOCK = f"{_NDR_OLD}/fix-error-code-5-7-700-through-5-7-750"
_LIMITS = (
    f"{_LEARN}/office365/servicedescriptions/exchange-online-service-description/"
    "exchange-online-limits#sending-limits"
)
_DELIST = (
    f"{_LEARN}/defender-office-365/"
    "use-the-delist-portal-to-remove-yourself-from-the-office-365-blocked-senders-lis"
)
_FORWARDING = f"{_LEARN}/defender-office-365/outbound-spam-policies-external-email-forwarding"
_RESTRICTED = f"{_LEARN}/defender-office-365/removing-user-from-restricted-users-portal-after-spam"
_SMTP_AUTH = (
    f"{_LEARN}/exchange/clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission"
)
_DMARC = f"{_LEARN}/defender-office-365/email-authentication-dmarc-configure"

# Enhanced status code (regular expression) -> the page Microsoft keeps for it.
_NDR_PAGES: tuple[tuple[str, str], ...] = (
    (r"5\.7\.7[0-4]\d|5\.7\.750", _TENANT_BLOCK),
    (r"5\.1\.8", f"{_NDR_OLD}/fix-error-code-5-1-8-in-exchange-online"),
    (
        r"5\.7\.23",
        f"{_LEARN}/troubleshoot/exchange/email-delivery/ndr/"
        "fix-error-code-5-7-23-in-exchange-online",
    ),
    (r"5\.7\.(6[0-3]\d|64[0-9])", _DELIST),
    (r"5\.7\.520", _FORWARDING),
    (r"5\.7\.23[2-6]", _LIMITS),
    (r"5\.7\.(509|26)", _DMARC),
)

# Check id -> how to make it pass.
REMEDIATION: dict[str, str] = {
    "ADM-001": f"{_LEARN}/entra/identity/conditional-access/policy-admin-mfa",
    "ADM-002": f"{_LEARN}/entra/identity/conditional-access/policy-all-users-mfa-strength",
    "ALERT-001": f"{_LEARN}/defender-office-365/alert-policies-defender-portal",
    "APP-001": f"{_LEARN}/exchange/permissions-exo/application-rbac",
    "AUTH-001": f"{_LEARN}/defender-office-365/email-authentication-spf-configure",
    "AUTH-002": f"{_LEARN}/defender-office-365/email-authentication-dkim-configure",
    "AUTH-003": _DMARC,
    "CONN-001": f"{_LEARN}/exchange/mail-flow-best-practices/use-connectors-to-configure-mail-flow/"
    "use-connectors-to-configure-mail-flow",
    "CONN-002": f"{_LEARN}/exchange/mail-flow-best-practices/use-connectors-to-configure-mail-flow/"
    "use-connectors-to-configure-mail-flow",
    "CONN-003": f"{_LEARN}/exchange/mail-flow-best-practices/use-connectors-to-configure-mail-flow/"
    "use-connectors-to-configure-mail-flow",
    "DOM-001": f"{_LEARN}/exchange/mail-flow-best-practices/manage-accepted-domains/"
    "manage-accepted-domains",
    "DOM-002": f"{_LEARN}/exchange/mail-flow-best-practices/manage-accepted-domains/"
    "manage-accepted-domains",
    "FWD-001": _FORWARDING,
    "FWD-002": f"{_LEARN}/exchange/security-and-compliance/mail-flow-rules/mail-flow-rules",
    "IP-001": _DELIST,
    "LIM-001": _LIMITS,
    "LIM-002": _LIMITS,
    "LIM-003": _LIMITS,
    "OUT-001": f"{_LEARN}/defender-office-365/outbound-spam-policies-configure",
    "OUT-002": _RESTRICTED,
    "OUT-003": _RESTRICTED,
    "SIGN-001": _SMTP_AUTH,
    "SIGN-002": f"{_LEARN}/entra/identity/conditional-access/policy-block-legacy-authentication",
    "SIGN-003": f"{_LEARN}/microsoft-365/admin/email/about-shared-mailboxes",
    "SUB-001": f"{_LEARN}/microsoft-365/commerce/subscriptions/what-if-my-subscription-expires",
}

# Check id prefix -> the area it audits, in words.
AREAS: dict[str, str] = {
    "ADM": "Admins and MFA",
    "ALERT": "Alerts",
    "APP": "Apps",
    "AUTH": "SPF, DKIM and DMARC",
    "CONN": "Connectors",
    "DOM": "Domains",
    "FWD": "Forwarding and rules",
    "IP": "Blocklists",
    "LIM": "Sending limits",
    "OUT": "Outbound spam",
    "SIGN": "Sign-in and protocols",
    "SUB": "Subscriptions",
}


def area(check_id: str) -> str:
    prefix = check_id.split("-")[0]
    return AREAS.get(prefix, prefix)


def ndr_page(code: str) -> str:
    for pattern, page in _NDR_PAGES:
        if re.fullmatch(pattern, code):
            return page
    return NDR_OVERVIEW


def ndr_pages(codes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(codes, page) for each page, the codes it explains joined, in the order first named."""
    pages: dict[str, list[str]] = {}
    for code in codes:
        pages.setdefault(ndr_page(code), []).append(code)
    return [(", ".join(named), page) for page, named in pages.items()]


def remediation(check_id: str) -> str | None:
    return REMEDIATION.get(check_id)
