"""A local cache hit whose output files are gone is a miss: a small, fenced patch of flytekit's LocalTaskCache.

Why: flytekit keeps the outputs of local task runs in temporary folders (under /tmp) that it never cleans up, but
its local cache (~/.flyte/local-cache) outlives them. When they vanish (a reboot, a tmp cleaner, a user), flytekit
1.16 still answers the lookup with the stored literals: the next task fails converting its inputs, or the workflow
returns a path that does not exist. Upstream: flyteorg/flyte#6393 ("Caching breaks when renaming files on local"),
and the open fix flyteorg/flytekit#3469 ("recompute tasks with missing local outputs"). The code path:
flytekit.core.base_task.PythonTask.local_execute calls LocalTaskCache.get(task_name, cache_version,
input_literal_map, cache_ignore_input_vars) and runs the task only if it returns None.

The fence (flyte.workflows.flytekit_patch): the patch applies only to flytekit 1.16.x and only while
LocalTaskCache.get has the parameters it wraps; otherwise it warns once and changes nothing.

Delete this module (and its call in flyte/workflows/__init__.py) once the flytekit the project pins treats missing
local outputs as a cache miss itself: tests/test_local_cache_patch.py fails then.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from flytekit.core.local_cache import LocalTaskCache
from flytekit.models.literals import Literal, LiteralMap

from flyte.workflows.flytekit_patch import FlytekitPatch


def _local_paths(literal: Literal):
    """Local file and folder paths a literal's value lives in: blobs, structured datasets and offloaded literals."""
    uris = []
    if literal.offloaded_metadata is not None:
        uris.append(literal.offloaded_metadata.uri)
    if literal.collection is not None:
        for item in literal.collection.literals:
            yield from _local_paths(item)
    elif literal.map is not None:
        for item in literal.map.literals.values():
            yield from _local_paths(item)
    elif literal.scalar is not None:
        if literal.scalar.blob is not None:
            uris.append(literal.scalar.blob.uri)
        elif literal.scalar.structured_dataset is not None:
            uris.append(literal.scalar.structured_dataset.uri)
    for uri in uris:
        if uri and urlparse(uri).scheme in ("", "file"):
            yield urlparse(uri).path


def outputs_still_exist(outputs: LiteralMap) -> bool:
    """True when every local file, folder or offloaded value the outputs point at is still there."""
    return all(os.path.exists(path) for literal in outputs.literals.values() for path in _local_paths(literal))


def _missing_outputs_are_a_miss(get):
    """LocalTaskCache.get, answering None (a miss: the task runs again) for a hit whose outputs were deleted."""

    def get_existing(task_name, cache_version, input_literal_map, cache_ignore_input_vars):
        outputs = get(task_name, cache_version, input_literal_map, cache_ignore_input_vars)
        return outputs if outputs is None or outputs_still_exist(outputs) else None

    return get_existing


LOCAL_CACHE_PATCH = FlytekitPatch(
    name="flyte.workflows.local_cache_patch",
    owner=LocalTaskCache,
    method="get",
    parameters=("task_name", "cache_version", "input_literal_map", "cache_ignore_input_vars"),
    versions=frozenset({(1, 16)}),
    wrap=_missing_outputs_are_a_miss,
    unpatched="A local cache hit whose output files were deleted is returned as it is (flyteorg/flyte#6393)",
)


def recompute_cache_hits_with_missing_outputs() -> bool:
    """Make the local cache treat a hit whose output files were deleted as a miss, so the task runs again; returns
    whether the patch is in place."""
    return LOCAL_CACHE_PATCH.apply()
