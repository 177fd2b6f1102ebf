#!/usr/bin/env bash
# Runs every Berth test on this machine: installs what is missing, starts dockerd, builds the
# `berth` binary, the webhook relay (static), the desktop UI (wasm) and the desktop app, runs
# unit, end-to-end and desktop tests (the e2e harness starts its own sshd; the desktop tests
# their own Xvfb), then fuzzes the webhook parsers briefly.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/services.sh

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-always}
scripts/build-ui.sh
scripts/build-relay.sh
cargo build --bin berth --bin berth-desktop
cargo test --workspace --no-fail-fast -- --test-threads="${BERTH_TEST_THREADS:-2}"
# The webhook parsers and signature checks under libFuzzer, briefly.
BERTH_FUZZ_SECONDS="${BERTH_FUZZ_SECONDS:-10}" scripts/fuzz.sh
