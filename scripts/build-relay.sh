#!/usr/bin/env bash
# Builds the webhook relay as static Linux executables (its image is FROM scratch: no dynamic
# loader, no libc), one per server architecture, and puts them next to the `berth` binaries as
# berth-relay-<arch>-linux, where `berth server relay install` looks for them:
#   - this machine's architecture, with the project's toolchain;
#   - the other one (x86_64 <-> aarch64), cross-compiled: rustup cannot download another
#     target's std here, so std is built from Debian's Rust sources (rust-web-src, as the wasm
#     UI is), linked statically against Debian's cross glibc (gcc-aarch64-linux-gnu and
#     libc6-dev-arm64-cross, or their amd64 twins). BERTH_RELAY_ARCHES="x86_64" builds one.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1mbuild-relay:\033[0m %s\n' "$*" >&2; }

native=$(uname -m)
arches=${BERTH_RELAY_ARCHES:-"x86_64 aarch64"}
tdir="${CARGO_TARGET_DIR:-target}"

for arch in $arches; do
  target="$arch-unknown-linux-gnu"
  if [ "$arch" = "$native" ]; then
    # With an explicit --target, RUSTFLAGS reach only the target's crates (not build scripts).
    RUSTFLAGS="-C target-feature=+crt-static" \
      cargo build --profile relay -p berth-relay --bin berth-relay --target "$target"
    out="$tdir/$target/relay/berth-relay"
  else
    cc="$arch-linux-gnu-gcc"
    for tool in /usr/bin/rustc /usr/bin/cargo "/usr/bin/$cc"; do
      [ -x "$tool" ] || { log "missing $tool: run scripts/setup.sh first"; exit 1; }
    done
    upper=$(echo "$target" | tr 'a-z-' 'A-Z_')
    (
      export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
      export CARGO_UNSTABLE_BUILD_STD=std,panic_unwind
      export "CARGO_TARGET_${upper}_LINKER=$cc"
      export "CC_${target//-/_}=$cc" "AR_${target//-/_}=$arch-linux-gnu-ar"
      export "CARGO_TARGET_${upper}_RUSTFLAGS=-C target-feature=+crt-static"
      export CARGO_TARGET_DIR="$tdir/cross"
      unset RUSTFLAGS CARGO_BUILD_RUSTFLAGS
      export PATH="/usr/bin:$PATH"
      cargo build --profile relay -p berth-relay --bin berth-relay --target "$target"
    )
    out="$tdir/cross/$target/relay/berth-relay"
  fi
  for dir in "$tdir/release" "$tdir/debug"; do
    mkdir -p "$dir"
    cp "$out" "$dir/berth-relay-$arch-linux"
  done
  log "$arch: $out ($(du -h "$out" | cut -f1)), copied to $tdir/{release,debug}/berth-relay-$arch-linux"
done
