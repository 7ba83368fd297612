#!/usr/bin/env bash
# The body of the composite action (action.yml): run the audit with GitHub's OIDC token,
# write every report to the output directory, the Markdown to the step summary, and the
# step outputs. Tested as it runs, against the fake tenant (tests/e2e/test_action.py).
set -uo pipefail

out="${INPUT_OUTPUT_DIR:-m365-audit}"
mkdir -p "$out"
# A report left by an earlier run must not stand in for this one's.
rm -f "$out/report.json" "$out/summary.md"

args=(run --federated github --quiet
      --tenant "${INPUT_TENANT:?the tenant input is required}"
      --client-id "${INPUT_CLIENT_ID:?the client-id input is required}"
      --cloud "${INPUT_CLOUD:-global}"
      --fail-on "${INPUT_FAIL_ON:-low}"
      --deadline "${INPUT_DEADLINE:-1800}"
      --save-snapshot "$out/snapshot.json"
      --format json -o "$out/report.json"
      --format ndjson -o "$out/report.ndjson"
      --format sarif -o "$out/report.sarif"
      --format markdown -o "$out/summary.md")
if [ -n "${INPUT_FEDERATED_AUDIENCE:-}" ]; then
  args+=(--federated-audience "$INPUT_FEDERATED_AUDIENCE")
fi
if [ -n "${INPUT_BASELINE:-}" ]; then
  args+=(--baseline "$INPUT_BASELINE")
fi
checks="${INPUT_CHECKS:-}"
for check in ${checks//,/ }; do
  args+=(--check "$check")
done

status=0
m365-audit "${args[@]}" || status=$?

if [ -f "$out/summary.md" ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  # GitHub cuts a step summary at 1 MiB; the report is built far smaller, this is a backstop.
  head -c 900000 "$out/summary.md" >> "$GITHUB_STEP_SUMMARY"
fi

if [ -f "$out/report.json" ]; then
  summary=$(python3 - "$out/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
checks = report["summary"]["checks"]
print(report["status"], checks["fail"], checks["error"], report["summary"].get("unjudged", 0))
PY
)
  read -r result failed errored unjudged <<< "$summary"
else
  result=error failed=0 errored=0 unjudged=0
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "status=$result"
    echo "failed=$failed"
    echo "errored=$errored"
    echo "unjudged=$unjudged"
    echo "report-path=$out/report.json"
    echo "exit-code=$status"
  } >> "$GITHUB_OUTPUT"
fi
exit "$status"
