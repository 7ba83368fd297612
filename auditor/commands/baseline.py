"""`baseline init`: write a baseline that approves what a snapshot shows, for the admins to
review and commit."""

from __future__ import annotations

import sys
from pathlib import Path

import baselines
from auditor import PROG, snapshot
from auditor.common import jsonio
from auditor.common.errors import UsageError
from auditor.judge import baseline as baseline_mod


def init(snapshot_path: Path, output: Path, force: bool) -> int:
    if output.exists() and not force:
        raise UsageError(f"{output} exists; pass --force to overwrite it")
    read = snapshot.load(snapshot_path)
    template = jsonio.parse_json(baselines.RECOMMENDED.read_bytes(), str(baselines.RECOMMENDED))
    document, missing = baseline_mod.approve_snapshot(read, template)
    text = jsonio.dumps(document)
    # What we write must load: a baseline init that produces an invalid file is our bug.
    baseline_mod.parse(text.encode("utf-8"), str(output))
    jsonio.atomic_write(output, text)
    for name in missing:
        print(
            f"{PROG}: {snapshot_path}: $.sources['{name}']: not collected, so nothing from it "
            "was approved",
            file=sys.stderr,
        )
    print(f"{PROG}: wrote {output}: review it before you commit it", file=sys.stderr)
    return 0
