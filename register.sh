#!/usr/bin/env bash
# Package the workflows with an image and register them with flytectl, passing flytectl a config
# it can read. flytectl given a missing config falls back to ./config.yaml and
# /etc/flyte/config/config.yaml, then runs with no admin endpoint and panics with a nil pointer
# dereference; given a name not ending in .yaml/.yml it cannot parse it at all
# (flyteorg/flyte v1.16: flytectl/cmd/root.go initConfig, flytestdlib/config/files/finder.go).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: ./register.sh -i IMAGE [-v VERSION] [-c CONFIG] [-p PROJECT] [-d DOMAIN] [-h]

Runs `pyflyte --pkgs flyte.workflows package --image IMAGE` (.venv/bin/pyflyte if there is one) and then
`flytectl --config CONFIG register files ... --archive flyte-package.tgz --version VERSION`.

  -i IMAGE     the image the tasks run in, as built by ./docker_build_and_tag.sh
  -v VERSION   the version to register                 default: IMAGE's tag
  -c CONFIG    flytectl's config, a .yaml/.yml file    default: flytectl.yaml (the local sandbox)
  -p PROJECT   Flyte project                           default: flytesnacks
  -d DOMAIN    Flyte domain                            default: development
  -h           show this help
USAGE
}

die() {
  echo "register.sh: $*" >&2
  exit 1
}

image=""
version=""
config="flytectl.yaml"
project="flytesnacks"
domain="development"

while getopts "i:v:c:p:d:h" option; do
  case "$option" in
    i) image="$OPTARG" ;;
    v) version="$OPTARG" ;;
    c) config="$OPTARG" ;;
    p) project="$OPTARG" ;;
    d) domain="$OPTARG" ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(($# == 0)) || die "unexpected argument: $1 (see -h)"

cd "$(dirname "$0")"

[[ -n "$image" ]] || die "pass the image with -i IMAGE (./docker_build_and_tag.sh prints it)"
if [[ -z "$version" ]]; then
  [[ "${image##*/}" == *:* ]] || die "$image has no tag to use as the version; pass -v VERSION"
  version="${image##*:}"
fi
[[ -f "$config" ]] || die "flytectl config '$config' not found (from $(pwd)); without it flytectl panics with a nil pointer dereference. Pass an existing file with -c"
[[ "$config" == *.yaml || "$config" == *.yml ]] || die "flytectl reads only YAML configs named .yaml/.yml, not '$config' (flyte.config is pyflyte's INI file; flytectl's is flytectl.yaml)"
# The project's venv (the README's install) first: packaging imports the workflows, which need its packages.
if [[ -x .venv/bin/pyflyte ]]; then
  pyflyte=.venv/bin/pyflyte
else
  pyflyte="$(command -v pyflyte)" || die "pyflyte is not installed: neither .venv/bin/pyflyte (the README's quick start makes it) nor one on PATH"
fi
command -v flytectl >/dev/null || die "flytectl is not installed; see https://docs.flyte.org/en/latest/flytectl/overview.html"

"$pyflyte" --pkgs flyte.workflows package --image "$image" --force
flytectl --config "$config" register files --project "$project" --domain "$domain" --archive flyte-package.tgz --version "$version"
