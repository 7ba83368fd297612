"""SPF records (RFC 7208), read as receivers read them.

`parse` applies the record grammar of section 12 in full: every mechanism with the arguments
it allows (5.1-5.7), CIDR lengths (ip4 0-32, ip6 0-128, dual CIDR on `a` and `mx`, no leading
zeros), domain-specs and their macros (7.1), modifiers (`redirect=` and `exp=` at most once,
6; unknown modifiers well-formed and ignored), 7-bit ASCII with terms separated by spaces
only (3.1, 4.6.1). Any violation is a permerror (4.6), which a DMARC receiver counts as a
failed SPF check: each is reported with the term that caused it.

Sections cited in the messages are those of RFC 7208.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Mechanisms and modifiers that cost a DNS lookup (4.6.4).
LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
QUALIFIERS = "+-~?"
# Macro letters allowed in a record; "c", "r" and "t" only in explanation text (7.2).
_RECORD_MACRO_LETTERS = frozenset("slodiphv")
_EXPLANATION_ONLY = frozenset("crt")
_DELIMITERS = frozenset(".-+,/_=")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_CIDR = re.compile(r"0|[1-9][0-9]*")
_QNUM = re.compile(r"0|[1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-5]")
_TOPLABEL = re.compile(
    r"(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*)|(?:[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])"
)


@dataclass(frozen=True)
class Term:
    """One directive or modifier, as written and as understood."""

    text: str
    name: str  # lower-case mechanism or modifier name
    qualifier: str = ""  # "+", "-", "~" or "?" for a mechanism; "" for a modifier
    target: str | None = None  # the domain-spec (a, mx, ptr, include, exists, redirect, exp)
    network: str | None = None  # ip4 / ip6
    cidr4: int | None = None
    cidr6: int | None = None
    modifier: bool = False

    @property
    def has_macro(self) -> bool:
        return self.target is not None and "%" in self.target


@dataclass(frozen=True)
class SpfRecord:
    text: str
    terms: tuple[Term, ...]
    errors: tuple[str, ...]  # permerrors: the record is broken where each says

    @property
    def mechanisms(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.modifier)

    @property
    def first_all(self) -> Term | None:
        """The first `all`: it matches every sender, so nothing after it is ever evaluated
        (5.1), and a redirect is then ignored (6.1)."""
        return next((t for t in self.mechanisms if t.name == "all"), None)

    @property
    def evaluated(self) -> tuple[Term, ...]:
        """The mechanisms a receiver can reach: up to and including the first `all`."""
        out = []
        for term in self.mechanisms:
            out.append(term)
            if term.name == "all":
                break
        return tuple(out)

    @property
    def redirect(self) -> Term | None:
        """The redirect that applies: none when an `all` is present (6.1)."""
        if self.first_all is not None:
            return None
        return next((t for t in self.terms if t.name == "redirect"), None)


def is_spf(text: str) -> bool:
    """A TXT record is an SPF record when it starts with the version `v=spf1` (in any case),
    followed by a space or the end (4.5)."""
    head = text[:6].lower()
    return head == "v=spf1" and (len(text) == 6 or text[6] == " ")


def spf_records(txts: Iterable[str]) -> list[str]:
    return [t for t in txts if is_spf(t)]


def parse(record: str) -> SpfRecord:
    """The record's terms and every permerror its syntax holds."""
    errors: list[str] = []
    for position, char in enumerate(record):
        if not " " <= char <= "~":
            what = "a control character" if ord(char) < 0x20 or ord(char) == 0x7F else "non-ASCII"
            errors.append(
                f"{what} ({char!r}) at position {position}: SPF records are 7-bit ASCII with "
                "terms separated by spaces (3.1, 4.6.1)"
            )
            return SpfRecord(record, (), tuple(errors))
    if not is_spf(record):
        return SpfRecord(record, (), ("does not begin with v=spf1 (4.5)",))
    terms: list[Term] = []
    for text in record[6:].split(" "):
        if not text:
            continue  # terms are separated by one or more spaces
        term, problem = _term(text)
        if problem:
            errors.append(f"`{text}`: {problem}")
        if term is not None:
            terms.append(term)
    for modifier in ("redirect", "exp"):
        count = sum(1 for t in terms if t.name == modifier and t.modifier)
        if count > 1:
            errors.append(f"{modifier}= appears {count} times; it may appear once (6)")
    return SpfRecord(record, tuple(terms), tuple(errors))


def _term(text: str) -> tuple[Term | None, str | None]:
    qualifier = text[0] if text[0] in QUALIFIERS else ""
    body = text[1:] if qualifier else text
    modifier = _modifier(body)
    if modifier is not None:
        name, value = modifier
        if qualifier:
            return None, "a modifier takes no qualifier (12: modifier)"
        lowered = name.lower()
        if lowered in ("redirect", "exp"):
            problem = domain_spec_problem(value)
            term = Term(text, lowered, target=value, modifier=True)
            return term, f"{lowered}= needs a domain: {problem}" if problem else None
        problem = macro_string_problem(value)
        return Term(text, lowered, target=value, modifier=True), problem
    match = re.match(r"[A-Za-z0-9]*", body)
    name = match.group(0).lower() if match else ""
    rest = body[len(name) :]
    if name not in MECHANISMS:
        shown = body.split(":", 1)[0].split("/", 1)[0] or body
        return None, f"unknown mechanism `{shown}` (5, 12)"
    qualifier = qualifier or "+"
    if name == "all":
        if rest:
            return None, "all takes no argument (5.1)"
        return Term(text, name, qualifier), None
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            return None, f"{name} needs `:domain` (5.2, 5.7)"
        problem = domain_spec_problem(rest[1:])
        return Term(text, name, qualifier, target=rest[1:]), problem
    if name == "ptr":
        if rest and not rest.startswith(":"):
            return None, "ptr takes only `:domain`, no CIDR length (5.5)"
        target = rest[1:] if rest else None
        problem = domain_spec_problem(target) if target is not None else None
        return Term(text, name, qualifier, target=target), problem
    if name in ("a", "mx"):
        return _a_or_mx(text, name, qualifier, rest)
    return _ip(text, name, qualifier, rest)


def _modifier(body: str) -> tuple[str, str] | None:
    """`name=value` when the name before the first `=` is a modifier name (12: name)."""
    name, equals, value = body.partition("=")
    if equals and _NAME.fullmatch(name):
        return name, value
    return None


def _a_or_mx(text: str, name: str, qualifier: str, rest: str) -> tuple[Term | None, str | None]:
    cidr4 = cidr6 = None
    six = re.search(r"//([0-9]+)$", rest)
    if six:
        if not _CIDR.fullmatch(six.group(1)) or int(six.group(1)) > 128:
            return None, f"`//{six.group(1)}`: an IPv6 CIDR length is 0 to 128 (5.6)"
        cidr6 = int(six.group(1))
        rest = rest[: six.start()]
    four = re.search(r"/([0-9]+)$", rest)
    if four:
        if not _CIDR.fullmatch(four.group(1)) or int(four.group(1)) > 32:
            return None, f"`/{four.group(1)}`: an IPv4 CIDR length is 0 to 32 (5.6)"
        cidr4 = int(four.group(1))
        rest = rest[: four.start()]
    target = None
    if rest:
        if not rest.startswith(":"):
            return None, f"`{rest}` after {name}: expected `:domain` or a CIDR length (5.3, 5.4)"
        target = rest[1:]
        problem = domain_spec_problem(target)
        if problem:
            return None, problem
    return Term(text, name, qualifier, target=target, cidr4=cidr4, cidr6=cidr6), None


def _ip(text: str, name: str, qualifier: str, rest: str) -> tuple[Term | None, str | None]:
    if not rest.startswith(":"):
        return None, f"{name} needs `:address` (5.6)"
    network, slash, length = rest[1:].partition("/")
    limit = 32 if name == "ip4" else 128
    if slash and (not _CIDR.fullmatch(length) or int(length) > limit):
        return None, f"`/{length}`: an {name} CIDR length is 0 to {limit}, without leading zeros"
    if name == "ip4":
        parts = network.split(".")
        if len(parts) != 4 or not all(_QNUM.fullmatch(p) for p in parts):
            return None, f"`{network}` is not an IPv4 address (dotted quad, no leading zeros) (5.6)"
    else:
        try:
            if "%" in network:
                raise ValueError
            ipaddress.IPv6Address(network)
        except ValueError:
            return None, f"`{network}` is not an IPv6 address (5.6)"
    cidr = int(length) if slash else None
    return (
        Term(
            text,
            name,
            qualifier,
            network=network,
            cidr4=cidr if name == "ip4" else None,
            cidr6=cidr if name == "ip6" else None,
        ),
        None,
    )


@dataclass
class _MacroScan:
    literal_tail: str = ""  # the literal text after the last macro-expand
    ends_in_macro: bool = False
    problems: list[str] = field(default_factory=list)


def _scan_macro_string(text: str, letters: frozenset[str]) -> _MacroScan:
    """Walk a macro-string (7.1): visible characters but `%`, and macro-expands."""
    scan = _MacroScan()
    i = 0
    while i < len(text):
        char = text[i]
        if char != "%":
            if not "!" <= char <= "~":
                scan.problems.append(f"`{char}` is not allowed here (7.1)")
                return scan
            scan.literal_tail += char
            scan.ends_in_macro = False
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in ("%", "_", "-"):
            scan.literal_tail = ""
            scan.ends_in_macro = True
            i += 2
            continue
        if nxt != "{":
            scan.problems.append(f"`%{nxt}`: a % must be followed by {{, %, _ or - (7.1)")
            return scan
        close = text.find("}", i)
        if close < 0:
            scan.problems.append("a macro `%{` is not closed with } (7.1)")
            return scan
        problem = _macro_problem(text[i + 2 : close], letters)
        if problem:
            scan.problems.append(problem)
            return scan
        scan.literal_tail = ""
        scan.ends_in_macro = True
        i = close + 1
    return scan


def _macro_problem(inner: str, letters: frozenset[str]) -> str | None:
    """`%{` macro-letter transformers *delimiter `}` (7.1, 7.3)."""
    match = re.fullmatch(r"([A-Za-z])([0-9]*)(r?)(.*)", inner, re.I)
    if match is None:
        return f"`%{{{inner}}}` is not a macro (7.1)"
    letter, digits, _reverse, delimiters = match.groups()
    if letter.lower() in _EXPLANATION_ONLY and letter.lower() not in letters:
        return f"`%{{{inner}}}`: macro letter {letter} is allowed only in explanation text (7.2)"
    if letter.lower() not in letters:
        return f"`%{{{inner}}}`: {letter} is not a macro letter (7.2)"
    if digits and int(digits) == 0:
        return f"`%{{{inner}}}`: the number of parts must not be zero (7.3)"
    if any(d not in _DELIMITERS for d in delimiters):
        return f"`%{{{inner}}}`: delimiters are . - + , / _ = (7.1)"
    return None


def macro_string_problem(text: str) -> str | None:
    scan = _scan_macro_string(text, _RECORD_MACRO_LETTERS)
    return scan.problems[0] if scan.problems else None


def domain_spec_problem(text: str) -> str | None:
    """Why `text` is not a domain-spec (7.1: macro-string domain-end), or None."""
    if not text:
        return "the domain is empty (5, 7.1)"
    scan = _scan_macro_string(text, _RECORD_MACRO_LETTERS)
    if scan.problems:
        return scan.problems[0]
    if scan.ends_in_macro:
        return None  # domain-end = macro-expand: checked only after expansion
    tail = scan.literal_tail[:-1] if scan.literal_tail.endswith(".") else scan.literal_tail
    if "." not in tail:
        return f"`{text}` is not a domain: it needs a dot and a top label (7.1)"
    labels = tail.split(".")
    toplabel = labels[-1]
    if not _TOPLABEL.fullmatch(toplabel):
        return (
            f"`{text}` does not end in a valid top label (`{toplabel}`: letters, digits and "
            "inner hyphens, not all digits) (7.1)"
        )
    if "%" not in text:
        if any(not label for label in labels):
            return f"`{text}` has an empty label (4.3)"
        long = next((label for label in labels if len(label) > 63), None)
        if long:
            return f"`{text}` has a label longer than 63 characters (4.3)"
    return None


def spf_targets(record: str) -> list[str]:
    """Names an SPF record sends the evaluator to: include targets and a redirect, as far
    as they can be followed without a sender (no macros)."""
    parsed = parse(record)
    names = [t.target for t in parsed.evaluated if t.name == "include" and t.target]
    if parsed.redirect is not None and parsed.redirect.target:
        names.append(parsed.redirect.target)
    return [n.lower().rstrip(".") for n in names if "%" not in n]
