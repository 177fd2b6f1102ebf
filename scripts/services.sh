#!/usr/bin/env bash
# Starts the long-running services the tests and the local demo need, if they are not running:
# dockerd (Debian's docker.io). sshd is started per test run by the test harness itself, on a
# random loopback port with generated keys, and stopped when the tests end.
set -euo pipefail
log() { printf '\033[1mservices:\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else log "need root for: $*"; exit 1; fi
}

if docker info >/dev/null 2>&1; then
  log "dockerd is running"
else
  log "starting dockerd (log: /tmp/berth-dockerd.log)"
  as_root sh -c 'setsid dockerd >/tmp/berth-dockerd.log 2>&1 < /dev/null &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /tmp/berth-dockerd.log"; tail -20 /tmp/berth-dockerd.log >&2; exit 1; }
  log "dockerd is up ($(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'))"
fi
