"""`collect`: read a live tenant into a snapshot file, for `run --snapshot` and
`baseline init` to use later, offline."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from auditor import PROG
from auditor.collect import CATALOGUE
from auditor.commands.run import Collect
from auditor.common import jsonio
from auditor.judge.registry import Check, required_sources


def collect(
    collect_sources: Collect, checks: Mapping[str, Check], selected: Sequence[str], output: Path
) -> int:
    # Without --check, a full snapshot: every catalogued source, so that `baseline init` and
    # later audits of this file have everything to work with.
    sources = (
        required_sources(checks, selected)
        if selected
        else sorted(set(CATALOGUE) | set(required_sources(checks)))
    )
    collection = collect_sources(sources)
    document = collection.document
    jsonio.atomic_write(output, jsonio.dumps(document))
    failed = [n for n, r in document["sources"].items() if r["status"] != "ok"]
    for name in failed:
        print(f"{PROG}: {document['sources'][name]['error']}", file=sys.stderr)
    print(
        f"{PROG}: wrote {output}: {len(document['sources']) - len(failed)} sources ok, "
        f"{len(failed)} failed",
        file=sys.stderr,
    )
    if collection.missed:
        print(
            f"{PROG}: the deadline of {collection.deadline:g} s passed: "
            f"{', '.join(collection.missed)} not collected",
            file=sys.stderr,
        )
        return 2
    return 2 if len(failed) == len(document["sources"]) else 0
