"""Batch inference: a CSV of patients (features only) and a trained model file, by default the champion of the model
registry -> model_or_champion -> classify_patients -> a table and a CSV of predictions."""

from datetime import timedelta
from typing import Annotated, NamedTuple

from flytekit import Resources, StructuredDataset, current_context, task, workflow
from flytekit.types.file import FlyteFile

from flyte.atomic_write import atomic_output
from flyte.cpus import size_arrow_pools
from flyte.registry import RegistryError
from flyte.workflows.caching import PROJECT_CACHE
from flyte.workflows.datatypes import ClassifiedPatients, ModelFileInput, PatientsFile, stored_output_path
from flyte.workflows.files import download, source_of
from flyte.workflows.flytekit_workarounds import apply_flytekit_workarounds
from flyte.workflows.model_registry import open_registry
from flyte.workflows.user_errors import user_errors_without_traceback

apply_flytekit_workarounds()
size_arrow_pools()  # pyarrow's threads: the CPUs this task's process may use, not the node's cores


class ChosenModel(NamedTuple):
    model: ModelFileInput
    sha256: str | None  # the SHA-256 the model registry recorded for the champion's file; None for a given file


class BatchPredictions(NamedTuple):
    predictions: ClassifiedPatients
    predictions_csv: FlyteFile[Annotated[str, "csv"]]


# Timeouts: docs/performance.md, Timeouts; raise one per call with .with_overrides(timeout=...).
# Not cached: the champion changes between runs. Its file is named by its SHA-256 in the registry, so
# classify_patients's cache, keyed by the model file, follows it.
@task(resources=Resources(cpu=("100m", "500m"), mem=("256Mi", "512Mi")), timeout=timedelta(minutes=5))
def model_or_champion(model: ModelFileInput | None) -> ChosenModel:
    """The model file given, or without one the champion of the model registry, said in the log."""
    if model is not None:
        return ChosenModel(model=model, sha256=None)
    with user_errors_without_traceback():  # no champion yet, or a registry folder not the user's own
        registry = open_registry()
        champion = registry.champion()
        if champion is None:
            raise RegistryError(
                f"no --model given and the model registry {registry.location} has no champion yet: train one with "
                "`.venv/bin/pyflyte run flyte/workflows/example.py diabetes_xgboost_model`, or pass --model"
            )
    print(f"model: {champion.description()}")
    kept = registry.uri("models", f"{champion.model_sha256}.json")
    return ChosenModel(model=FlyteFile(kept), sha256=champion.model_sha256)


@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")), timeout=timedelta(minutes=15))
def classify_patients(model: ModelFileInput, patients: PatientsFile, model_sha256: str | None) -> BatchPredictions:
    """Validate the patients CSV, check the model fits its features (and has the SHA-256 the model registry
    recorded, for the champion), predict each patient's class and probability."""
    from flyte.inference import classify_patients_csv  # imports XGBoost, so only when the task runs

    with user_errors_without_traceback():  # a bad model file or patients CSV: the message alone
        table = classify_patients_csv(
            download(model), download(patients), source_of(model), source_of(patients), model_sha256
        )
    csv_path = f"{current_context().working_directory}/predictions.csv"
    with atomic_output(csv_path, "classify_patients: writing the predictions CSV") as temporary:
        table.to_csv(temporary, index=False)
    return BatchPredictions(
        predictions=StructuredDataset(dataframe=table),
        predictions_csv=FlyteFile(csv_path, remote_path=stored_output_path(csv_path)),
    )


@workflow
def diabetes_xgboost_batch_inference(patients: PatientsFile, model: ModelFileInput | None = None) -> BatchPredictions:
    """Predict diabetes for every patient in a CSV of the feature columns with a model trained by the pipeline: the
    champion of the model registry unless a model file is given."""
    chosen, sha256 = model_or_champion(model=model)
    return classify_patients(model=chosen, patients=patients, model_sha256=sha256)
