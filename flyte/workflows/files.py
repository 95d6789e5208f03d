"""Input files as Flyte files: a cache key that follows their content, where they came from, the bundled data set as
the default, and a dataset download that explains failures."""

from __future__ import annotations

import hashlib
import os
import socket
import types
import typing
from urllib.parse import urlparse

from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile

from flyte.bundled import BUNDLED_DATASET
from flyte.digest import file_sha256
from flyte.errors import UserInputError
from flyte.storage import StorageError, check_readable
from flyte.workflows.storage import OBJECT_STORE_PROTOCOLS, storage_options_by_protocol


class DatasetUnavailableError(UserInputError, RuntimeError):
    """The dataset could not be fetched; the message says how to pass a local copy instead."""


def _as_flyte_file(dataset: FlyteFile | str | os.PathLike) -> FlyteFile:
    return dataset if isinstance(dataset, FlyteFile) else FlyteFile(os.fspath(dataset))


def is_local(dataset: FlyteFile | str | os.PathLike) -> bool:
    """True for a path on this machine, False for an http(s)://, s3:// or other remote URI."""
    return urlparse(os.fspath(_as_flyte_file(dataset).path)).scheme in ("", "file")


def source_of(file: FlyteFile) -> str:
    """Where a file came from, for messages: its remote URI once flytekit has localized it, else its path."""
    return file.remote_source or file.path


def dataset_or_bundled(dataset: FlyteFile | FlyteDirectory | None) -> FlyteFile | FlyteDirectory:
    """The given dataset (a file, or the distributed workflow's folder of shards), or with none the data set bundled
    with the code (flyte/data; in the image on a cluster). Every training workflow's default goes through here.

    Resolved inside the task, never as a workflow default: a local path as a default would be serialized into the
    launch plans at packaging. The cache version digests the bundled file (flyte.workflows.caching): a None input
    is keyed by its content.
    """
    if dataset is not None:
        return dataset
    if not BUNDLED_DATASET.is_file():
        raise DatasetUnavailableError(
            f"no --dataset given and the bundled data set {BUNDLED_DATASET} is missing from this copy of the code "
            "(an image built before it was added?); rebuild the image or pass --dataset URL_OR_PATH"
        )
    return FlyteFile(str(BUNDLED_DATASET))


def download(file: FlyteFile) -> str:
    """The file's local path, downloading it first if it is remote. A file in an object store is looked up first
    with the run's storage settings: a missing bucket or object, refused keys or a store that does not answer raise
    flyte.storage.StorageError, which names them (flytekit's own download says "File not found" to all of them)."""
    source = source_of(file)
    if urlparse(source).scheme in OBJECT_STORE_PROTOCOLS:
        check_readable(source, storage_options_by_protocol())
    return file.download()


def check_local_location(value, python_type) -> None:
    """Refuse a local path that a file (or folder) input cannot use, naming the problem and the way out: missing, a
    folder where a file is wanted, unreadable. pyflyte run itself takes a missing path or a folder given to an Optional
    file input as text, which fails converting the workflow's inputs with a message naming neither."""
    kinds = _location_kinds(python_type)
    path = value.path if isinstance(value, (FlyteFile, FlyteDirectory)) else value
    if not kinds or not isinstance(path, (str, os.PathLike)) or not is_local(os.fspath(path)):
        return
    if not os.path.exists(path):
        what = "file or folder" if FlyteDirectory in kinds else "file"
        raise UserInputError(f"{path}: no such {what}; check the path, or leave the option out to train on the "
                             "data set bundled with the code")  # fmt: skip
    if os.path.isdir(path) and FlyteDirectory not in kinds:
        raise UserInputError(f"{path} is a folder; this workflow trains on one CSV file (the distributed workflow, "
                             "diabetes_xgboost_model_distributed, trains on a folder of CSV shards)")  # fmt: skip
    try:
        os.listdir(path) if os.path.isdir(path) else open(path, "rb").close()
    except OSError as error:
        raise UserInputError(f"{path} cannot be read ({error.strerror}); make it readable or pass a copy") from None


def _location_kinds(python_type) -> set[type]:
    """FlyteFile and FlyteDirectory, as far as a type (Optional, a Union, Annotated) takes them."""
    origin, args = typing.get_origin(python_type), typing.get_args(python_type)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return set().union(*map(_location_kinds, args[:1] if origin is typing.Annotated else args))
    return {kind for kind in (FlyteFile, FlyteDirectory)
            if isinstance(python_type, type) and issubclass(python_type, kind)}


def fetch_dataset(dataset: FlyteFile) -> str:
    """The dataset's local path, downloading it first if it is remote (download)."""
    source = source_of(dataset)
    try:
        local_path = download(dataset)
    except StorageError:  # it names the store's reason already
        raise
    except Exception as error:  # flytekit wraps network, fsspec and auth errors alike
        raise DatasetUnavailableError(
            f"could not read the dataset {source}: {why_unreachable(source, error)}\n"
            "Train on the data set bundled with the code by leaving out --dataset, or pass a local copy: "
            "--dataset path/to/pima-indians-diabetes.data.csv"
        ) from error
    return local_path


def why_unreachable(url: str, error: BaseException) -> str:
    """What stopped a download, from the root of the error chain: flytekit reports any failure as "File not found".

    A name that does not resolve and a refused connection name the host (and port); anything else gives the
    innermost error's own message.
    """
    chain = [error]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None and cause not in chain:
        chain.append(cause)
    location = urlparse(url)
    host = location.hostname or url
    for cause in chain:
        if isinstance(cause, socket.gaierror):
            return f"the host {host} could not be found ({cause.strerror or cause}): no network, or a wrong name"
        if isinstance(cause, ConnectionRefusedError):
            port = location.port or {"https": 443, "http": 80}.get(location.scheme, "")
            return f"the host {host} refused the connection on port {port}: nothing serves the file there"
        if isinstance(cause, TimeoutError):
            return f"the host {host} did not answer in time"
        if isinstance(cause, FileNotFoundError):
            return f"{host} has no file at that address"
    root = chain[-1]
    return f"{type(root).__name__}: {root}"


def file_cache_key(file: FlyteFile | str | os.PathLike) -> str:
    """A local file's content SHA-256, so editing a CSV or model in place gives fresh results; a remote file's URI
    with the version its store reports (ETag, version id, size, modification time), so that an object overwritten
    in place is a cache miss too.

    The key is also computed where the store cannot be asked (packaging with no network, a store down, refused
    keys): then the URI alone. A run that reads the file fails there with the store's reason (fetch_dataset).
    """
    file = _as_flyte_file(file)
    path = os.fspath(file.path)
    if is_local(file):
        return file_sha256(path) if os.path.isfile(path) else "missing:" + path
    try:
        version = check_readable(path, storage_options_by_protocol())
    except Exception:  # any failure to ask: the URI alone, as documented above
        return "uri-sha256:" + hashlib.sha256(path.encode()).hexdigest()
    return "version-sha256:" + hashlib.sha256(f"{path}\0{version}".encode()).hexdigest()
