#!/usr/bin/env bash
# Installs everything Berth needs to build and test on Debian 12, idempotently:
#   - system packages for the CLI, the engine and the end-to-end tests;
#   - the desktop app's toolchain: WebKitGTK and the tray library for Tauri, Debian's Rust with
#     std sources to build the Leptos UI for wasm32, Xvfb/WebKitWebDriver for its tests;
#   - tools outside the repo, in ~/.cache/berth-tools (BERTH_TOOLS_DIR): wasm-bindgen-cli (the
#     exact version Cargo.lock pins), tauri-driver, and binaryen's wasm-opt 132 from npm.
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
  # test and benchmark tools (age: the reference tool opens Berth's sealed backups, and the
  # reverse)
  curl jq wrk hyperfine procps iproute2 age zstd
  # a clean Debian 12 for the package test (scripts/test-images.sh); dpkg-shlibdeps and strip
  # for scripts/package.sh come with build-essential
  debootstrap
  # a real image registry for the image-app tests (the CNCF distribution registry), and
  # htpasswd for its login
  docker-registry
  apache2-utils
  # desktop app: Tauri on WebKitGTK, the tray (appindicator)
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev
  # the wasm UI: Debian's Rust (std sources, so std builds for wasm32), wasm-ld
  rustc-web cargo-web rust-web-src lld
  # the relay for the other server architecture (cross linker, static glibc) and qemu-user
  # to run it in a test
  qemu-user-static
  # desktop end-to-end tests: virtual display, WebKit's WebDriver, a session bus, screenshots,
  # a tray host so the tray icon shows up in them
  xvfb xauth webkit2gtk-driver dbus dbus-x11 xdotool imagemagick trayer
)

case "$(uname -m)" in
  x86_64) packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
  aarch64) packages+=(gcc-x86-64-linux-gnu libc6-dev-amd64-cross) ;;
esac

# wasm-opt comes from npm: use the machine's Node.js if it has one, else Debian's.
command -v npm >/dev/null || packages+=(nodejs npm)

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

# --- desktop tools, outside the repo ---
tools=${BERTH_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-tools}
mkdir -p "$tools"

# wasm-bindgen-cli must match the wasm-bindgen library in Cargo.lock exactly. No --locked: its
# lockfile pins a webpki-roots version the registry here does not have.
wbg=$("$here/scripts/wasm-bindgen-version.sh")
if ! "$tools/wasm-bindgen-$wbg/bin/wasm-bindgen" --version 2>/dev/null | grep -qF " $wbg"; then
  log "installing wasm-bindgen-cli $wbg (a few minutes, once)"
  cargo install -q wasm-bindgen-cli --version "$wbg" --root "$tools/wasm-bindgen-$wbg"
fi

# tauri-driver: the WebDriver front for Tauri apps (in front of WebKitWebDriver on Linux).
tauri_driver_version=2.1.0
if ! cargo install --list --root "$tools/tauri-driver" 2>/dev/null | grep -qF "tauri-driver v$tauri_driver_version:"; then
  log "installing tauri-driver $tauri_driver_version"
  cargo install -q tauri-driver --version "$tauri_driver_version" --locked --root "$tools/tauri-driver"
fi

# wasm-opt from binaryen 132 (npm). Debian's binaryen 108 corrupts wasm-bindgen's output.
if ! "$tools/binaryen-132/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -qF "version 132"; then
  log "installing binaryen 132 (wasm-opt) from npm"
  npm install --silent --no-audit --no-fund --prefix "$tools/binaryen-132" binaryen@132.0.0 >/dev/null
fi

log "ready: system packages and desktop tools in $tools ($(cd "$here" && git rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
