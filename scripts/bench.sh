#!/usr/bin/env bash
# Prints Berth's benchmark figures (Docker API latency through the SSH session vs the local
# socket vs `docker -H ssh://`; a redeploy vs the bare docker CLI steps), measured in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/services.sh
cargo build --release -q --bin berth --bin berth-bench
BERTH_BIN="$PWD/target/release/berth" exec target/release/berth-bench "$@"
