#!/usr/bin/env bash
# Builds the test base images that need more than a host binary, once per machine, and prints
# their tags. No image registry is reachable here, so they are made from Debian's own packages:
#
#   scripts/test-images.sh debian    # a minimal Debian 12 (debootstrap --variant=minbase),
#                                    # imported as berth-test/debian:bookworm-<recipe hash>
#
# Images are tagged by a hash of their recipe (this script, the mirror), so a changed recipe
# builds a new one and an unchanged one is reused. Concurrent calls wait for each other. The
# test run starts this in the background while it compiles (.ci/run); the tests call it too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { printf '\033[1mtest-images:\033[0m %s\n' "$*" >&2; }

# The Debian mirror this machine's apt uses (deb822 or one-line sources), else deb.debian.org.
mirror() {
  local m
  m=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v security | head -n1 || true)
  [ -n "$m" ] || m=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' \
    /etc/apt/sources.list 2>/dev/null || true)
  echo "${m:-http://deb.debian.org/debian}"
}

debian() {
  local mirror hash tag
  mirror=$(mirror)
  hash=$( (cat "$here/test-images.sh"; echo "$mirror") | sha256sum | cut -c1-12)
  tag="berth-test/debian:bookworm-$hash"
  exec 9>/tmp/berth-test-images.lock
  flock 9
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || { log "debootstrap missing: run scripts/setup.sh"; exit 1; }
    dir=$(mktemp -d /tmp/berth-debootstrap.XXXXXX)
    trap 'rm -rf "$dir" "$dir.log"' EXIT
    log "debootstrap bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 ||
      { tail -n 20 "$dir.log" >&2; rm -f "$dir.log"; exit 1; }
    rm -f "$dir.log"
    # What a container needs that a chroot does not: no apt caches kept, and no daemons.
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar -C "$dir" -c . | docker import \
      -c 'LABEL berth.test=true' -c 'ENV DEBIAN_FRONTEND=noninteractive' -c 'CMD ["bash"]' \
      - "$tag" >/dev/null
    rm -rf "$dir"
    log "built $tag"
  fi
  echo "$tag"
}

case "${1:-}" in
  debian) debian ;;
  *) echo "usage: $0 debian" >&2; exit 2 ;;
esac
