"""Where a task finds the model registry (flyte.registry): the location the user set, else on a cluster a prefix of
the blob store its outputs go to, else the user's own local folder; opened with the run's storage settings."""

from __future__ import annotations

from flytekit import FlyteContextManager

from flyte.registry import ModelRegistry, blob_store_location, configured_location, default_local_location
from flyte.workflows.storage import storage_options_by_protocol


def registry_location() -> str:
    """DIABETES_MODEL_REGISTRY if set; else s3://<bucket>/model-registry of the bucket the run writes its outputs
    to (a cluster run); else the local default folder."""
    raw_output_prefix = FlyteContextManager.current_context().file_access.raw_output_prefix
    return configured_location() or blob_store_location(raw_output_prefix) or str(default_local_location())


def open_registry() -> ModelRegistry:
    """The registry this run records its model in."""
    return ModelRegistry(registry_location(), storage_options_by_protocol())
