#!/usr/bin/env bash
# Runs every Berth test on this machine: installs what is missing, starts dockerd, builds the
# `berth` binary, the desktop UI (wasm) and the desktop app, and runs unit, end-to-end and
# desktop tests (the e2e harness starts its own sshd; the desktop tests their own Xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/services.sh

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-always}
scripts/build-ui.sh
cargo build --bin berth --bin berth-desktop
cargo test --workspace --no-fail-fast -- --test-threads="${BERTH_TEST_THREADS:-2}"
