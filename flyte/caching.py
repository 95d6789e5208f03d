"""What makes the local and remote task caches safe: versions that follow the code, keys that follow the data."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse

from flytekit.core.cache import Cache, CachePolicy, VersionParameters
from flytekit.core.local_cache import LocalTaskCache
from flytekit.models.literals import Literal, LiteralMap

from flyte.versions import installed_versions

PROJECT_ROOT = Path(__file__).parent
# Libraries whose version can change a task's results or its deck.
RESULT_LIBRARIES = ("xgboost", "scikit-learn", "pandas", "numpy", "pyarrow", "matplotlib", "joblib", "flytekit")


def project_digest(root: Path = PROJECT_ROOT) -> str:
    """SHA-256 over every Python source file of the project and the versions of the libraries it computes with."""
    digest = hashlib.sha256()
    for source in sorted(root.rglob("*.py")):
        digest.update(source.relative_to(root).as_posix().encode())
        digest.update(source.read_bytes().replace(b"\r\n", b"\n"))
    for library, version in installed_versions(RESULT_LIBRARIES).items():
        digest.update(f"{library}=={version}".encode())
    return digest.hexdigest()


class ProjectSourcePolicy(CachePolicy):
    """Cache version = digest of the project's code and libraries: any code change gets fresh outputs."""

    def get_version(self, salt: str, params: VersionParameters) -> str:
        return hashlib.sha256((salt + project_digest()).encode()).hexdigest()


PROJECT_CACHE = Cache(policies=ProjectSourcePolicy())


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
