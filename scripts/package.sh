#!/usr/bin/env bash
# Builds Berth's Linux package: one .deb with the desktop app (menu entry, icons), the `berth`
# CLI and the relay executables for x86_64 and aarch64 servers, where `berth server relay
# install` looks for them (/usr/lib/berth). Works offline on Debian 12 after scripts/setup.sh.
#
#   scripts/package.sh                     # build everything (release), then the .deb
#   scripts/package.sh --no-build          # package what target/release already holds
#   scripts/package.sh --profile debug --no-build --fast
#                                          # the test run's cheap check: package the debug
#                                          # binaries it built, with quick compression
#
# Output: target/package/berth_<version>_<arch>.deb (BERTH_PACKAGE_OUT overrides the dir).
# The package is assembled with dpkg-deb rather than Tauri's bundler, so it needs no tauri-cli
# and can hold the CLI and both relays; its dependencies come from dpkg-shlibdeps.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1mpackage:\033[0m %s\n' "$*" >&2; }

profile=release
build=1
fast=0
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --fast) fast=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) log "unknown option $1"; exit 2 ;;
  esac
done

tdir="${CARGO_TARGET_DIR:-target}"
case "$profile" in
  release) bins="$tdir/release"; cargo_profile=(--release) ;;
  debug) bins="$tdir/debug"; cargo_profile=() ;;
  *) log "--profile is release or debug, not $profile"; exit 2 ;;
esac
out=$(realpath -m "${BERTH_PACKAGE_OUT:-$tdir/package}")

# The commit goes into `berth --version` and the window's About (crates/berth-api/build.rs).
if [ -z "${BERTH_COMMIT:-}" ] && commit=$(git rev-parse --short=12 HEAD 2>/dev/null); then
  export BERTH_COMMIT=$commit
fi

if [ "$build" = 1 ]; then
  scripts/build-ui.sh
  scripts/build-relay.sh
  cargo build "${cargo_profile[@]}" -p berth-cli --bin berth -p berth-desktop --bin berth-desktop
fi

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
arch=$(dpkg --print-architecture)
for f in berth berth-desktop berth-relay-x86_64-linux berth-relay-aarch64-linux; do
  [ -x "$bins/$f" ] || {
    log "missing $bins/$f: build it first (scripts/package.sh without --no-build does)"
    exit 1
  }
done

stage="$out/stage"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/berth" \
  "$stage/usr/share/applications" "$stage/usr/share/doc/berth"
# Debug info stays out of the package (the relays are stripped already).
strip --strip-unneeded -o "$stage/usr/bin/berth" "$bins/berth"
strip --strip-unneeded -o "$stage/usr/bin/berth-desktop" "$bins/berth-desktop"
for a in x86_64 aarch64; do
  install -m 0755 "$bins/berth-relay-$a-linux" "$stage/usr/lib/berth/"
done
for icon in 32x32:32x32.png 128x128:128x128.png 256x256:128x128@2x.png 512x512:icon.png; do
  size=${icon%%:*}
  install -D -m 0644 "icons/${icon#*:}" "$stage/usr/share/icons/hicolor/$size/apps/berth.png"
done
install -m 0644 packaging/linux/berth.desktop "$stage/usr/share/applications/berth.desktop"
install -m 0644 packaging/linux/copyright "$stage/usr/share/doc/berth/copyright"

# Shared-library dependencies of the two dynamically linked executables, as Debian packages.
shlibs="$out/shlibs"
rm -rf "$shlibs" && mkdir -p "$shlibs/debian"
printf 'Source: berth\n\nPackage: berth\nArchitecture: any\n' >"$shlibs/debian/control"
depends=$(cd "$shlibs" && dpkg-shlibdeps -O \
  "-e$stage/usr/bin/berth" "-e$stage/usr/bin/berth-desktop" | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { log "dpkg-shlibdeps found no dependencies"; exit 1; }
# What Berth loads or runs besides: the tray library (loaded at run time), git (sources and
# pushes), ssh (the system SSH transport).
depends="$depends, libayatana-appindicator3-1, git, openssh-client"

cat >"$stage/DEBIAN/control" <<EOF
Package: berth
Version: $version
Architecture: $arch
Maintainer: Berth developers <berth@berth.dev>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Suggests: docker.io
Section: devel
Priority: optional
Homepage: https://berth.dev
Description: deploy git apps to your own Docker servers over SSH
 Berth turns any SSH-reachable Docker host into a small PaaS: push, build, start the new
 container beside the old one, check its health, switch the Caddy route (with automatic TLS)
 and drain the old one. This package holds the desktop app (berth-desktop), the berth command
 line, and the webhook relay Berth installs on x86_64 and aarch64 servers.
EOF

deb="$out/berth_${version}_${arch}.deb"
if [ "$fast" = 1 ]; then compress=(-Zgzip -z1); else compress=(-Zxz -z9); fi
dpkg-deb --root-owner-group "${compress[@]}" --build "$stage" "$deb" >/dev/null
rm -rf "$stage" "$shlibs"
log "$deb ($(du -h "$deb" | cut -f1); commit ${BERTH_COMMIT:-unknown})"
echo "$deb"
