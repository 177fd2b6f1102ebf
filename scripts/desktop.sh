#!/usr/bin/env bash
# Builds and starts Berth's desktop app: installs what is missing (scripts/setup.sh), builds
# the UI (wasm) and the release binary, then runs target/release/berth-desktop. Arguments and
# the environment (BERTH_DATA_DIR, BERTH_SECRETS, BERTH_LOG) pass through to the app.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build-ui.sh
cargo build --release -p berth-desktop
exec "${CARGO_TARGET_DIR:-target}/release/berth-desktop" "$@"
