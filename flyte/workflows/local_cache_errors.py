"""A local cache that cannot be used (a read-only ~/.flyte, a full disk, a corrupt database) is named in the error.

flytekit's LocalTaskCache keeps its diskcache (SQLite) database in ~/.flyte/local-cache and lets sqlite3's own
errors through, such as "attempt to write a readonly database", which name no path.
"""

from __future__ import annotations

import functools
import os
import sqlite3

from flytekit.core.local_cache import CACHE_LOCATION, LocalTaskCache


class LocalCacheUnavailableError(RuntimeError):
    """flytekit's local cache database cannot be read or written; the message names its folder and the way out."""


def _explained(operation):
    @functools.wraps(operation)
    def explained(*args, **kwargs):
        try:
            return operation(*args, **kwargs)
        except (sqlite3.Error, OSError) as error:
            folder = os.path.expanduser(CACHE_LOCATION)
            raise LocalCacheUnavailableError(
                f"flytekit's local cache {folder} cannot be used ({type(error).__name__}: {error}); make the folder "
                "writable (or delete it to start an empty cache), set HOME to a writable folder, or run without "
                "the local cache: FLYTE_LOCAL_CACHE_ENABLED=false pyflyte run ..."
            ) from error

    explained.names_the_cache = True
    return explained


def name_the_cache_in_its_errors() -> None:
    """Wrap LocalTaskCache's initialize (which opens, and so writes, the database: a read-only one fails there) and
    set so that their database errors name the cache folder. get is left to local_cache_patch, which wraps it."""
    for name in ("initialize", "set"):
        operation = getattr(LocalTaskCache, name)
        if not getattr(operation, "names_the_cache", False):
            setattr(LocalTaskCache, name, staticmethod(_explained(operation)))
