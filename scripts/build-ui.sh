#!/usr/bin/env bash
# Builds the desktop UI (ui/, Leptos) to wasm and writes ui/dist/: index.html, style.css and
# the wasm-bindgen output, size-optimised with wasm-opt. The desktop binary embeds ui/dist/,
# so run this before `cargo build -p berth-desktop`. scripts/setup.sh installs the tools.
#
# The wasm build uses Debian's Rust (rustc-web: its std sources let us build std for wasm32,
# which rustup cannot download here), with its own target dir so the two compilers never share
# artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log() { printf '\033[1mbuild-ui:\033[0m %s\n' "$*" >&2; }

tools=${BERTH_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-tools}
wbg_version=$(scripts/wasm-bindgen-version.sh)
wasm_bindgen="$tools/wasm-bindgen-$wbg_version/bin/wasm-bindgen"
wasm_opt="$tools/binaryen-132/node_modules/.bin/wasm-opt"
for tool in "$wasm_bindgen" "$wasm_opt" /usr/bin/rustc /usr/bin/cargo /usr/bin/wasm-ld; do
  [ -x "$tool" ] || { log "missing $tool: run scripts/setup.sh first"; exit 1; }
done

profile=${BERTH_UI_PROFILE:-release}
target_dir="$root/target/wasm"
out="$root/ui/dist"
started=$(date +%s)

log "compiling berth-ui for wasm32 ($profile)"
(
  export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld
  export CARGO_TARGET_DIR="$target_dir"
  # Small and fast to load; these apply to this build only (its own target dir).
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=true
  export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort
  export CARGO_PROFILE_RELEASE_DEBUG=false
  unset RUSTFLAGS CARGO_BUILD_RUSTFLAGS
  export PATH="/usr/bin:$PATH"
  args=(build -p berth-ui --bin berth-ui --target wasm32-unknown-unknown)
  [ "$profile" = release ] && args+=(--release)
  /usr/bin/cargo "${args[@]}"
)
wasm="$target_dir/wasm32-unknown-unknown/$profile/berth-ui.wasm"

log "wasm-bindgen $wbg_version"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
"$wasm_bindgen" --target web --no-typescript --out-dir "$staging" --out-name berth-ui "$wasm"

if [ "$profile" = release ]; then
  log "wasm-opt -Oz (binaryen 132)"
  "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o "$staging/berth-ui_bg.opt.wasm" "$staging/berth-ui_bg.wasm"
  mv "$staging/berth-ui_bg.opt.wasm" "$staging/berth-ui_bg.wasm"
fi
cp ui/index.html ui/style.css ui/boot.js "$staging/"

# Replace dist in one step, so a failed build never leaves half a UI behind.
rm -rf "$out.old"
[ -d "$out" ] && mv "$out" "$out.old"
mkdir -p "$out"
cp -r "$staging/." "$out/"
rm -rf "$out.old"
log "ui/dist ready: $(du -sh "$out" | cut -f1) ($(du -h "$out/berth-ui_bg.wasm" | cut -f1) wasm) in $(( $(date +%s) - started )) s"
