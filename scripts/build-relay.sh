#!/usr/bin/env bash
# Builds the webhook relay as a static Linux executable (its image is FROM scratch: no dynamic
# loader, no libc) and puts it next to the `berth` binaries as berth-relay-<arch>-linux, where
# `berth server relay install` looks for it.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=$(uname -m)
target="$arch-unknown-linux-gnu"
# With an explicit --target, RUSTFLAGS reach only the target's crates (not build scripts).
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --profile relay -p berth-relay --bin berth-relay --target "$target"
tdir="${CARGO_TARGET_DIR:-target}"
out="$tdir/$target/relay/berth-relay"
for dir in "$tdir/release" "$tdir/debug"; do
    mkdir -p "$dir"
    cp "$out" "$dir/berth-relay-$arch-linux"
done
echo "relay: $out ($(du -h "$out" | cut -f1)), copied to $tdir/{release,debug}/berth-relay-$arch-linux"
