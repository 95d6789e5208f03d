"""Batch inference: a trained model file and a CSV of patients (features only) -> a table and a CSV of predictions."""

from typing import Annotated, NamedTuple

from flytekit import HashMethod, Resources, StructuredDataset, current_context, kwtypes, task, workflow
from flytekit.types.file import FlyteFile

from flyte.caching import PROJECT_CACHE
from flyte.dataset import FEATURE_TYPES
from flyte.dataset_file import file_cache_key
from flyte.inference import predict_patients_file
from flyte.workflows.example import ModelFile


ModelToScoreWith = Annotated[ModelFile, HashMethod(file_cache_key)]
PatientsFile = Annotated[FlyteFile[Annotated[str, "csv"]], HashMethod(file_cache_key)]
PatientPredictions = Annotated[StructuredDataset, kwtypes(**FEATURE_TYPES, predicted=int, probability=float)]


class BatchPredictions(NamedTuple):
    predictions: PatientPredictions
    predictions_csv: FlyteFile[Annotated[str, "csv"]]


@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")))
def predict_patients(model: ModelToScoreWith, patients: PatientsFile) -> BatchPredictions:
    """Validate the patients CSV, check the model fits its features, predict each patient's class and probability."""
    model_source, patients_source = model.remote_source or model.path, patients.remote_source or patients.path
    table = predict_patients_file(model.download(), patients.download(), model_source, patients_source)
    csv_path = f"{current_context().working_directory}/predictions.csv"
    table.to_csv(csv_path, index=False)
    return BatchPredictions(predictions=StructuredDataset(dataframe=table), predictions_csv=FlyteFile(csv_path))


@workflow
def diabetes_xgboost_batch_inference(model: ModelToScoreWith, patients: PatientsFile) -> BatchPredictions:
    """Predict diabetes for every patient in a CSV of the 8 feature columns with a model trained by the pipeline."""
    return predict_patients(model=model, patients=patients)
