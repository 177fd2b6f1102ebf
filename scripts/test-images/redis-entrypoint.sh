#!/bin/sh
# The test Redis image's entrypoint: the official image's contract on Debian's redis-server —
# flags alone mean `redis-server FLAGS`; redis-server runs as `redis` in /data (its volume).
set -eu
case "${1:-}" in
  -*|*.conf) set -- redis-server "$@" ;;
esac
if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
  mkdir -p /data
  chown -R redis:redis /data
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
exec "$@"
