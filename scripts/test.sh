#!/usr/bin/env bash
# Runs every Berth test on this machine: installs what is missing, starts dockerd, builds the
# `berth` binary, the webhook relay (static), the desktop UI (wasm) and the desktop app, runs
# unit, end-to-end and desktop tests (the e2e harness starts its own sshd; the desktop tests
# their own Xvfb) with fmt, clippy and a brief fuzzing of the webhook parsers beside them.
# Prints how long each phase took.
set -euo pipefail
cd "$(dirname "$0")/.."

# Phase timings: our own file unless a caller (.ci/run) collects them across scripts.
if [ -z "${BERTH_TIMINGS:-}" ]; then
  export BERTH_TIMINGS
  BERTH_TIMINGS=$(mktemp)
  trap 'scripts/phase.sh --report; rm -f "$BERTH_TIMINGS"' EXIT
fi
phase() { scripts/phase.sh "$@"; }
# Test phases all run; the script fails at the end if any failed.
failed=()
check() { phase "$@" || failed+=("$1"); }

phase setup scripts/setup.sh
phase services scripts/services.sh
# The clean Debian 12 the package test installs into and the PostgreSQL the service tests run
# (debootstrap and Debian's packages, once per machine): built in the background while the
# code compiles; the tests wait for them (or build them) themselves.
scripts/test-images.sh debian postgres redis mariadb python node >/dev/null 2>&1 &
# The S3-compatible server the backup tests write to (cargo install, once per machine), the same
# way.
scripts/s3-server.sh >/dev/null 2>&1 &

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-always}
phase build-ui scripts/build-ui.sh
# The relay for the other server architecture (cross-compiled, std from source) builds in the
# background, beside the native relay, the binaries and the tests: their fat-LTO and debug
# links run on one core, and it fills the other.
case "$(uname -m)" in x86_64) native=x86_64 cross=aarch64 ;; *) native=aarch64 cross=x86_64 ;; esac
# The relays the tests install are the shipped code built for compile time, not size: no LTO,
# parallel codegen, opt-level 1 (the shipped profile — fat LTO, one codegen unit, size-optimized
# — doubles the native build on the critical path and gains the tests nothing). They run on
# servers the tests start, statically linked, like the shipped ones.
export CARGO_PROFILE_RELAY_LTO=off CARGO_PROFILE_RELAY_CODEGEN_UNITS=16
export CARGO_PROFILE_RELAY_OPT_LEVEL=1
# The other architecture's relay is only checked to be static and to answer its health check
# under qemu: unoptimized (opt-level 0), the least CPU beside the other builds.
BERTH_PHASE_BESIDE=1 BERTH_RELAY_ARCHES=$cross CARGO_PROFILE_RELAY_OPT_LEVEL=0 \
  scripts/phase.sh "build-relay-$cross" \
  scripts/build-relay.sh >"${TMPDIR:-/tmp}/berth-relay-$cross.log" 2>&1 &
cross_pid=$!
phase "build-relay-$native" env BERTH_RELAY_ARCHES=$native scripts/build-relay.sh
phase build-bins cargo build --bin berth --bin berth-desktop
phase build-tests cargo test --workspace --no-run
# What the run waited for it after the rest was built (`wait` only works in this shell).
waited=$SECONDS
wait "$cross_pid" && cross_rc=0 || cross_rc=$?
[ -z "${BERTH_TIMINGS:-}" ] ||
  echo "wait-relay-$cross $((SECONDS - waited)) ok" >>"$BERTH_TIMINGS"
if [ "$cross_rc" -ne 0 ]; then
  cat "${TMPDIR:-/tmp}/berth-relay-$cross.log" >&2
  echo "test: the $cross relay did not build" >&2
  exit 1
fi
# Beside the tests (which mostly wait on Docker, sshd and WebKit), on the idle core: the lints,
# then the fuzzers. Each builds in its own target dir (a running `cargo test` holds the lock on
# its own). fmt first, it takes a second.
# The fuzzers: the webhook parsers and signature checks under libFuzzer, briefly. Without
# AddressSanitizer here: the fuzzed crates forbid unsafe code, so what a fuzzer finds is a
# panic, an overflow (debug assertions stay on) or a hang — and the build is half as long, the
# runs three times as many (`BERTH_FUZZ_SANITIZER=address scripts/fuzz.sh` for the deep run).
beside_failed=$(mktemp)
beside() {
  BERTH_PHASE_BESIDE=1 CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/lint" scripts/phase.sh lint bash -c \
    'cargo fmt --all -- --check && cargo clippy --workspace --all-targets --color never -- -D warnings' \
    >"${TMPDIR:-/tmp}/berth-lint.log" 2>&1 || echo lint >>"$beside_failed"
  BERTH_PHASE_BESIDE=1 BERTH_FUZZ_SECONDS="${BERTH_FUZZ_SECONDS:-6}" \
    BERTH_FUZZ_SANITIZER="${BERTH_FUZZ_SANITIZER:-none}" scripts/phase.sh fuzz scripts/fuzz.sh \
    >"${TMPDIR:-/tmp}/berth-fuzz.log" 2>&1 || echo fuzz >>"$beside_failed"
}
beside &
beside_pid=$!
# One run for every test binary (unit, each crate's own, tidy, e2e, desktop): one feature set,
# nothing rebuilt. Its output is kept to time each kind of test binary.
log=$(mktemp)
check tests bash -o pipefail -c 'cargo test --workspace --no-fail-fast -- --test-threads="$1" 2>&1 | tee "$2"' \
  _ "${BERTH_TEST_THREADS:-2}" "$log"
[ -n "${BERTH_TIMINGS:-}" ] && scripts/phase.sh --split-tests "$log" >>"$BERTH_TIMINGS"
rm -f "$log"
# What the run waited for them after the tests (`wait` only works in this shell).
waited=$SECONDS
wait "$beside_pid" || true
[ -z "${BERTH_TIMINGS:-}" ] ||
  echo "wait-beside $((SECONDS - waited)) ok" >>"$BERTH_TIMINGS"
cat "${TMPDIR:-/tmp}/berth-fuzz.log"
while read -r what; do
  [ "$what" = fuzz ] || cat "${TMPDIR:-/tmp}/berth-$what.log" >&2
  failed+=("$what")
done <"$beside_failed"
rm -f "$beside_failed"

if [ ${#failed[@]} -gt 0 ]; then
  echo "test: failed: ${failed[*]}" >&2
  exit 1
fi
