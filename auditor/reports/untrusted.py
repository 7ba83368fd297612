"""Text from the tenant (connector names, domains, rule names, API messages) is written by
whoever configured the tenant: an attacker who added a connector chooses its name. Before it
reaches a terminal, an XML file or Markdown, what those formats would obey is neutralised."""

from __future__ import annotations

import re

# C0 controls (ESC starts terminal sequences: window title, clear screen), DEL, C1 controls
# (CSI and OSC on some terminals), and the Unicode bidirectional overrides and isolates that
# reorder what a reader sees (Trojan Source, CVE-2021-42574).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# What XML 1.0 forbids in a document (everything below 0x20 but tab, newline, carriage return;
# surrogates; U+FFFE, U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Markdown punctuation that makes links and images (brackets: parentheses alone make
# nothing), emphasis, strikethrough, code spans, inline HTML and table cells.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>!|~])")


def _visible(match: re.Match[str]) -> str:
    return (
        f"\\x{ord(match.group(0)):02x}"
        if ord(match.group(0)) < 0x100
        else (f"\\u{ord(match.group(0)):04x}")
    )


def for_terminal(text: str) -> str:
    """Control characters shown as escapes (`\\x1b`), so they are seen, not obeyed. Newlines
    and tabs become spaces: the renderer lays the text out."""
    return _CONTROLS.sub(_visible, text.replace("\n", " ").replace("\t", " "))


def for_xml(text: str) -> str:
    """What XML 1.0 cannot hold, shown as escapes; the rest is escaped by the XML writer."""
    return _NOT_XML.sub(_visible, _CONTROLS.sub(_visible, text))


def for_markdown(text: str) -> str:
    """Plain text in Markdown: punctuation that would make a link, an image, HTML or a code
    span is backslash-escaped; controls shown as escapes; one line."""
    return _MARKDOWN.sub(r"\\\1", for_terminal(text))


def markdown_code(text: str) -> str:
    """A code span that no backtick in `text` can end early (CommonMark: a longer fence), with
    pipes escaped for GitHub tables."""
    text = for_terminal(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"
