#!/usr/bin/env bash
# Builds the test base images that need more than a host binary, once per machine, and prints
# their tags. No image registry is reachable here, so they are made from Debian's own packages:
#
#   scripts/test-images.sh debian    # a minimal Debian 12 (debootstrap --variant=minbase),
#                                    # imported as berth-test/debian:bookworm-<recipe hash>
#   scripts/test-images.sh postgres  # Debian's PostgreSQL on it, with the official image's
#                                    # env contract: berth-test/postgres:15-<recipe hash>
#   scripts/test-images.sh redis     # Debian's Redis on it, the official image's entrypoint
#                                    # contract: berth-test/redis:7-<recipe hash>
#   scripts/test-images.sh mariadb   # Debian's MariaDB on it, the official image's env
#                                    # contract: berth-test/mariadb:10.11-<recipe hash>
#   scripts/test-images.sh python    # Debian's Python 3.11 and pip, standing in for the
#                                    # official python:3.11-slim (also tagged so, when this
#                                    # machine has no image of that name)
#   scripts/test-images.sh node      # Debian's Node.js 18 and npm, with the official image's
#                                    # `node` user (uid 1000), standing in for node:18-bookworm-slim
#
# The language images trust this machine's CA bundle (PIP_CERT, NODE_EXTRA_CA_CERTS), the only
# way package downloads from PyPI and npm work inside builds here.
# Several names build (and print) each in turn. Images are tagged by a hash of their recipe
# (the function that builds it, its files, the mirror, the image it is built on), so a changed
# recipe builds a new one and an unchanged one is reused. Concurrent calls wait for each other.
# The test run starts this in the background while it compiles (.ci/run); the tests call it too.
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
  hash=$( (declare -f debian; echo "$mirror") | sha256sum | cut -c1-12)
  tag="berth-test/debian:bookworm-$hash"
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

# Builds `$tag` from the Dockerfile and files in `$dir` (removed after), once: an image with that
# tag is reused.
build() {
  local tag=$1 dir=$2 what=$3
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    log "building $tag ($what)"
    DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$dir" >"$dir.log" 2>&1 ||
      { tail -n 20 "$dir.log" >&2; rm -rf "$dir" "$dir.log"; exit 1; }
    log "built $tag"
  fi
  rm -rf "$dir" "$dir.log"
  echo "$tag"
}

# Debian's PostgreSQL 15 behind an entrypoint that takes the official image's env.
postgres() {
  local base hash dir
  base=$(debian)
  hash=$( (declare -f postgres; cat "$here/test-images/postgres-entrypoint.sh"; echo "$base") |
    sha256sum | cut -c1-12)
  dir=$(mktemp -d /tmp/berth-test-postgres.XXXXXX)
  cp "$here/test-images/postgres-entrypoint.sh" "$dir/docker-entrypoint.sh"
  cat >"$dir/Dockerfile" <<DOCKERFILE
FROM $base
# Without the package's own cluster, JIT (LLVM), docs and translations: a third of the size.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 \
    && pg_dropcluster 15 main \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/lib/*/libLLVM* /usr/lib/*/libz3* \
      /usr/lib/postgresql/15/lib/bitcode /usr/lib/postgresql/15/lib/llvmjit* \
      /usr/share/doc /usr/share/man /usr/share/locale
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
EXPOSE 5432
STOPSIGNAL SIGINT
LABEL berth.test=true
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
DOCKERFILE
  build "berth-test/postgres:15-$hash" "$dir" "apt-get install postgresql-15"
}

# Debian's Redis 7 behind an entrypoint like the official image's.
redis() {
  local base hash dir
  base=$(debian)
  hash=$( (declare -f redis; cat "$here/test-images/redis-entrypoint.sh"; echo "$base") |
    sha256sum | cut -c1-12)
  dir=$(mktemp -d /tmp/berth-test-redis.XXXXXX)
  cp "$here/test-images/redis-entrypoint.sh" "$dir/docker-entrypoint.sh"
  cat >"$dir/Dockerfile" <<DOCKERFILE
FROM $base
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc /usr/share/man
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
EXPOSE 6379
LABEL berth.test=true
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server", "--protected-mode", "no"]
DOCKERFILE
  build "berth-test/redis:7-$hash" "$dir" "apt-get install redis-server"
}

# Debian's MariaDB 10.11 behind an entrypoint that takes the official image's env.
mariadb() {
  local base hash dir
  base=$(debian)
  hash=$( (declare -f mariadb; cat "$here/test-images/mariadb-entrypoint.sh"; echo "$base") |
    sha256sum | cut -c1-12)
  dir=$(mktemp -d /tmp/berth-test-mariadb.XXXXXX)
  cp "$here/test-images/mariadb-entrypoint.sh" "$dir/docker-entrypoint.sh"
  cat >"$dir/Dockerfile" <<DOCKERFILE
FROM $base
RUN apt-get update && apt-get install -y --no-install-recommends mariadb-server \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc /usr/share/man \
      /var/lib/mysql/* /etc/mysql/mariadb.conf.d/50-server.cnf
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/mysql
EXPOSE 3306
LABEL berth.test=true
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["mariadbd"]
DOCKERFILE
  build "berth-test/mariadb:10.11-$hash" "$dir" "apt-get install mariadb-server"
}

# Tags `$1` as the official name `$2` too, unless this machine has an image of that name
# (a real one works as well): generated Dockerfiles name official images, and a build finds a
# local image before it would pull.
official() {
  docker image inspect "$2" >/dev/null 2>&1 || docker tag "$1" "$2"
  echo "$1"
}

# Debian's Python 3.11 with pip, as the official image has it: `python` and `pip` on PATH, pip
# free to install system-wide.
python() {
  local base hash dir
  base=$(debian)
  hash=$( (declare -f python; cat /etc/ssl/certs/ca-certificates.crt; echo "$base") |
    sha256sum | cut -c1-12)
  dir=$(mktemp -d /tmp/berth-test-python.XXXXXX)
  cp /etc/ssl/certs/ca-certificates.crt "$dir/ca-certificates.crt"
  cat >"$dir/Dockerfile" <<DOCKERFILE
FROM $base
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip \
    && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \
    && ln -s /usr/bin/python3 /usr/local/bin/python && ln -s /usr/bin/pip3 /usr/local/bin/pip \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc /usr/share/man
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
LABEL berth.test=true
CMD ["python3"]
DOCKERFILE
  local tag
  tag=$(build "berth-test/python:3.11-$hash" "$dir" "apt-get install python3-pip")
  official "$tag" python:3.11-slim
}

# Debian's Node.js 18 with npm, and the official image's `node` user.
node() {
  local base hash dir
  base=$(debian)
  hash=$( (declare -f node; cat /etc/ssl/certs/ca-certificates.crt; echo "$base") |
    sha256sum | cut -c1-12)
  dir=$(mktemp -d /tmp/berth-test-node.XXXXXX)
  cp /etc/ssl/certs/ca-certificates.crt "$dir/ca-certificates.crt"
  cat >"$dir/Dockerfile" <<DOCKERFILE
FROM $base
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
    && useradd --uid 1000 --user-group --create-home --shell /bin/bash node \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc /usr/share/man
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV LANG=C.UTF-8 NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    npm_config_cafile=/etc/ssl/certs/ca-certificates.crt npm_config_update_notifier=false \
    npm_config_fund=false npm_config_audit=false
LABEL berth.test=true
CMD ["node"]
DOCKERFILE
  local tag
  tag=$(build "berth-test/node:18-$hash" "$dir" "apt-get install nodejs npm")
  official "$tag" node:18-bookworm-slim
}

usage="usage: $0 debian|postgres|redis|mariadb|python|node ..."
[ $# -gt 0 ] || { echo "$usage" >&2; exit 2; }
exec 9>/tmp/berth-test-images.lock
flock 9
for name in "$@"; do
  case "$name" in
    debian) debian ;;
    postgres) postgres ;;
    redis) redis ;;
    mariadb) mariadb ;;
    python) python ;;
    node) node ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
