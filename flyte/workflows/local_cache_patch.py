"""A local cache hit whose output files are gone is a miss: a small, fenced patch of flytekit's LocalTaskCache.

Why: flytekit keeps the outputs of local task runs in temporary folders (under /tmp) that it never cleans up, but
its local cache (~/.flyte/local-cache) outlives them. When they vanish (a reboot, a tmp cleaner, a user), flytekit
1.16 still answers the lookup with the stored literals: the next task fails converting its inputs, or the workflow
returns a path that does not exist. Upstream: flyteorg/flyte#6393 ("Caching breaks when renaming files on local"),
and the open fix flyteorg/flytekit#3469 ("recompute tasks with missing local outputs"). The code path:
flytekit.core.base_task.PythonTask.local_execute calls LocalTaskCache.get(task_name, cache_version,
input_literal_map, cache_ignore_input_vars) and runs the task only if it returns None.

The fence: the patch applies only to the flytekit versions it was written and tested for (FLYTEKIT_VERSIONS) and
only while LocalTaskCache.get has the signature it wraps; otherwise it warns once and changes nothing.

Delete this module (and its call in flyte/workflows/__init__.py) once the flytekit the project pins treats missing
local outputs as a cache miss itself: tests/test_local_cache_patch.py fails then, naming the release.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import warnings
from importlib import metadata
from urllib.parse import urlparse

from flytekit.core.local_cache import LocalTaskCache
from flytekit.models.literals import Literal, LiteralMap

# flytekit (major, minor) releases whose LocalTaskCache this patch was written for and tested with.
FLYTEKIT_VERSIONS = {(1, 16)}
# The parameters of the LocalTaskCache.get it wraps, in order.
WRAPPED_PARAMETERS = ("task_name", "cache_version", "input_literal_map", "cache_ignore_input_vars")

_warned = False


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


def why_not_applicable(flytekit_version: str, lookup) -> str | None:
    """Why the patch must not touch this flytekit (another release, or a get it does not know), or None."""
    release = re.match(r"(\d+)\.(\d+)", flytekit_version)
    if release is None or (int(release.group(1)), int(release.group(2))) not in FLYTEKIT_VERSIONS:
        supported = ", ".join(f"{major}.{minor}.x" for major, minor in sorted(FLYTEKIT_VERSIONS))
        return f"it was written for flytekit {supported}, this is flytekit {flytekit_version}"
    try:
        parameters = tuple(inspect.signature(lookup).parameters)
    except (TypeError, ValueError):
        parameters = ()
    if parameters != WRAPPED_PARAMETERS:
        return f"LocalTaskCache.get takes {parameters}, not the {WRAPPED_PARAMETERS} it wraps"
    return None


def recompute_cache_hits_with_missing_outputs() -> bool:
    """Make the local cache treat a hit whose output files were deleted as a miss, so the task runs again.

    Returns whether the patch is in place; outside the fence it warns (once per process) and changes nothing.
    """
    global _warned
    lookup = LocalTaskCache.get
    if getattr(lookup, "checks_outputs_exist", False):
        return True
    reason = why_not_applicable(metadata.version("flytekit"), lookup)
    if reason is not None:
        if not _warned:
            _warned = True
            warnings.warn(
                f"flyte.workflows.local_cache_patch is not applied: {reason}. A local cache hit whose output files "
                "were deleted is returned as it is (flyteorg/flyte#6393); check whether this flytekit fixes it, "
                "then delete the patch or widen its fence (FLYTEKIT_VERSIONS).",
                RuntimeWarning,
                stacklevel=2,
            )
        return False

    @functools.wraps(lookup)
    def get_existing(task_name, cache_version, input_literal_map, cache_ignore_input_vars):
        outputs = lookup(task_name, cache_version, input_literal_map, cache_ignore_input_vars)
        return outputs if outputs is None or outputs_still_exist(outputs) else None

    get_existing.checks_outputs_exist = True
    LocalTaskCache.get = staticmethod(get_existing)
    return True
