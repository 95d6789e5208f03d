"""A local cache hit whose output files are gone is a miss: a small, fenced patch of flytekit's LocalTaskCache.

flytekit keeps local task outputs in /tmp folders it never cleans up; when they vanish, flytekit 1.16 still returns
the cached literals and the run fails later, or returns paths that do not exist.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from flytekit.core.local_cache import LocalTaskCache
from flytekit.models.literals import Literal, LiteralMap


def _local_paths(literal: Literal):
    """Local file and folder paths a literal's value points at (blobs and structured datasets)."""
    if literal.collection is not None:
        for item in literal.collection.literals:
            yield from _local_paths(item)
    elif literal.map is not None:
        for item in literal.map.literals.values():
            yield from _local_paths(item)
    elif literal.scalar is not None:
        uri = None
        if literal.scalar.blob is not None:
            uri = literal.scalar.blob.uri
        elif literal.scalar.structured_dataset is not None:
            uri = literal.scalar.structured_dataset.uri
        if uri and urlparse(uri).scheme in ("", "file"):
            yield urlparse(uri).path


def _outputs_still_exist(outputs: LiteralMap) -> bool:
    return all(os.path.exists(path) for literal in outputs.literals.values() for path in _local_paths(literal))


def recompute_cache_hits_with_missing_outputs() -> None:
    """Make the local cache treat a hit whose output files were deleted (flytekit keeps them in /tmp) as a miss.

    flytekit 1.16 returns such a hit as it is, and the run fails later or returns a path that does not exist.
    """
    lookup = LocalTaskCache.get
    if getattr(lookup, "checks_outputs_exist", False):
        return

    def get_existing(*args, **kwargs):
        outputs = lookup(*args, **kwargs)
        return outputs if outputs is None or _outputs_still_exist(outputs) else None

    get_existing.checks_outputs_exist = True
    LocalTaskCache.get = staticmethod(get_existing)
