"""The SHA-256 of a file: a data set's identity in the cache keys, the model file and the model card. No Flyte and
no pyarrow here, so that a cached run, which only keys its inputs, loads neither the CSV reader nor the split."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
