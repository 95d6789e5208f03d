"""Table outputs written whole or not at all: a local Parquet output is written under a temporary folder name and
renamed when complete, and a failed write (a full disk) names the path instead of a bare "No space left on device".

flytekit's own encoder writes `<folder>/00000` in place and leaves a partial file behind when the write fails.
Remote outputs (s3://, gs://) keep flytekit's encoder: an object store never shows a partly uploaded object.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
from flytekit import FlyteContext, StructuredDatasetTransformerEngine
from flytekit.models import literals
from flytekit.models.types import StructuredDatasetType
from flytekit.types.structured.basic_dfs import ArrowToParquetEncodingHandler
from flytekit.types.structured.structured_dataset import PARQUET, StructuredDataset, StructuredDatasetEncoder

from flyte.atomic_write import temporary_name, write_failed


class AtomicLocalParquetEncoder(ArrowToParquetEncodingHandler):
    """flytekit's pyarrow Table -> Parquet encoder, for local paths, writing into a folder renamed when complete."""

    def __init__(self) -> None:
        StructuredDatasetEncoder.__init__(self, pa.Table, "file", PARQUET)

    def encode(
        self, ctx: FlyteContext, structured_dataset: StructuredDataset, structured_dataset_type: StructuredDatasetType
    ) -> literals.StructuredDataset:
        final = structured_dataset.uri or ctx.file_access.join(
            ctx.file_access.raw_output_prefix, ctx.file_access.get_random_string()
        )
        if ctx.file_access.is_remote(final):
            return super().encode(ctx, structured_dataset, structured_dataset_type)
        final = final.removeprefix("file://")
        temporary = temporary_name(final)
        structured_dataset.uri = str(temporary)
        try:
            written = super().encode(ctx, structured_dataset, structured_dataset_type)
            os.replace(temporary, final)
        except OSError as error:
            raise write_failed(error, f"writing a table output of {_task_name(ctx)} as Parquet", final) from error
        finally:
            structured_dataset.uri = final
            shutil.rmtree(temporary, ignore_errors=True)
            if Path(final).is_dir() and not any(Path(final).iterdir()):
                Path(final).rmdir()  # an empty folder made before the failure
        return literals.StructuredDataset(uri=final, metadata=written.metadata)


def _task_name(ctx: FlyteContext) -> str:
    """'task NAME' for messages on a cluster; 'a task' locally, where flytekit names every task 'local'."""
    task_id = ctx.user_space_params.task_id if ctx.user_space_params else None
    return f"task {task_id.name}" if task_id and task_id.name not in ("", "local") else "a task"


def write_local_parquet_outputs_atomically() -> None:
    """Register AtomicLocalParquetEncoder for pyarrow Tables on local paths (the split task's outputs). Idempotent."""
    StructuredDatasetTransformerEngine.register(AtomicLocalParquetEncoder(), override=True)
