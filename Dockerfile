# The image Flyte runs the diabetes XGBoost tasks in.
# Build it with ./docker_build_and_tag.sh, which sets the tag and FLYTE_INTERNAL_IMAGE consistently.
# Any Debian-based image with Python 3.11 and its venv module works as the base (CI uses a local one).
ARG BASE_IMAGE=python:3.11-slim-bookworm

# One stage, ordered so that a new version (code or tag) rebuilds only the last layer, never the venv's.
# PYTHONPATH: the code lives in /app, the working directory, where pyflyte-execute finds `flyte.workflows.example`
# by itself; the Dask scheduler and worker pods run `dask-scheduler` and `dask-worker`, which import the functions
# a task sends them (flyte.distributed, flyte.shards) and only find /app through PYTHONPATH.
# The user owns /app because `pyflyte run --remote` unpacks newer code there (fast registration).
FROM ${BASE_IMAGE}
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 1000 --user-group flyte \
    && install --directory --owner=flyte --group=flyte /app
WORKDIR /app

# The venv: the locked dependencies (requirements.txt: every package pinned, with its hashes), installed by uv
# (requirements-build.txt, also hashed), which fetches and unpacks the wheels in parallel and compiles their bytecode
# here, not in every pod; uv and the lock files are gone by the end of the same step, so the image carries no
# installer cache. All of them ship binary wheels, so no compiler is needed; xgboost-cpu is the CPU-only build of
# xgboost, without the large NVIDIA NCCL library that the plain xgboost wheel pulls in. The libraries' own test
# suites are dropped: nothing imports them at run time.
# Flyte's Dask backend plugin (flyteorg/flyte v1.16, flyteplugins/go/tasks/plugins/k8s/dask/dask.go) starts the
# scheduler pod as `dask-scheduler` and each worker pod as `dask-worker --name ... --nthreads N --memory-limit M`;
# distributed 2026.6 removed those two commands in favour of `dask scheduler` and `dask worker` (the plugin follows
# only from Flyte 2 on, flyteorg/flyte#7707). Two wrappers keep the pods of a Flyte 1 cluster starting.
COPY requirements.txt requirements-build.txt /tmp/
RUN python3 -m venv /tmp/installer \
    && /tmp/installer/bin/pip install --quiet --no-cache-dir --disable-pip-version-check --only-binary=:all: \
         --require-hashes -r /tmp/requirements-build.txt \
    && python3 -m venv /opt/venv \
    && /tmp/installer/bin/uv pip install --no-cache --python /opt/venv/bin/python --only-binary :all: \
         --require-hashes --compile-bytecode -r /tmp/requirements.txt \
    && rm -rf /tmp/installer /tmp/requirements.txt /tmp/requirements-build.txt \
    && find /opt/venv -depth -type d -name tests -exec rm -rf {} + \
    && for command in scheduler worker; do \
         printf '#!/bin/sh\nexec /opt/venv/bin/dask %s "$@"\n' "$command" > "/opt/venv/bin/dask-$command"; \
         chmod 755 "/opt/venv/bin/dask-$command"; \
       done

# matplotlib's font cache, built once here rather than in every scoring task (its cost: docs/performance.md); matplotlib
# only uses a cache folder its user can write.
ENV MPLCONFIGDIR=/opt/matplotlib
RUN python -c "import matplotlib.font_manager" && chown -R flyte:flyte /opt/matplotlib
# The image's own name and tag; flytekit uses it as the default image of anything serialized in here.
ARG FLYTE_IMAGE=flyte-xgboost:latest
ENV FLYTE_INTERNAL_IMAGE=${FLYTE_IMAGE}
COPY --chown=flyte:flyte flyte ./flyte
USER 1000:1000
