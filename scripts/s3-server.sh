#!/usr/bin/env bash
# Installs the S3-compatible server the backup tests write to, once per machine, and prints its
# path. No production S3 server installs from the registries this machine reaches (MinIO,
# Garage and Ceph's gateway do not), so the tests use s3s-fs, from crates.io: an S3 server
# implementation on a directory that checks every request's Signature Version 4, the closest
# real thing. The test run starts this in the background while it compiles (scripts/test.sh);
# the tests call it too. Concurrent calls wait for each other.
set -euo pipefail
version=0.14.1
tools=${BERTH_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-tools}
root="$tools/s3s-fs-$version"
mkdir -p "$tools"
exec 9>"$tools/.s3s-fs.lock"
flock 9
if [ ! -x "$root/bin/s3s-fs" ]; then
  printf '\033[1ms3-server:\033[0m installing s3s-fs %s (once per machine)\n' "$version" >&2
  cargo install -q s3s-fs --version "$version" --features binary --locked --root "$root" >&2
fi
echo "$root/bin/s3s-fs"
