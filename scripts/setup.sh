#!/usr/bin/env bash
# Installs everything Berth needs to build and test on Debian 12, idempotently.
#   scripts/setup.sh          system packages for the CLI, the engine and the end-to-end tests
# Safe to run again: it only installs what is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else log "need root for: $*"; exit 1; fi
}

packages=(
  # engine and CLI
  git ca-certificates pkg-config libssl-dev build-essential
  # the real parts the end-to-end tests drive
  docker.io openssh-server openssh-client busybox-static caddy
  # test and benchmark tools
  curl jq wrk hyperfine procps iproute2
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  log "cargo is not on PATH: install Rust (https://rustup.rs) and run this again"
  exit 1
fi

# sshd refuses to start without its privilege-separation directory.
as_root mkdir -p /run/sshd

log "system packages ready ($(cd "$here" && git rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
