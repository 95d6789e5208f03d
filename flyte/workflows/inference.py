"""Batch inference: a trained model file and a CSV of patients (features only) -> a table and a CSV of predictions."""

from datetime import timedelta
from typing import Annotated, NamedTuple

from flytekit import Resources, StructuredDataset, current_context, task, workflow
from flytekit.types.file import FlyteFile

from flyte.atomic_write import atomic_output
from flyte.cpus import size_arrow_pools
from flyte.workflows.caching import PROJECT_CACHE
from flyte.workflows.datatypes import ClassifiedPatients, ModelFileInput, PatientsFile, stored_output_path
from flyte.workflows.files import download, source_of
from flyte.workflows.flytekit_workarounds import apply_flytekit_workarounds
from flyte.workflows.user_errors import user_errors_without_traceback

apply_flytekit_workarounds()
size_arrow_pools()  # pyarrow's threads: the CPUs this task's process may use, not the node's cores


class BatchPredictions(NamedTuple):
    predictions: ClassifiedPatients
    predictions_csv: FlyteFile[Annotated[str, "csv"]]


# Timeout: docs/performance.md, Timeouts; raise it per call with .with_overrides(timeout=...).
@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")), timeout=timedelta(minutes=15))
def classify_patients(model: ModelFileInput, patients: PatientsFile) -> BatchPredictions:
    """Validate the patients CSV, check the model fits its features, predict each patient's class and probability."""
    from flyte.inference import classify_patients_csv  # imports XGBoost, so only when the task runs

    with user_errors_without_traceback():  # a bad model file or patients CSV: the message alone
        table = classify_patients_csv(download(model), download(patients), source_of(model), source_of(patients))
    csv_path = f"{current_context().working_directory}/predictions.csv"
    with atomic_output(csv_path, "classify_patients: writing the predictions CSV") as temporary:
        table.to_csv(temporary, index=False)
    return BatchPredictions(
        predictions=StructuredDataset(dataframe=table),
        predictions_csv=FlyteFile(csv_path, remote_path=stored_output_path(csv_path)),
    )


@workflow
def diabetes_xgboost_batch_inference(model: ModelFileInput, patients: PatientsFile) -> BatchPredictions:
    """Predict diabetes for every patient in a CSV of the feature columns with a model trained by the pipeline."""
    return classify_patients(model=model, patients=patients)
