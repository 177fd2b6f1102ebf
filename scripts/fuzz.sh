#!/usr/bin/env bash
# Fuzzes what reads untrusted bytes, with cargo-fuzz/libFuzzer: berth-hooks (webhook signature
# checks and payload parsing, the relay's public endpoint) and berth-git (pkt-lines, the ref
# advertisement, packs, deltas, trees: what a git server sends the relay).
#
#   scripts/fuzz.sh [CRATE/TARGET...]   every target of both by default (e.g. berth-git/pack)
#
#   BERTH_FUZZ_SECONDS    how long each target runs (default 20)
#   BERTH_FUZZ_SANITIZER  address (default) or none
#
# Runs on the stable toolchain: libFuzzer's instrumentation flags are unstable, and
# RUSTC_BOOTSTRAP=1 lets stable rustc accept them. Installs cargo-fuzz when it is missing.
# Each target starts from its corpus (crates/CRATE/fuzz/corpus/TARGET, kept between runs and
# ignored by git) plus the checked-in seeds, with a dictionary when there is one. Prints one
# line per target; exits non-zero when a target finds a crash (the input is saved under
# crates/CRATE/fuzz/artifacts/TARGET, replay it there with `cargo fuzz run TARGET FILE`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crates=(berth-hooks berth-git)
seconds="${BERTH_FUZZ_SECONDS:-20}"
sanitizer="${BERTH_FUZZ_SANITIZER:-address}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# The default toolchain (stable on a fresh machine; RUSTC_BOOTSTRAP covers the unstable flags).
cargo=(cargo)
export RUSTC_BOOTSTRAP=1

# CRATE/TARGET pairs to run.
if [ "$#" -gt 0 ]; then
    runs=("$@")
else
    runs=()
    for crate in "${crates[@]}"; do
        while read -r target; do
            runs+=("$crate/$target")
        done < <(cd "$root/crates/$crate/fuzz" && "${cargo[@]}" fuzz list)
    done
fi

failed=0
for run in "${runs[@]}"; do
    crate="${run%%/*}"
    target="${run#*/}"
    fuzz_dir="$root/crates/$crate/fuzz"
    # One target dir for every fuzz crate: libFuzzer and the shared dependencies build once.
    export CARGO_TARGET_DIR="${BERTH_FUZZ_TARGET_DIR:-$root/target/fuzz}"
    mkdir -p "$CARGO_TARGET_DIR"
    cd "$fuzz_dir"
    mkdir -p "corpus/$target"
    inputs=("corpus/$target")
    if [ -d "seeds/$target" ]; then
        inputs+=("seeds/$target")
    fi
    options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048)
    if [ -f "dict/$target.dict" ]; then
        options+=(-dict="dict/$target.dict")
    fi
    log="$CARGO_TARGET_DIR/fuzz-$crate-$target.log"
    started=$SECONDS
    if "${cargo[@]}" fuzz run --sanitizer "$sanitizer" --debug-assertions "$target" \
        "${inputs[@]}" -- "${options[@]}" >"$log" 2>&1; then
        runs_done="$(grep -oE '^Done [0-9]+ runs' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo '?')"
        coverage="$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo '?')"
        corpus="$(find "corpus/$target" -type f | wc -l | tr -d ' ')"
        echo "fuzz $crate/$target: ok, $runs_done runs in ${seconds}s, coverage $coverage, corpus $corpus ($((SECONDS - started))s with the build)"
    else
        echo "fuzz $crate/$target: FAILED after $((SECONDS - started))s, log in $log"
        tail -n 40 "$log" >&2
        failed=1
    fi
done
exit "$failed"
