#!/usr/bin/env bash
# Runs one phase of the build or test run and records how long it took:
#
#   scripts/phase.sh NAME COMMAND [ARGS...]
#
# Appends "NAME SECONDS STATUS" to $BERTH_TIMINGS (when set) and exits with the command's
# status. `scripts/phase.sh --report` prints the recorded phases as a table, one line each.
set -uo pipefail

if [ "${1:-}" = "--report" ]; then
  [ -n "${BERTH_TIMINGS:-}" ] && [ -s "$BERTH_TIMINGS" ] || exit 0
  total=0
  echo "timings:"
  while read -r name secs status; do
    # Parts of another phase, and phases run beside others, are not added again.
    case "$status" in "("*) ;; *) total=$((total + secs)) ;; esac
    printf 'timing: %-22s %4dm%02ds  %s\n' "$name" $((secs / 60)) $((secs % 60)) "$status"
  done <"$BERTH_TIMINGS"
  printf 'timing: %-22s %4dm%02ds\n' "total" $((total / 60)) $((total % 60))
  exit 0
fi

# From a `cargo test` log: the seconds spent in each kind of test binary, as phase lines.
if [ "${1:-}" = "--split-tests" ]; then
  sed 's/\x1b\[[0-9;]*m//g' "$2" | awk '
    /^ *Running / { kind = "  unit"
                    if ($0 ~ /Running e2e\//) kind = "  e2e"
                    else if ($0 ~ /Running desktop\//) kind = "  desktop"
                    else if ($0 ~ /Running tidy\//) kind = "  tidy"
                    else if ($0 ~ /Running tests\//) kind = "  crate-tests" }
    /^ *Doc-tests / { kind = "  doc" }
    /^test result:.*finished in/ { match($0, /finished in [0-9.]+s/)
                                   t[kind] += substr($0, RSTART + 12, RLENGTH - 13) }
    END { for (k in t) printf "%s %d (in tests)\n", substr(k, 3), t[k] + 0.5 }' | sed 's/^/tests:/'
  exit 0
fi

name=$1
shift
started=$SECONDS
"$@"
rc=$?
if [ -n "${BERTH_TIMINGS:-}" ]; then
  status=ok
  [ "$rc" -eq 0 ] || status="failed ($rc)"
  # A phase run in the background, beside the others (BERTH_PHASE_BESIDE=1).
  [ -z "${BERTH_PHASE_BESIDE:-}" ] || status="(beside) $status"
  echo "$name $((SECONDS - started)) $status" >>"$BERTH_TIMINGS"
fi
exit "$rc"
