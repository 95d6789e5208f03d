"""This run's object store settings, from flytekit's own data configuration: FLYTE_AWS_ENDPOINT,
FLYTE_AWS_ACCESS_KEY_ID and FLYTE_AWS_SECRET_ACCESS_KEY, or the storage section of the Flyte config (what the
sandbox gives every pod). flytekit reads and writes its inputs and outputs with them; the project's own code
(flyte/*.py, the Dask workers) gets them from here as a plain dict, so that one configuration serves pyflyte, the
task pods and the workers alike.
"""

from __future__ import annotations

from typing import Any

from flytekit.configuration import DataConfig
from flytekit.core.data_persistence import get_fsspec_storage_options
from fsspec.utils import get_protocol

from flyte.storage import StorageOptions

# The object stores flytekit configures (flytekit.configuration.DataConfig).
OBJECT_STORE_PROTOCOLS = ("s3", "gs", "abfs", "abfss")


def storage_options(uri: str) -> dict[str, Any]:
    """The fsspec settings for `uri`'s store, as flytekit opens it with its data configuration (the FLYTE_AWS_*
    variables, or the storage section of the config file FLYTECTL_CONFIG names or ~/.flyte/config.yaml):
    `fsspec.open(uri, **storage_options(uri))`. Empty for a local path or an http(s) URL."""
    protocol = get_protocol(uri)
    if protocol not in OBJECT_STORE_PROTOCOLS:
        return {}
    return get_fsspec_storage_options(protocol, DataConfig.auto())


def storage_options_by_protocol() -> StorageOptions:
    """storage_options for every object store, by protocol: what the plain functions of flyte/*.py take (they may
    read from one store and write to another, or to disk)."""
    return {protocol: storage_options(f"{protocol}://") for protocol in OBJECT_STORE_PROTOCOLS}
