"""Changes between runs as text, for the table and Markdown reports and `diff`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def render_text(diff: Mapping[str, Any]) -> str:
    lines = []
    if diff["kind"] == "findings":
        baseline = diff.get("baseline") or {}
        if baseline.get("changed"):
            lines.append(
                f"The baseline changed between the runs (sha256 {baseline['before'][:12]}… -> "
                f"{baseline['after'][:12]}…): findings it approved are APPROVED, not RESOLVED"
            )
        unknown, approved = diff.get("unknown", []), diff.get("approved", [])
        lines.append(
            f"Since the run of {diff['previous'].get('startedAt')}: {len(diff['new'])} new, "
            f"{len(diff['resolved'])} resolved, {len(approved)} approved, "
            f"{len(unknown)} unknown (not judged this time), {len(diff['changed'])} changed"
        )
        lines += [
            f"  NEW      {d['check']} {d['resource'] or '(the check)'}: {d['message']}"
            for d in diff["new"]
        ]
        lines += [
            f"  RESOLVED {d['check']} {d['resource'] or '(the check)'}"
            + (f" ({d['note']})" if "note" in d else "")
            for d in diff["resolved"]
        ]
        lines += [
            f"  APPROVED {d['check']} {d['resource']}: "
            + ("waived" if d.get("how") == "waived" else "approved")
            + " by the baseline change"
            for d in approved
        ]
        lines += [
            f"  UNKNOWN  {d['check']} {d['resource']}: still open, not re-confirmed ({d['why']})"
            for d in unknown
        ]
        lines += [f"  CHANGED  {d['check']} {d['resource']}: {d['after']}" for d in diff["changed"]]
    else:
        lines.append(
            f"Since the snapshot of {diff['previous'].get('collectedAt')}: "
            f"{len(diff['added'])} added, {len(diff['removed'])} removed, "
            f"{len(diff['changed'])} changed"
        )
        lines += [f"  ADDED    {d['source']} {d['record']}" for d in diff["added"]]
        lines += [f"  REMOVED  {d['source']} {d['record']}" for d in diff["removed"]]
        for d in diff["changed"]:
            fields = "; ".join(
                f"{k}: {v['before']!r} -> {v['after']!r}" for k, v in d["fields"].items()
            )
            lines.append(f"  CHANGED  {d['source']} {d['record']}: {fields}")
    return "\n".join(lines) + "\n"


def change_index(diff: Mapping[str, Any] | None) -> dict[tuple[str, str], str]:
    """(check, resource) -> new | resolved | approved | unknown | changed, for outputs that
    carry it per result."""
    if not diff or diff.get("kind") != "findings":
        return {}
    return {
        (item["check"], item["resource"]): kind
        for kind in ("new", "resolved", "approved", "unknown", "changed")
        for item in diff.get(kind, ())
    }
