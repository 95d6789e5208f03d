"""The Flyte types the tasks pass between them, how a task reads a table, and the defaults the training workflows
share."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NamedTuple

from flytekit import Deck, HashMethod, StructuredDataset, current_context, kwtypes
from flytekit.types.file import FlyteFile, HTMLPage

from flyte.atomic_write import atomic_output
from flyte.evaluation import Metrics
from flyte.hyperparameters import Hyperparameters
from flyte.model_card import ModelCard
from flyte.schema import COLUMN_TYPES, FEATURE_TYPES, LABEL
from flyte.workflows.files import file_cache_key

if TYPE_CHECKING:
    import pandas as pd

    from flyte.model_file import SavedModel

# Rows of the data set: the 8 features and the label (the training and test splits).
LabelledPatients = Annotated[StructuredDataset, kwtypes(**COLUMN_TYPES)]
# The label column alone of labelled rows (what the score task reads of the test split).
Labels = Annotated[StructuredDataset, kwtypes(**{LABEL: int})]
# The predicted class and probability of diabetes of each row.
Predictions = Annotated[StructuredDataset, kwtypes(predicted=int, probability=float)]
# Patients to classify: their 8 features with the predicted class and probability beside them.
ClassifiedPatients = Annotated[StructuredDataset, kwtypes(**FEATURE_TYPES, predicted=int, probability=float)]

# A trained model file (flyte.model_file's format).
ModelFile = FlyteFile[Annotated[str, "joblib"]]
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
    """What every training workflow returns, single-node or distributed: the model file and its evaluation."""

    model: ModelFile
    accuracy: float
    metrics: Metrics
    report: HTMLPage


# The training workflows' split defaults, shared so that a tuned model and the default one see the same split.
DEFAULT_TEST_SPLIT_RATIO = 0.33
DEFAULT_SEED = 7


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
    return HTMLPage(str(path))


def model_card(saved: SavedModel, test_rows: int) -> ModelCard:
    """The card of a model being scored: what its file records (the data set's digest, the library versions) and
    the classifier's own settings and seed; dated now, in the running execution ("local" in a local run). The model
    file does not record the data set's source or the training rows yet: None, "not recorded"."""
    settings = saved.classifier.get_params()
    execution = current_context().execution_id
    execution_id = ":".join((execution.project, execution.domain, execution.name))
    return ModelCard(
        dataset_source=None,
        dataset_sha256=saved.training_data_sha256,
        training_rows=None,
        test_rows=test_rows,
        # The user's settings (Hyperparameters) among the classifier's; a gblinear model has no max_depth.
        hyperparameters={
            setting.name: settings[setting.name]
            for setting in fields(Hyperparameters)
            if settings[setting.name] is not None
        },
        seed=settings["random_state"],
        library_versions=saved.library_versions,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        execution_id="local" if execution_id == "local:local:local" else execution_id,
    )
