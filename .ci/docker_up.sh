#!/usr/bin/env bash
# Bring up Docker for the container test on a CI machine that cannot pull public images:
# install docker.io and debootstrap if missing, start dockerd if it is not answering, and
# build a local Python base image (Debian bookworm, Python 3.11) once. Safe to run repeatedly.
# Needs root. Prints every step it takes, and the base image name at the end.
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-local/python:3.11-bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

log() { echo "docker_up: $*"; }

install_missing_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if ((${#missing[@]} == 0)); then
    log "docker.io and debootstrap already installed"
    return
  fi
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

dockerd_answers() { docker info >/dev/null 2>&1; }

# True while process $2 exists, is named $1 and is not a zombie (killed, not yet reaped).
running() {
  local name="$1" pid="$2"
  [[ -r "/proc/$pid/comm" && "$(cat "/proc/$pid/comm")" == "$name" ]] \
    && [[ "$(awk '{print $3}' "/proc/$pid/stat")" != Z ]]
}

# A dockerd killed at the end of a session leaves the pid files of itself and of its containerd
# behind; a new dockerd refuses to start, or waits in vain for that containerd, while they exist.
remove_stale_pid_file() {
  local name="$1" pid_file="$2"
  if [[ -f "$pid_file" ]] && ! running "$name" "$(cat "$pid_file")"; then
    log "removing the stale $pid_file"
    rm -f "$pid_file"
  fi
}

# A dockerd that is still starting or stopping: wait until it answers or is gone.
wait_for_previous_dockerd() {
  local pid_file=/var/run/docker.pid previous
  [[ -f "$pid_file" ]] || return 0
  previous="$(cat "$pid_file")"
  running dockerd "$previous" || return 0
  log "waiting for dockerd (pid $previous) to finish starting or stopping"
  for _ in $(seq 30); do
    if dockerd_answers || ! running dockerd "$previous"; then
      return 0
    fi
    sleep 1
  done
  echo "docker_up: dockerd (pid $previous) is running but does not answer; stop it, then run this again" >&2
  exit 1
}

start_dockerd() {
  if dockerd_answers; then
    log "dockerd already running"
    return
  fi
  wait_for_previous_dockerd
  if dockerd_answers; then
    log "dockerd is up"
    return
  fi
  remove_stale_pid_file dockerd /var/run/docker.pid
  remove_stale_pid_file containerd /var/run/docker/containerd/containerd.pid
  log "starting dockerd (log: $DOCKERD_LOG)"
  setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
  local dockerd_pid=$!
  for _ in $(seq 60); do
    if dockerd_answers; then
      log "dockerd is up"
      return
    fi
    running dockerd "$dockerd_pid" || break
    sleep 1
  done
  echo "docker_up: dockerd did not come up; last lines of $DOCKERD_LOG:" >&2
  tail -n 20 "$DOCKERD_LOG" >&2
  exit 1
}

# The host's CA bundle goes into the image because outgoing TLS passes an inspecting proxy here:
# without it, pip inside `docker build` fails certificate checks.
build_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE already present"
    return
  fi
  local rootfs
  rootfs="$(mktemp -d)"
  log "debootstrapping Debian bookworm with Python 3 into $rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" "$DEBIAN_MIRROR" >/dev/null
  cp "$HOST_CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  log "importing $rootfs as $BASE_IMAGE"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change "ENV PIP_CERT=$HOST_CA_BUNDLE" \
    --change "ENV SSL_CERT_FILE=$HOST_CA_BUNDLE" \
    --change "ENV REQUESTS_CA_BUNDLE=$HOST_CA_BUNDLE" \
    --change 'CMD ["python3"]' \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

install_missing_packages
start_dockerd
build_base_image
log "ready; base image: $BASE_IMAGE"
