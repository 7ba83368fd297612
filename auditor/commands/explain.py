"""What a bounce means: NDR families, their likely causes, and the checks that find them."""

from __future__ import annotations

import ipaddress
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor import PROG
from auditor.commands.run import Look, Target, audit, emit, warn
from auditor.commands.run import render as render_format
from auditor.common import jsonio
from auditor.common.errors import UsageError
from auditor.judge.model import Severity
from auditor.judge.registry import discover
from auditor.reports import json_report
from auditor.snapshot import Snapshot


@dataclass(frozen=True)
class Family:
    key: str
    title: str
    codes: tuple[str, ...]  # regular expressions for the enhanced status code
    words: tuple[str, ...]  # regular expressions for the text, when no code is given
    meaning: str
    causes: tuple[str, ...]
    checks: tuple[str, ...]
    steps: tuple[str, ...]
    links: tuple[str, ...] = ()


MAX_TEXT = 20_000  # an NDR, headers and all, is a few thousand characters
NDR_PAGE = (
    "https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/"
    "non-delivery-reports-in-exchange-online"
)
DELIST = "https://sender.office.com (Microsoft's delist portal)"
SPAMHAUS = "https://check.spamhaus.org (Spamhaus' lookup)"


FAMILIES: tuple[Family, ...] = (
    Family(
        key="unregistered-domain",
        title="Blocked for sending from unregistered domains (5.7.750)",
        codes=(r"5\.7\.750",),
        words=(r"unregistered domain",),
        meaning="Exchange Online stopped accepting mail the tenant relays because the sender "
        "domains are not accepted, verified domains of the tenant. Past a volume threshold it "
        "blocks every sender in the tenant, not only the offending ones.",
        causes=(
            "An on-premises server, printer or application relays mail through an inbound "
            "connector with sender addresses in domains the tenant never added.",
            "An accepted domain was added to Exchange Online but never verified.",
            "An attacker added an inbound connector and relays spam with forged senders.",
        ),
        checks=("DOM-001", "DOM-002", "CONN-001", "CONN-002", "ADM-001", "ALERT-001"),
        steps=(
            "Find the domains and source IPs in DOM-001's evidence.",
            "Add and verify the domains you own; stop or rewrite the relay for those you don't.",
            "Disable any connector you did not create (CONN-001) and narrow the others (CONN-002).",
            "Then ask Microsoft support to lift the block: it stays until the cause is gone.",
        ),
    ),
    Family(
        key="tenant-threshold",
        title="Tenant blocked for exceeding its sending threshold (5.7.700-749: 5.7.705, 5.7.708)",
        # Microsoft's article covers 5.7.700 through 5.7.750; only 705 and 708 have published
        # texts, 703 is another matter (the tenant's recipient block list) and 750 has its own.
        codes=(r"5\.7\.7(0[0-24-9]|[1-4]\d)\b",),
        words=(r"exceeded threshold", r"high[- ]risk", r"traffic not accepted"),
        meaning="Microsoft saw enough spam leave the tenant to stop all of its outbound mail "
        "(5.7.705), or routed it through its high-risk pool and then refused it (5.7.708).",
        causes=(
            "An account without MFA was taken over and sends spam.",
            "An app that can send as any user had its secret stolen.",
            "A password alone was enough: SMTP AUTH, legacy authentication not blocked, or a "
            "shared mailbox whose account can sign in.",
            "A rogue inbound connector relays spam through the tenant.",
            "Mailboxes or transport rules forward mail outside in bulk.",
            "Outbound spam policies do not stop a sender that bursts.",
        ),
        checks=(
            "ADM-001",
            "ADM-002",
            "CONN-001",
            "CONN-002",
            "OUT-001",
            "OUT-002",
            "OUT-003",
            "LIM-003",
            "SIGN-001",
            "SIGN-002",
            "SIGN-003",
            "FWD-001",
            "FWD-002",
            "APP-001",
            "ALERT-001",
        ),
        steps=(
            "Secure the accounts that sent the spam: reset passwords, revoke sessions, "
            "require MFA.",
            "Remove connectors, rules and forwarding nobody approved.",
            "Tighten the outbound spam policy so one account cannot do this again.",
            "Open a support request to unblock the tenant once the spam has stopped.",
        ),
    ),
    Family(
        key="restricted-sender",
        title="User restricted from sending (5.1.8, 5.1.90)",
        codes=(r"5\.1\.8\b", r"5\.1\.90"),
        words=(
            r"bad outbound sender",
            r"restricted from sending",
            r"restricted entit",
            # what Outlook shows the sender of 5.1.8
            r"weren't recognized as a valid sender",
            r"no longer allowed to send",
        ),
        meaning="The sender exceeded an outbound limit or sent what looked like spam, and Exchange "
        "Online blocked that user (not the whole tenant) from sending.",
        causes=(
            "The account is compromised and sent spam.",
            "A legitimate bulk send exceeded the recipient limits.",
        ),
        checks=(
            "OUT-002",
            "OUT-003",
            "LIM-003",
            "OUT-001",
            "ADM-001",
            "SIGN-001",
            "SIGN-002",
            "SIGN-003",
            "ALERT-001",
        ),
        steps=(
            "Treat the account as compromised: reset its password, revoke sessions, require MFA.",
            "Look for inbox rules, forwarding and app consents the attacker added.",
            "Then remove the user from Restricted entities in the Defender portal.",
        ),
    ),
    Family(
        key="onmicrosoft-limit",
        title="Too much external mail from .onmicrosoft.com addresses (5.7.236)",
        codes=(r"5\.7\.236",),
        words=(r"onmicrosoft\.com.*(limit|throttl)", r"\bmoera\b"),
        meaning="Mail from any *.onmicrosoft.com address to external recipients is limited to "
        "100 recipients per tenant in a rolling 24 hours; past that, every such message is "
        "refused until the window moves on.",
        causes=(
            "Mailboxes, shared mailboxes or scanners still have an .onmicrosoft.com primary "
            "address because the custom domain was added later or is not the default.",
            "An application or SMTP relay sends as an .onmicrosoft.com address.",
            "A new (often trial) tenant is used to send spam before a custom domain exists.",
        ),
        checks=("LIM-001",),
        steps=(
            "Give the mailboxes LIM-001 lists a primary address on a custom domain.",
            "Make a custom domain the tenant's default domain.",
            "Point scanners, applications and relays at a custom-domain sender.",
            "Wait for the 24-hour window to pass; nothing lifts the limit sooner.",
        ),
    ),
    Family(
        key="tenant-external-limit",
        title="Tenant over its daily limit of external recipients (5.7.232, 5.7.233)",
        codes=(r"5\.7\.23[23]\b",),
        words=(
            r"tenant external recipient rate limit",
            r"daily limit for sending email to external recipients",
        ),
        meaning="Exchange Online limits how many external recipients a tenant may send to in a "
        "rolling 24 hours, scaled by its paid licences (500 x licences^0.7 + 9500; 5,000 for a "
        "trial tenant, 5.7.232). Past it, mail to external recipients bounces (5.7.233) until "
        "the window moves on.",
        causes=(
            "A compromised account sends spam to many external recipients.",
            "A legitimate bulk send (newsletter, notifications) goes through mailboxes.",
            "Distribution groups with many external members: each member counts.",
            "Forwarding of inbound mail to outside addresses: each forward counts.",
        ),
        checks=("LIM-002", "LIM-003", "OUT-002", "FWD-001", "ADM-001"),
        steps=(
            "Find the senders that sent the most (LIM-002's evidence; EAC > Reports > Mail "
            "flow > Tenant Outbound External Recipients).",
            "Secure any account that did not mean to send it; stop forwarding nobody approved.",
            "Move bulk mail to Azure Communication Services or a bulk mail provider.",
            "Wait for the 24-hour window to pass, or add paid licences if the need is real.",
        ),
    ),
    Family(
        key="spam-abuse",
        title="Sending account banned for spam (5.7.501, 5.7.502, 5.7.503)",
        codes=(r"5\.7\.50[123]\b",),
        words=(r"spam abuse detected",),
        meaning="Microsoft banned the sending account after detecting spam from it. Unlike a "
        "restriction (5.1.8), only Microsoft support lifts the ban, once the account is secured.",
        causes=(
            "The account was taken over (no MFA, or a route around it) and sent spam.",
            "A mailbox sent bulk mail that looked like spam.",
        ),
        checks=(
            "OUT-002",
            "LIM-003",
            "ADM-001",
            "SIGN-001",
            "SIGN-002",
            "SIGN-003",
            "FWD-001",
        ),
        steps=(
            "Secure the account: reset its password, revoke its sessions, require MFA, remove "
            "inbox rules and forwarding the attacker added.",
            "Close the route it came in by (SMTP AUTH, legacy authentication, a shared "
            "mailbox's password).",
            "Then contact Microsoft support with the NDR to restore sending.",
        ),
        links=(NDR_PAGE,),
    ),
    Family(
        key="temporarily-restricted",
        title="Sending temporarily restricted (4.7.500-699, 4.7.850-899)",
        codes=(r"4\.7\.([5-6]\d\d|8[5-9]\d)\b",),
        words=(r"please try again later.*access denied", r"access denied, please try again"),
        meaning="Exchange Online saw suspicious activity from the sender (4.7.500-699) or the "
        "sending IP (4.7.850-899) and holds its mail while it evaluates it; legitimate mail "
        "goes through again shortly.",
        causes=(
            "A burst of mail from one account or IP, as a taken-over account sends.",
            "The tenant is near a sending limit.",
        ),
        checks=("LIM-002", "LIM-003", "OUT-002", "ADM-001", "IP-001"),
        steps=(
            "Wait: the restriction lifts by itself if the mail is legitimate.",
            "Meanwhile look at who sent the burst (LIM-003) and whether the account is secure.",
        ),
        links=(NDR_PAGE,),
    ),
    Family(
        key="banned-ip",
        title="Sending IP banned by Microsoft (5.7.606-649, 5.7.511)",
        codes=(r"5\.7\.6(0[6-9]|[1-3]\d|4\d)\b", r"5\.7\.511\b"),
        words=(r"banned sending ip",),
        meaning="Microsoft's own service refuses mail from this IP address because of its "
        "reputation: typically an on-premises relay or a smart host the tenant uses.",
        causes=(
            "An on-premises relay or smart host sent spam or is compromised.",
            "The address is shared with other senders of poor reputation.",
        ),
        checks=("IP-001", "CONN-002", "CONN-003"),
        steps=(
            "Fix what sent the spam from that address.",
            "Request delisting at Microsoft's delist portal (sender.office.com); for 5.7.511, "
            "mail delist@microsoft.com with the whole NDR and the address.",
        ),
        links=(DELIST, NDR_PAGE),
    ),
    Family(
        key="blocklist",
        title="Blocked by a DNS blocklist such as Spamhaus",
        codes=(),
        words=(
            r"spamhaus",
            r"\bzen\.",
            r"blocked using",
            r"client host .*blocked",
            r"\bdnsbl\b",
            r"\brbl\b",
        ),
        meaning="The receiving server looked up the sending IP on a blocklist and found it.",
        causes=(
            "An on-premises relay or smart host is listed (SBL, XBL, CSS, DROP).",
            "The address is a dynamic or ISP address not meant to send mail (PBL).",
            "Mail goes out through a third-party smart host with a poor reputation.",
        ),
        checks=("IP-001", "CONN-003", "CONN-002"),
        steps=(
            "Look up the address on the blocklist's own site to see which list and why.",
            "Fix the cause (clean the host, stop the spam), then request removal.",
            "For a PBL listing, ask the ISP to delist the address or send another way.",
        ),
        links=(SPAMHAUS,),
    ),
    Family(
        key="external-forwarding",
        title="External forwarding not allowed (5.7.520)",
        codes=(r"5\.7\.520",),
        words=(r"external forwarding",),
        meaning="A mailbox tried to forward mail outside the organisation and the outbound spam "
        "policy's AutoForwardingMode refused it.",
        causes=(
            "A user (or an attacker in the user's mailbox) set up forwarding to an outside "
            "address.",
            "A forwarding rule is legitimate but not yet allowed.",
        ),
        checks=("FWD-001", "OUT-001", "FWD-002"),
        steps=(
            "Check who set the forwarding and whether the mailbox is compromised.",
            "Allow legitimate destinations with a separate outbound policy and the baseline.",
        ),
    ),
    Family(
        key="authentication",
        title="Rejected for failing SPF, DKIM or DMARC (5.7.509, 5.7.23, 5.7.26)",
        codes=(r"5\.7\.509", r"5\.7\.23\b", r"5\.7\.26\b", r"5\.7\.1\b.*(spf|dmarc|dkim)"),
        words=(r"\bdmarc\b", r"\bspf\b", r"\bdkim\b", r"not pass .*verification"),
        meaning="The receiving server checked the sender domain's SPF, DKIM and DMARC and the "
        "message failed the domain's own policy.",
        causes=(
            "The SPF record is missing, broken or over its 10-lookup limit.",
            "DKIM signing is off, or the selector CNAMEs are missing.",
            "Mail leaves through a path (relay, smart host) the records do not cover.",
        ),
        checks=("AUTH-001", "AUTH-002", "AUTH-003"),
        steps=(
            "Fix SPF first (one record, under 10 lookups, covering every sending path).",
            "Publish the DKIM CNAMEs and enable signing.",
            "Keep DMARC enforcing, and read its reports to find senders you forgot.",
        ),
    ),
    Family(
        key="subscription",
        title="Mail stopped by a lapsed subscription",
        codes=(),
        words=(r"subscription", r"licen[cs]e", r"suspended", r"tenant .*disabled"),
        meaning="Mail service depends on an active subscription with Exchange Online; a lapsed "
        "one stops mail, and after renewal the tenant can stay blocked for up to a day.",
        causes=("A subscription carrying Exchange Online expired or was suspended.",),
        checks=("SUB-001",),
        steps=(
            "Renew the subscription (Billing > Your products) or move users to another one.",
            "Expect up to a day before sending works again after a renewal.",
        ),
    ),
)


_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")


def quoted_addresses(text: str) -> list[str]:
    """The IPv4 addresses an NDR quotes ("banned sending IP [203.0.113.26]", "Client host
    [198.51.100.77] blocked using ..."), each once, in order."""
    found = []
    for candidate in _IPV4.findall(text):
        try:
            address = str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
        if address not in found:
            found.append(address)
    return found


def _covers(entry: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a connector's SenderIPAddresses entry (an address, a CIDR range or a
    first-last range) holds the address."""
    text = entry.strip()
    try:
        if "-" in text:
            first, last = (ipaddress.ip_address(p.strip()) for p in text.split("-", 1))
            return first.version == address.version and int(first) <= int(address) <= int(last)
        return address in ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False


def _data(snapshot: Snapshot, name: str) -> Any:
    record = snapshot.sources.get(name)
    return record.data if record is not None and record.ok else None


def where(snapshot: Snapshot, address_text: str) -> list[str]:
    """Where the address appears in the snapshot: connectors that accept it, message trace
    rows from it, what the blocklists answered for it; and what was not collected."""
    address = ipaddress.ip_address(address_text)
    lines = []
    connectors = _data(snapshot, "exchange.inboundConnectors")
    if connectors is None:
        lines.append("inbound connectors: not collected in this snapshot")
    for connector in connectors or ():
        for entry in connector.get("SenderIPAddresses") or ():
            if _covers(str(entry), address):
                state = "enabled" if connector.get("Enabled") else "disabled"
                lines.append(
                    f"inbound connector {connector['Name']} ({state}) accepts mail from it "
                    f"({entry})"
                )
    trace = _data(snapshot, "exchange.messageTrace")
    if trace is None:
        lines.append("message trace: not collected in this snapshot")
    for row in (trace or {}).get("Aggregates") or ():
        if row.get("FromIP") == address_text:
            way = "to external recipients" if row.get("Outbound") else "inbound"
            lines.append(
                f"message trace: {row['MessageCount']} messages from it {way}, sender domain "
                f"{row['SenderDomain']} ({row.get('FirstReceived')} to {row.get('LastReceived')})"
            )
    lists = _data(snapshot, "dns.blocklists")
    if lists is None:
        lines.append("blocklists: not looked up in this snapshot")
    for entry in (lists or {}).get("addresses") or ():
        if entry.get("address") == address_text:
            for zone, answer in sorted((entry.get("results") or {}).items()):
                answers = ", ".join(answer.get("answers") or ()) or answer.get("status")
                lines.append(f"blocklist {zone}: {answers}")
            lines.append(f"looked up because: {'; '.join(entry.get('sources') or ())}")
    if not any(not line.endswith("snapshot") for line in lines):
        lines.append("nowhere in the connectors, message trace or blocklist lookups collected")
    return lines


def recognise(text: str) -> Family | None:
    """The family of an NDR text: by its enhanced status code first, then by its words."""
    lowered = text.lower()
    for family in FAMILIES:
        if any(re.search(pattern, lowered) for pattern in family.codes):
            return family
    for family in FAMILIES:
        if any(re.search(pattern, lowered) for pattern in family.words):
            return family
    return None


def _wrap(text: str, indent: str = "", hang: str = "") -> str:
    return textwrap.fill(text, width=96, initial_indent=indent, subsequent_indent=hang or indent)


def render(family: Family, titles: dict[str, str]) -> str:
    lines = [family.title, "", _wrap(family.meaning), "", "Likely causes:"]
    lines += [_wrap(c, "  - ", "    ") for c in family.causes]
    lines += ["", "Checks that detect these causes:"]
    lines += [f"  {cid:<9} {titles.get(cid, '(not installed)')}" for cid in family.checks]
    lines += ["", "To get unblocked:"]
    lines += [_wrap(s, f"  {i}. ", "     ") for i, s in enumerate(family.steps, 1)]
    links = family.links or (NDR_PAGE,)
    lines += ["", "More:", *(f"  {link}" for link in links)]
    return "\n".join(lines) + "\n"


TEXT_FORMATS = ("table", "markdown")  # the explanation, then the report, as text


def family_document(family: Family, titles: dict[str, str]) -> dict[str, Any]:
    return {
        "key": family.key,
        "title": family.title,
        "meaning": family.meaning,
        "causes": list(family.causes),
        "checks": [{"id": cid, "title": titles.get(cid)} for cid in family.checks],
        "steps": list(family.steps),
        "links": list(family.links or (NDR_PAGE,)),
    }


def explain(
    text: str,
    target: Target,
    baseline_path: Path | None,
    fmt: str,
    fail_on: Severity,
    output: Path | None = None,
    look: Look | None = None,
) -> int:
    """Say what the NDR means; with a tenant to look at, run the checks that find its causes.
    `--format json` is one JSON document; the other machine formats carry the report alone,
    the explanation going to stderr."""
    if len(text) > MAX_TEXT:
        raise UsageError(
            f"the text is {len(text):,} characters; an NDR's is far shorter: give its status "
            f"line or code (at most {MAX_TEXT:,} characters)"
        )
    family = recognise(text)
    if family is None:
        print(
            f"{PROG}: not recognised: {text[:120]!r} is not an NDR this tool knows "
            "(try the enhanced status code alone, e.g. 5.7.750)",
            file=sys.stderr,
        )
        return 2
    found = discover()
    titles = {k: c.spec.title for k, c in found.items()}
    explanation = render(family, titles)
    judged = None
    addresses: dict[str, list[str]] = {}
    if target.demo or target.snapshot or target.tenant:
        installed = [cid for cid in family.checks if cid in found]
        judged = audit(target, baseline_path, found, installed)
        warn(judged.result)
        if judged.snapshot is not None:
            addresses = {a: where(judged.snapshot, a) for a in quoted_addresses(text)}
    located = "".join(
        f"\nWhere {address} appears in this tenant:\n" + "".join(f"  - {line}\n" for line in lines)
        for address, lines in addresses.items()
    )
    if fmt == "json":
        document: dict[str, Any] = {
            "ndr": family_document(family, titles),
            "addresses": addresses,
        }
        if judged is not None:
            document["report"] = json_report.document(judged.result)
        emit(jsonio.dumps(document), output)
    elif judged is None:
        emit(explanation, output)
    elif fmt in TEXT_FORMATS:
        report = render_format(fmt, judged.result, output, look or Look())
        emit(f"{explanation}{located}\nWhat these checks find in this tenant:\n\n{report}", output)
    else:
        sys.stderr.write(explanation + located)
        emit(render_format(fmt, judged.result, output, look or Look()), output)
    if judged is None:
        return 0
    late = judged.deadline_line()
    if late:
        print(late, file=sys.stderr)
        return 2
    return judged.result.exit_code(fail_on)
