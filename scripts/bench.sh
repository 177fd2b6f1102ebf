#!/usr/bin/env bash
# Prints Berth's benchmark figures (Docker API latency through the SSH session vs the local
# socket vs `docker -H ssh://`; a redeploy vs the bare docker CLI steps; routing through Caddy;
# the desktop app's launch time and idle memory), measured in one run. `scripts/bench.sh desktop`
# runs only the desktop part.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/services.sh
case "${1:-all}" in
  all|desktop)
    scripts/build-ui.sh
    cargo build --release -q --bin berth --bin berth-bench --bin berth-desktop ;;
  *) cargo build --release -q --bin berth --bin berth-bench ;;
esac
BERTH_BIN="$PWD/target/release/berth" BERTH_DESKTOP_BIN="$PWD/target/release/berth-desktop" \
  exec target/release/berth-bench "$@"
