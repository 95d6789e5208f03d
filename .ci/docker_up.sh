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

start_dockerd() {
  if docker info >/dev/null 2>&1; then
    log "dockerd already running"
    return
  fi
  log "starting dockerd (log: $DOCKERD_LOG)"
  setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
  for _ in $(seq 60); do
    if docker info >/dev/null 2>&1; then
      log "dockerd is up"
      return
    fi
    sleep 1
  done
  echo "docker_up: dockerd did not answer within 60 s; last lines of $DOCKERD_LOG:" >&2
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
