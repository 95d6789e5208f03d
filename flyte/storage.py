"""Files on disk and in object stores (s3://, gs://, ...) alike, opened with the storage settings the Flyte layer
hands down (flyte.workflows.storage: flytekit's data configuration), never with fsspec's defaults; no Flyte here.

Settings travel as a plain dict by protocol, so that the same ones reach every process that opens a location: the
task's own and the Dask workers'.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import fsspec
from fsspec.core import url_to_fs
from fsspec.utils import get_protocol

from flyte.errors import UserInputError

# fsspec settings by protocol, e.g. {"s3": {"key": ..., "secret": ..., "client_kwargs": {"endpoint_url": ...}}}.
StorageOptions = Mapping[str, Mapping[str, Any]]
# What a store reports about an object that changes when its bytes change (S3, GCS, Azure, HTTP).
VERSION_FIELDS = (
    "size", "ETag", "etag", "VersionId", "md5Hash", "generation", "LastModified", "last_modified", "mtime", "updated",
    "Content-MD5", "Digest", "Last-Modified",
)


class StorageError(UserInputError):
    """A location could not be read: no such bucket or object, keys the store refuses, a store that does not answer.
    The message names the location, the store and the way out."""


def is_local(uri: str) -> bool:
    """True for a path on this machine, False for an s3://, gs://, http(s):// or other remote location."""
    return get_protocol(uri) in ("file", "local")


def filesystem(uri: str, storage_options: StorageOptions) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem holding `uri`, opened with the settings for its protocol, and the path of `uri` in it.

    Without a listings cache: fsspec keeps one filesystem per settings in a process, and a listing it cached would
    hide an object overwritten or added since (a stale version, a shard missed)."""
    protocol = get_protocol(uri)
    return url_to_fs(uri, **{**storage_options.get(protocol, {}), "use_listings_cache": False})


def version_facts(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """What the store reports about the object at `path` that changes whenever its bytes change, as a JSON string."""
    info = fs.info(path)
    return json.dumps({field: str(info[field]) for field in VERSION_FIELDS if info.get(field) is not None},
                      sort_keys=True)


def storage_error(uri: str, error: BaseException, endpoint: str | None = None) -> StorageError | None:
    """The StorageError that says why reading `uri` failed with `error` (from an fsspec call), or None when the
    error is not about the location (a bug keeps its own error). `endpoint` names the store in the message."""
    store = f"the store at {endpoint}" if endpoint else "the store"
    if isinstance(error, FileNotFoundError):
        if "specified bucket does not exist" in str(error).lower():  # S3's NoSuchBucket
            return StorageError(f"{uri}: {store} has no such bucket; check the bucket's name, or create it")
        return StorageError(f"{uri}: {store} has no object at that key; check the path")
    if isinstance(error, PermissionError) or type(error).__name__ == "NoCredentialsError":
        return StorageError(
            f"{uri}: {store} refused the access key (none, a wrong key or secret, or no right to this bucket); set "
            "the right ones in FLYTE_AWS_ACCESS_KEY_ID and FLYTE_AWS_SECRET_ACCESS_KEY, or the storage section of the "
            "Flyte config"
        )
    if _is_unanswered(error):
        return StorageError(
            f"{uri}: {store} did not answer ({type(error).__name__}: {error}); check the endpoint in "
            "FLYTE_AWS_ENDPOINT or the storage section of the Flyte config, and that the store is running"
        )
    return None


def _is_unanswered(error: BaseException) -> bool:
    """True when the store could not be reached or stopped answering: a refused or timed-out connection, anywhere
    in the error's chain (botocore's connection errors, aiohttp's, the socket's)."""
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        if isinstance(error, (ConnectionError, TimeoutError)):
            return True
        if any(base.__name__ in ("ConnectionError", "ConnectTimeoutError", "ReadTimeoutError")
               for base in type(error).__mro__):
            return True
        error = error.__cause__ or error.__context__
    return False


@contextmanager
def named_storage_errors(uri: str, storage_options: StorageOptions) -> Iterator[None]:
    """Raise what a store refused while reading or writing `uri` inside as a StorageError (storage_error); any other
    error passes unchanged."""
    try:
        yield
    except Exception as error:
        described = storage_error(uri, error, endpoint_of(storage_options.get(get_protocol(uri), {})))
        if described is None:
            raise
        raise described from error


def check_readable(uri: str, storage_options: StorageOptions) -> str:
    """The version facts of the object at `uri` (version_facts), asked of its store: so that a missing bucket or
    object, refused keys or a store that does not answer raise a StorageError before any work starts."""
    fs, path = filesystem(uri, storage_options)
    with named_storage_errors(uri, storage_options):
        return version_facts(fs, path)


def endpoint_of(options: Mapping[str, Any]) -> str | None:
    """The endpoint URL in an s3fs setting, if one is set."""
    return (options.get("client_kwargs") or {}).get("endpoint_url") or options.get("endpoint_url")
