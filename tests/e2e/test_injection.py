"""Text the tenant controls reaches people inert: a connector whose name carries terminal
escape sequences (window title, clear screen, a bidi override), Markdown links and images,
HTML and backticks is shown, never obeyed, in the terminal table, Markdown (the GitHub step
summary), JUnit XML and HTML."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from auditor.demo import BASELINE, SNAPSHOT

EVIL = (
    "Relay\x1b]0;pwned\x07\x1b[2J\u202eevil`` [click](https://evil.example) "
    "![img](https://evil.example/x.png) <script>alert(1)</script> | x"
)


def snapshot_with_evil_connector(tmp_path):
    document = json.loads(SNAPSHOT.read_text())
    connectors = document["sources"]["exchange.inboundConnectors"]["data"]
    rogue = next(c for c in connectors if c["Name"] == "Relay-Backup")
    rogue["Name"] = EVIL
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(document))
    return path


def run(path, *args: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor",
            "run",
            "--snapshot",
            str(path),
            "--baseline",
            str(BASELINE),
            "--max-snapshot-age",
            "100000",
            "--color",
            "always",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (1, 2), done.stderr
    return done.stdout


def test_the_terminal_shows_the_escapes_and_obeys_none(tmp_path):
    out = run(snapshot_with_evil_connector(tmp_path))
    assert "Relay\\x1b]0;pwned\\x07\\x1b[2J\\u202eevil" in out
    for raw in ("\x1b]", "\x07", "\x1b[2J", "\u202e"):
        assert raw not in out
    assert "\x1b[1;31m" in out  # the tool's own colours still work


def outside_code_spans(markdown: str) -> str:
    """The text a Markdown renderer would interpret: code spans (any fence) taken out."""
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", " ", markdown)


def test_markdown_makes_no_link_image_html_or_broken_code_span(tmp_path):
    out = run(snapshot_with_evil_connector(tmp_path), "--format", "markdown")
    live = outside_code_spans(out)
    for active in ("[click](https://evil.example)", "![img]", "<script>", "\x1b]0;pwned\x07 "):
        assert active not in live, active
    assert "\\[click\\](https://evil.example)" in out  # as text in messages
    line = next(x for x in out.splitlines() if "Relay" in x and x.startswith("| 1 |"))
    # The resource is one code span whose fence is longer than any backtick run inside it.
    assert "``` connector:Relay" in line and "x ```" in line


def test_junit_stays_well_formed_xml(tmp_path):
    out = run(snapshot_with_evil_connector(tmp_path), "--format", "junit")
    root = ET.fromstring(out.split("\n", 1)[1])
    names = [case.get("name") for case in root.iter("testcase")]
    assert any(name and name.startswith("connector:Relay\\x1b]0;pwned\\x07") for name in names)


def test_html_escapes_it(tmp_path):
    out = run(snapshot_with_evil_connector(tmp_path), "--format", "html")
    assert "<script>alert(1)</script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
