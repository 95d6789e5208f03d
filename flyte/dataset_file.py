"""The dataset input as a Flyte file: a cache key that follows its content, and a download that explains failures."""

from __future__ import annotations

import hashlib
import os
from typing import Annotated
from urllib.parse import urlparse

from flytekit import HashMethod
from flytekit.types.file import FlyteFile

from flyte.dataset import file_sha256


class DatasetUnavailableError(RuntimeError):
    """The dataset could not be fetched; the message says how to pass a local copy instead."""


def _as_flyte_file(dataset: FlyteFile | str | os.PathLike) -> FlyteFile:
    return dataset if isinstance(dataset, FlyteFile) else FlyteFile(os.fspath(dataset))


def is_local(dataset: FlyteFile | str | os.PathLike) -> bool:
    """True for a path on this machine, False for an http(s)://, s3:// or other remote URI."""
    return urlparse(os.fspath(_as_flyte_file(dataset).path)).scheme in ("", "file")


def fetch_dataset(dataset: FlyteFile) -> str:
    """The dataset's local path, downloading it first if it is remote."""
    try:
        local_path = dataset.download()
    except Exception as error:  # flytekit wraps network, fsspec and auth errors alike
        raise DatasetUnavailableError(
            f"could not read the dataset {dataset.remote_source or dataset.path}: {error}\n"
            "Without network access, pass a local copy: "
            "pyflyte run flyte/workflows/example.py diabetes_xgboost_model --dataset path/to/pima-indians-diabetes.data.csv"
        ) from error
    return local_path


def dataset_cache_key(dataset: FlyteFile | str | os.PathLike) -> str:
    """A local file's content SHA-256, so editing the CSV in place gives fresh results; a remote file's URI.

    Remote files are keyed by URI because the key is also computed when a workflow is packaged, with no network.
    """
    dataset = _as_flyte_file(dataset)
    if not is_local(dataset):
        return "uri-sha256:" + hashlib.sha256(os.fspath(dataset.path).encode()).hexdigest()
    return file_sha256(fetch_dataset(dataset)) if os.path.isfile(dataset.path) else "missing:" + os.fspath(dataset.path)


# A CSV file whose cache key is its content (local files) or its URI (remote files), never a temp path.
DatasetFile = Annotated[FlyteFile, HashMethod(dataset_cache_key)]
