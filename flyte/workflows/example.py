"""The diabetes XGBoost pipeline: split_traintest_dataset -> fit -> predict -> score.

Each task is a thin typed wrapper around a plain function of `flyte.dataset` or `flyte.model`.
"""

from typing import Annotated, NamedTuple

import joblib
import pandas as pd
from flytekit import HashMethod, Resources, StructuredDataset, current_context, kwtypes, task, workflow
from flytekit.types.file import FlyteFile

from flyte.caching import PROJECT_CACHE, dataset_content_hash, recompute_cache_hits_with_missing_outputs
from flyte.dataset import CANONICAL_DATASET_URL, COLUMN_TYPES, LABEL, load_dataset, split_dataset
from flyte.model import Hyperparameters, accuracy, predict as predict_patients, train_model

recompute_cache_hits_with_missing_outputs()

# A CSV file whose cache key is its content's SHA-256, not its path.
DatasetFile = Annotated[FlyteFile, HashMethod(dataset_content_hash)]
Patients = Annotated[StructuredDataset, kwtypes(**COLUMN_TYPES)]
Labels = Annotated[StructuredDataset, kwtypes(**{LABEL: int})]
Predictions = Annotated[StructuredDataset, kwtypes(predicted=int, probability=float)]
ModelFile = FlyteFile[Annotated[str, "joblib"]]


class SplitDataset(NamedTuple):
    train: Patients
    test: Patients


class TrainedModel(NamedTuple):
    model: ModelFile
    accuracy: float


@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")))
def split_traintest_dataset(dataset: DatasetFile, test_split_ratio: float, seed: int) -> SplitDataset:
    """Validate the CSV and shuffle-split it into training and test rows."""
    data = load_dataset(dataset.download(), source=dataset.remote_source or dataset.path)
    train, test = split_dataset(data, test_split_ratio, seed)
    return SplitDataset(train=StructuredDataset(dataframe=train), test=StructuredDataset(dataframe=test))


@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")))
def fit(train: Patients, hyperparameters: Hyperparameters, seed: int) -> ModelFile:
    """Train the classifier and save it with joblib in the task's working directory."""
    model = train_model(train.open(pd.DataFrame).all(), hyperparameters, seed)
    model_path = f"{current_context().working_directory}/model.joblib.dat"
    joblib.dump(model, model_path)
    return ModelFile(path=model_path)


@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")))
def predict(test: Patients, model: ModelFile) -> Predictions:
    """Predict the class and probability of every test row."""
    classifier = joblib.load(model.download())
    return StructuredDataset(dataframe=predict_patients(classifier, test.open(pd.DataFrame).all()))


@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")))
def score(test: Labels, predictions: Predictions) -> float:
    """Accuracy of the predictions against the test labels."""
    labels = test.open(pd.DataFrame).all()[LABEL]
    return accuracy(labels, predictions.open(pd.DataFrame).all()["predicted"])


@workflow
def diabetes_xgboost_model(
    dataset: DatasetFile = FlyteFile(CANONICAL_DATASET_URL),
    test_split_ratio: float = 0.33,
    seed: int = 7,
    hyperparameters: Hyperparameters = Hyperparameters(),
) -> TrainedModel:
    """Train an XGBoost classifier on the Pima Indians Diabetes CSV and measure its test accuracy."""
    train, test = split_traintest_dataset(dataset=dataset, test_split_ratio=test_split_ratio, seed=seed)
    model = fit(train=train, hyperparameters=hyperparameters, seed=seed)
    predictions = predict(test=test, model=model)
    return TrainedModel(model=model, accuracy=score(test=test, predictions=predictions))
