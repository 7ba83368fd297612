#!/usr/bin/env bash
# The body of the composite action (action.yml): run the audit with GitHub's OIDC token,
# compared with the previous run's report when there is one (restored from the Actions cache
# by the step before), write every report to the output directory, the Markdown to the step
# summary, the step outputs, and keep this run's report for the next one. Tested as it runs,
# against the fake tenant (tests/e2e/test_action.py).
set -uo pipefail

out="${INPUT_OUTPUT_DIR:-m365-audit}"
mkdir -p "$out"
# A report left by an earlier run must not stand in for this one's.
rm -f "$out/report.json" "$out/summary.md" "$out/report.html"
remember_dir="${INPUT_REMEMBER_DIR:-}"

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
      --format markdown -o "$out/summary.md"
      --format html -o "$out/report.html")
if [ -n "${INPUT_FEDERATED_AUDIENCE:-}" ]; then
  args+=(--federated-audience "$INPUT_FEDERATED_AUDIENCE")
fi
if [ -n "${INPUT_BASELINE:-}" ]; then
  args+=(--baseline "$INPUT_BASELINE")
fi
# The previous report: the one given, else the last run's from the cache. A cached one that
# this version cannot read (another schema, damaged) is left out with a warning rather than
# failing the audit; one given explicitly is used as given.
previous="${INPUT_PREVIOUS_REPORT:-}"
if [ -z "$previous" ] && [ -n "$remember_dir" ] && [ -f "$remember_dir/report.json" ]; then
  if m365-audit diff "$remember_dir/report.json" "$remember_dir/report.json" --format json \
      >/dev/null 2>"$out/previous-error.txt"; then
    previous="$remember_dir/report.json"
  else
    echo "::warning::the cached previous report cannot be used: $(head -c 300 "$out/previous-error.txt")"
  fi
  rm -f "$out/previous-error.txt"
fi
if [ -n "$previous" ]; then
  args+=(--previous "$previous")
elif [ "${M365_AUDIT_NOTIFY_ON:-}" = change ]; then
  echo "::notice::no previous report to compare with: the notification is sent as for a change"
  export M365_AUDIT_NOTIFY_ON=always
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

# This run's report is the next run's previous one, unless it judged nothing at all.
remembered=false
if [ "${INPUT_REMEMBER:-false}" = true ] && [ -n "$remember_dir" ] && [ -f "$out/report.json" ] \
    && [ "$result" != error ]; then
  mkdir -p "$remember_dir"
  cp "$out/report.json" "$remember_dir/report.json"
  remembered=true
fi
html=""
if [ -f "$out/report.html" ]; then
  html="$out/report.html"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  {
    echo "status=$result"
    echo "failed=$failed"
    echo "errored=$errored"
    echo "unjudged=$unjudged"
    echo "report-path=$out/report.json"
    echo "exit-code=$status"
    echo "html-path=$html"
    echo "previous-used=$([ -n "$previous" ] && echo true || echo false)"
    echo "remembered=$remembered"
  } >> "$GITHUB_OUTPUT"
fi
exit "$status"
