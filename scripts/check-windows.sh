#!/usr/bin/env bash
# Type-checks the CLI and the desktop app for Windows (x86_64-pc-windows-gnu) on this Linux
# machine, so code behind `cfg(windows)` / `cfg(not(unix))` — the embedded SSH transport only,
# loopback-port forwards, the Windows bundle config — keeps compiling. No Windows binary comes
# out (that needs Windows and MSVC): std for the target is built from Debian's Rust sources, as
# for the wasm UI and the aarch64 relay, and C dependencies use Debian's MinGW-w64 compiler
# (package gcc-mingw-w64-x86-64-posix). About 5 minutes the first time; not part of the test run.
#
# macOS cannot be checked this way: bundled SQLite and ring need the macOS SDK's headers.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1mcheck-windows:\033[0m %s\n' "$*" >&2; }

cc=x86_64-w64-mingw32-gcc-posix
if ! command -v "$cc" >/dev/null; then
  log "installing gcc-mingw-w64-x86-64-posix"
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
  $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    gcc-mingw-w64-x86-64-posix >/dev/null
fi
target=x86_64-pc-windows-gnu
# tauri-build checks that the bundle's external binary and resources exist
# (src-tauri/tauri.windows.conf.json); a check needs only placeholders.
mkdir -p target/bin
for f in "berth-$target.exe" berth-relay-x86_64-linux berth-relay-aarch64-linux; do
  [ -e "target/bin/$f" ] || : >"target/bin/$f"
done
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_unwind
export "CC_${target//-/_}=$cc" "AR_${target//-/_}=x86_64-w64-mingw32-ar"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/cross-win" PATH="/usr/bin:$PATH"
unset RUSTFLAGS CARGO_BUILD_RUSTFLAGS
RUSTFLAGS="-D warnings" cargo check -p berth-cli -p berth-desktop --target "$target"
log "berth and berth-desktop type-check for Windows"
