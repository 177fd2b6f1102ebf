#!/usr/bin/env bash
# Prints Berth's benchmark figures (Docker API latency through the SSH session vs the local
# socket vs `docker -H ssh://`; a redeploy vs the bare docker CLI steps; routing through Caddy;
# the desktop app's launch time and idle memory; the webhook relay's size, memory, verified
# accepts per second and durability; a deploy of an image app's new tag from a local registry
# vs the bare `docker pull`/`run` steps; a 1 GB PostgreSQL backup and restore over SSH vs
# `pg_dump | ssh` by hand; a redeploy of a Flask app after a one-line change vs with no change),
# measured in one run. `scripts/bench.sh desktop` (or `core`, `routing`, `relay`, `images`,
# `backups`, `redeploys`) runs only that part.
set -euo pipefail
cd "$(dirname "$0")/.."
part="${1:-all}"
scripts/setup.sh
# The relay part runs only the relay's executable: no dockerd.
[ "$part" = relay ] || scripts/services.sh
case "$part" in
  all|desktop)
    scripts/build-ui.sh
    cargo build --release -q --bin berth --bin berth-bench --bin berth-desktop ;;
  *) cargo build --release -q --bin berth --bin berth-bench ;;
esac
case "$part" in
  all|relay|monitor) scripts/build-relay.sh ;;
esac
BERTH_BIN="$PWD/target/release/berth" BERTH_DESKTOP_BIN="$PWD/target/release/berth-desktop" \
  BERTH_RELAY_EXE="${CARGO_TARGET_DIR:-$PWD/target}/$(uname -m)-unknown-linux-gnu/relay/berth-relay" \
  exec target/release/berth-bench "$@"
