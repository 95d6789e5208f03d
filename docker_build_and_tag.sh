#!/usr/bin/env bash
# Build and tag the image that Flyte runs this project's tasks in, then print the commands that
# package and register the workflows with exactly that image.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: ./docker_build_and_tag.sh [-a APP] [-r REGISTRY] [-v VERSION] [-b BASE_IMAGE] [-p] [-s] [-f] [-h]

Builds the image REGISTRY/APP:VERSION from ./Dockerfile and prints the `pyflyte package` and
`flytectl register files` commands for it.

  -a APP         image (application) name                      default: flyte-xgboost
  -r REGISTRY    registry prefix, e.g. localhost:30000 (the demo sandbox's registry)
                 or ghcr.io/my-org; empty means a local-only image  default: none
  -v VERSION     image tag, also the version to register        default: git HEAD short sha
  -b BASE_IMAGE  base image build argument                      default: the Dockerfile's
  -p             push the image after building (needs -r)
  -s             build inside the sandbox's own Docker daemon, as the Flyte tutorial does:
                 `flytectl demo exec -- docker build /root ...`; needs a sandbox started with
                 `--source .` whose image runs Docker (see docs/deploy.md)
  -f             build even if the work tree has uncommitted changes (the tag then does not
                 describe the code in the image)
  -h             show this help
USAGE
}

die() {
  echo "docker_build_and_tag.sh: $*" >&2
  exit 1
}

app="flyte-xgboost"
registry=""
version=""
base_image=""
push=false
in_sandbox=false
force=false

while getopts "a:r:v:b:psfh" option; do
  case "$option" in
    a) app="$OPTARG" ;;
    r) registry="${OPTARG%/}" ;;
    v) version="$OPTARG" ;;
    b) base_image="$OPTARG" ;;
    p) push=true ;;
    s) in_sandbox=true ;;
    f) force=true ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(($# == 0)) || die "unexpected argument: $1 (see -h)"

cd "$(dirname "$0")"

if [[ -z "$version" ]]; then
  version="$(git rev-parse --short HEAD 2>/dev/null)" \
    || die "cannot read the git HEAD sha for the default version; run inside the git repository or pass -v VERSION"
fi
# Everything that goes into the image; a change to any of these that is not committed makes the tag lie.
image_inputs=(Dockerfile .dockerignore requirements.txt requirements-build.txt flyte ':(exclude,glob)**/__pycache__/**')
if ! $force; then
  changes="$(git status --porcelain -- "${image_inputs[@]}" 2>/dev/null)" \
    || die "cannot check for uncommitted changes outside a git repository; pass -f to build anyway"
  if [[ -n "$changes" ]]; then
    git status --short -- "${image_inputs[@]}" >&2
    die "uncommitted changes (above) would go into the image, so tag $version would not describe it; commit them, or pass -f to build anyway"
  fi
fi
if $push; then
  [[ -n "$registry" ]] || die "-p pushes to a registry; pass one with -r REGISTRY"
  $in_sandbox && die "-p cannot push an image built inside the sandbox (-s); build locally to push"
fi

image="${registry:+$registry/}$app:$version"
build_args=(--tag "$image" --build-arg "FLYTE_IMAGE=$image")
[[ -n "$base_image" ]] && build_args+=(--build-arg "BASE_IMAGE=$base_image")

if $in_sandbox; then
  command -v flytectl >/dev/null || die "flytectl is not installed; see https://docs.flyte.org/en/latest/flytectl/overview.html"
  echo "Building $image inside the Flyte sandbox"
  # The Docker-in-Docker sandbox mounts the folder given to `flytectl sandbox start --source` at /root.
  flytectl demo exec -- docker build /root "${build_args[@]}"
else
  command -v docker >/dev/null || die "docker is not installed; install Docker Engine or Docker Desktop first"
  docker info >/dev/null 2>&1 || die "Docker is not running (\`docker info\` failed); start the Docker daemon or Docker Desktop"
  echo "Building $image"
  docker build "${build_args[@]}" .
  if $push; then
    docker push "$image"
  fi
fi

cat <<EOF

Built $image. Package and register the workflows with it:

  .venv/bin/pyflyte --pkgs flyte.workflows package --image $image --force
  flytectl --config flytectl.yaml register files --project flytesnacks --domain development --archive flyte-package.tgz --version $version

or both, after checking that flytectl's config exists and is YAML:

  ./register.sh -i $image

or, in one step with pyflyte (--copy none: the code comes from the image, as with the archive):

  .venv/bin/pyflyte --config flyte.config register --project flytesnacks --domain development --image $image --version $version --copy none flyte/workflows
EOF
