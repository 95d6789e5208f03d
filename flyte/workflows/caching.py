"""The tasks' cache version: it follows every byte of the project's code and the versions of its libraries."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flytekit.core.cache import Cache, CachePolicy, VersionParameters

from flyte.bundled import BUNDLED_DATA_DIR
from flyte.versions import installed_versions

# The `flyte` package: every Python file under it and the bundled data are part of the cache version; the data
# because a dataset input of None (the bundled data set) is keyed by the None literal alone.
PACKAGE_DIR = Path(__file__).resolve().parent.parent
BUNDLED_DATA = BUNDLED_DATA_DIR.relative_to(PACKAGE_DIR).as_posix() + "/*.csv"
# Libraries whose version can change a task's results or its deck.
RESULT_LIBRARIES = (
    "xgboost", "scikit-learn", "pandas", "numpy", "pyarrow", "matplotlib", "joblib", "flytekit", "dask", "distributed",
)


def project_digest(root: Path = PACKAGE_DIR) -> str:
    """SHA-256 over every Python source file of the project, its bundled data and the versions of the libraries it
    computes with."""
    digest = hashlib.sha256()
    for source in sorted([*root.rglob("*.py"), *root.glob(BUNDLED_DATA)]):
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
