#!/usr/bin/env bash
# Runs every Berth test on this machine: installs what is missing, starts dockerd, builds the
# `berth` binary and runs unit and end-to-end tests (the e2e harness starts its own sshd).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/services.sh

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-always}
cargo build --bin berth
cargo test --workspace --no-fail-fast -- --test-threads="${BERTH_TEST_THREADS:-2}"
