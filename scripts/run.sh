#!/usr/bin/env bash
# Sets up and runs Berth on this machine: installs what is missing, starts dockerd, builds the
# `berth` CLI, adds this machine as the server `local` and deploys the example app to it; then,
# when a display is available (DISPLAY or WAYLAND_DISPLAY), builds and opens the desktop app on
# the same data (BERTH_NO_DESKTOP=1 skips it). Run it again at any time: every step is skipped
# when already done (the deploy runs again). BERTH_PROFILE=debug runs the debug build of
# `berth` instead of building a release one (CI, right after scripts/test.sh built it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/setup.sh
scripts/services.sh

log() { printf '\033[1mrun:\033[0m %s\n' "$*" >&2; }

# BERTH_PROFILE=debug uses the debug build instead (CI: the test run just built it).
profile=${BERTH_PROFILE:-release}
log "building berth ($profile)"
case "$profile" in
  release) cargo build --release --bin berth -q ;;
  debug) cargo build --bin berth -q ;;
  *) log "BERTH_PROFILE must be release or debug, not $profile"; exit 1 ;;
esac
tdir="${CARGO_TARGET_DIR:-$root/target}"
berth="$tdir/$profile/berth"

# The example builds FROM a busybox image made from Debian's static busybox: no registry needed.
if ! docker image inspect berth/busybox-local:latest >/dev/null 2>&1; then
  log "making the local base image berth/busybox-local from /bin/busybox"
  ctx=$(mktemp -d)
  cp /bin/busybox "$ctx/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t berth/busybox-local:latest "$ctx" >/dev/null 2>&1
  rm -rf "$ctx"
fi

data_dir=${BERTH_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/berth}
export BERTH_DATA_DIR="$data_dir"

if ! "$berth" server ls --json | grep -q '"name": "local"'; then
  log "adding this machine's Docker as the server 'local'"
  "$berth" server add local --local
fi

# The example app lives in its own git repository (Berth builds commits, not folders).
example="$data_dir/examples/hello"
if [ ! -d "$example/.git" ]; then
  mkdir -p "$example"
  cp -r examples/hello/. "$example/"
  git -C "$example" init -q -b main
  git -C "$example" add -A
  git -C "$example" -c user.name=Berth -c user.email=berth@localhost commit -q -m "hello from berth"
fi
if ! "$berth" app ls --json | grep -q '"name": "hello"'; then
  "$berth" app create hello --server local --git "$example" --port 8080 --health-path /healthz
fi

"$berth" deploy hello
"$berth" status hello
endpoint=$("$berth" status hello --json | sed -n 's/.*"endpoint": "\(.*\)".*/\1/p')
desktop=false
if [ -z "${BERTH_NO_DESKTOP:-}" ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  desktop=true
fi

cat >&2 <<MSG

Berth is set up. The example app answers at http://$endpoint/
  $berth status hello          what is serving
  $berth logs hello --follow   its output
  edit $example, commit, then: $berth deploy hello
Data: $data_dir   (export BERTH_DATA_DIR=$data_dir to use the same state from any shell)
MSG

if $desktop; then
  log "building the desktop app (release; the first build takes several minutes)"
  scripts/build-ui.sh
  cargo build --release -q -p berth-desktop
  log "opening the desktop app (closing its window keeps it in the tray; Quit is in the tray menu)"
  exec "$tdir/release/berth-desktop"
fi
