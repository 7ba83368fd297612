"""`collect`: read a live tenant into a snapshot file, for `run --snapshot` and
`baseline init` to use later, offline."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from auditor import PROG, snapshot
from auditor.collect import CATALOGUE
from auditor.commands.run import Collect
from auditor.common import jsonio
from auditor.judge.registry import Check, required_sources
from auditor.snapshot.causes import grouped


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
    # Written piece by piece: the text is never in memory whole, nor as bytes.
    digest = jsonio.atomic_write(output, collection.parts())
    failed = [n for n, r in document["sources"].items() if r["status"] != "ok"]
    # Each cause once, however many sources it stopped, with the checks it leaves blind
    # (from the document written: parsing the file back would only cost time).
    read = snapshot.from_document(document, str(output), digest)
    for group in grouped(read.sources, failed):
        blind = sorted(
            cid for cid, c in checks.items() if set(c.spec.requires) & set(group.sources)
        )
        count = len(group.sources)
        print(
            f"{PROG}: {group.cause.summary} ({count} source{'s' if count != 1 else ''}: "
            f"{', '.join(group.sources)}; blocks {', '.join(blind) or 'no check'})",
            file=sys.stderr,
        )
        if group.cause.fix:
            print(f"{PROG}:   fix: {group.cause.fix}", file=sys.stderr)
    ok = len(document["sources"]) - len(failed)
    print(
        f"{PROG}: wrote {output}: {ok} source{'' if ok == 1 else 's'} ok, {len(failed)} failed",
        file=sys.stderr,
    )
    if collection.missed:
        print(
            f"{PROG}: the deadline of {collection.deadline:g} s passed: "
            f"{', '.join(collection.missed)} not collected",
            file=sys.stderr,
        )
    # The snapshot is kept either way; a partial one must not look like a complete one.
    return 2 if failed else 0
