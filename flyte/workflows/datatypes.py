"""The Flyte types the tasks pass between them, how a task reads a table, and the defaults the training workflows
share."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

from flytekit import Deck, FlyteContextManager, HashMethod, StructuredDataset, current_context, kwtypes
from flytekit.types.file import FlyteFile, HTMLPage

from flyte.atomic_write import atomic_output
from flyte.errors import InvalidSettingsError, quoted
from flyte.evaluation import Metrics
from flyte.hyperparameters import Hyperparameters
from flyte.model_file import Provenance, utc_now
from flyte.schema import COLUMN_TYPES, FEATURE_TYPES, LABEL
from flyte.workflows.files import check_local_location, file_cache_key

if TYPE_CHECKING:
    import pandas as pd

# Rows of the data set: the features and the label (the training and test splits).
LabelledPatients = Annotated[StructuredDataset, kwtypes(**COLUMN_TYPES)]
# The label column alone of labelled rows (what the score task reads of the test split).
Labels = Annotated[StructuredDataset, kwtypes(**{LABEL: int})]
# The predicted class and probability of diabetes of each row.
Predictions = Annotated[StructuredDataset, kwtypes(predicted=int, probability=float)]
# Patients to classify: their features with the predicted class and probability beside them.
ClassifiedPatients = Annotated[StructuredDataset, kwtypes(**FEATURE_TYPES, predicted=int, probability=float)]

# A trained model file (flyte.model_file's format: a JSON document).
ModelFile = FlyteFile[Annotated[str, "json"]]
# File inputs whose cache key is their content (local files) or their URI (remote files), never a temp path:
# the training data set, a CSV of patients to classify (features only), and a model file to classify them with.
DatasetFile = Annotated[FlyteFile, HashMethod(file_cache_key)]
PatientsFile = Annotated[FlyteFile[Annotated[str, "csv"]], HashMethod(file_cache_key)]
ModelFileInput = Annotated[ModelFile, HashMethod(file_cache_key)]


class Evaluation(NamedTuple):
    """What evaluating a model on the test rows gives: its accuracy, every metric and the report."""

    accuracy: float
    metrics: Metrics
    report: HTMLPage


class TrainedModel(NamedTuple):
    """What every training workflow returns, single-node or distributed: the model file, its evaluation, and
    whether it became the champion."""

    model: ModelFile
    accuracy: float
    metrics: Metrics
    report: HTMLPage
    promoted: bool


# The training workflows' split defaults, shared so that a tuned model and the default one see the same split.
DEFAULT_TEST_SPLIT_RATIO = 0.33
DEFAULT_SEED = 7


def execution_name() -> str:
    """The running Flyte execution as project:domain:name, or "local" under a local pyflyte run."""
    execution = current_context().execution_id
    name = f"{execution.project}:{execution.domain}:{execution.name}"
    return "local" if name == "local:local:local" else name


def model_provenance(
    dataset_source: str, training_rows: int, hyperparameters: Hyperparameters, seed: int
) -> Provenance:
    """What a fit task records in the model file about where the model came from: now, by this execution."""
    return Provenance(
        dataset_source=dataset_source,
        training_rows=training_rows,
        hyperparameters=asdict(hyperparameters),
        seed=seed,
        trained_at=utc_now(),
        execution_id=execution_name(),
    )


def check_workflow_input(value, python_type):
    """A workflow input as `pyflyte run` reads it (flyte.workflows.flytekit_workarounds), checked before any task runs:
    a local path the input cannot use, a whole number beyond the 64 bits Flyte stores. Returns the value."""
    check_local_location(value, python_type)
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise InvalidSettingsError(f"{quoted(value)} is out of range: give a whole number from -2**63 to 2**63 - 1")
    return value


def read_dataframe(table: StructuredDataset) -> pd.DataFrame:
    """A table input of a task as a pandas DataFrame. pandas is imported here, when a task reads a table, not when a
    workflow module is loaded: every pod and `pyflyte run` load the workflow modules, and not every task needs it."""
    import pandas as pd

    return table.open(pd.DataFrame).all()


def report_output(title: str, html: str, file_name: str) -> HTMLPage:
    """Show a report as the task's deck `title`, and return it as an HTML file output too: the console lists it with
    the execution's outputs and `pyflyte run` prints its path with the others, a click away instead of a deck to
    find. flyte.report is imported here, when a task renders a report, not when a workflow module is loaded."""
    from flyte.report import html_page

    Deck(title, html)
    path = Path(current_context().working_directory) / file_name
    with atomic_output(path, f"writing the {title} report") as temporary:
        temporary.write_text(html_page(title, html), encoding="utf-8")
    return HTMLPage(str(path), remote_path=stored_output_path(path))


def stored_output_path(local_path: str | Path) -> str | None:
    """Where a task's file output is stored: under the run's raw output prefix when that is remote, else None
    (flytekit's own choice). A local `pyflyte run --raw-output-data-prefix s3://...` uploads a file output only when
    given its place (flytekit 1.16: FlyteFilePathTransformer.to_literal); in a pod this is the place flytekit would
    pick itself."""
    file_access = FlyteContextManager.current_context().file_access
    if not file_access.is_remote(file_access.raw_output_prefix):
        return None
    return file_access.get_random_remote_path(Path(local_path).name)
