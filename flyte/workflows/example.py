"""The diabetes XGBoost pipeline: split_traintest_dataset -> train_and_evaluate (fit -> predict ->
compare_with_champion -> score, with an evaluation deck -> promote).

Each task is a thin typed wrapper around a plain function of the `flyte` package. flyte.model, which imports XGBoost
(and with it scikit-learn and SciPy), is imported in the bodies of the tasks that use it: loading this module, as
`pyflyte run` and every task's pod do, stays free of them, so the split task's pod never loads the trainer.
"""

from datetime import timedelta
from typing import NamedTuple

from flytekit import Resources, StructuredDataset, current_context, task, workflow

from flyte.arrow_memory import use_releasing_memory_pool
from flyte.cpus import size_arrow_pools
from flyte.digest import file_sha256
from flyte.evaluation import Metrics, evaluate_with_curves
from flyte.hyperparameters import Hyperparameters
from flyte.model_card import ChampionComparison
from flyte.model_file import MODEL_FILE_NAME, load_model, save_model
from flyte.report import evaluation_report_html
from flyte.schema import LABEL
from flyte.workflows.caching import PROJECT_CACHE
from flyte.workflows.datatypes import (
    DEFAULT_SEED,
    DEFAULT_TEST_SPLIT_RATIO,
    DatasetFile,
    Evaluation,
    LabelledPatients,
    Labels,
    ModelFile,
    Predictions,
    TrainedModel,
    execution_name,
    model_provenance,
    read_dataframe,
    report_output,
    stored_output_path,
)
from flyte.workflows.files import dataset_or_bundled, fetch_dataset, source_of
from flyte.workflows.flytekit_workarounds import apply_flytekit_workarounds
from flyte.workflows.model_registry import open_registry
from flyte.workflows.user_errors import user_errors_without_traceback

apply_flytekit_workarounds()
size_arrow_pools()  # pyarrow's threads: the CPUs this task's process may use, not the node's cores


class SplitDataset(NamedTuple):
    train: LabelledPatients
    test: LabelledPatients
    dataset_sha256: str
    dataset_source: str  # the dataset as given (its path or URI), or the bundled file: for the model card


# Timeouts: about 60x or more the 10M-row benchmark of each task (docs/performance.md, Timeouts), so that only a
# runaway run ends on one; raise one per call with `fit(...).with_overrides(timeout=timedelta(hours=3))`.
@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")), timeout=timedelta(minutes=10))
def split_traintest_dataset(dataset: DatasetFile | None, test_split_ratio: float, seed: int) -> SplitDataset:
    """Validate the CSV (the bundled data set if none is given) and shuffle-split it into training and test rows."""
    from flyte.split import load_and_split_table  # pyarrow's CSV reader: only where a CSV is read, not on a cache hit

    use_releasing_memory_pool()  # pyarrow end to end: parse, take rows, write Parquet, the data held about once
    with user_errors_without_traceback():  # a bad file, location or setting: the message alone
        dataset = dataset_or_bundled(dataset)
        path = fetch_dataset(dataset)
        train, test = load_and_split_table(path, test_split_ratio, seed, source=source_of(dataset))
    return SplitDataset(
        StructuredDataset(dataframe=train), StructuredDataset(dataframe=test), file_sha256(path), source_of(dataset)
    )


# Memory limits hold 10M-row data sets with room to spare (measured peaks: docs/performance.md, Memory limits);
# XGBoost trains on as many threads as the CPU limit allows.
@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "3Gi")), timeout=timedelta(hours=1))
def fit(
    train: LabelledPatients, hyperparameters: Hyperparameters, seed: int, dataset_sha256: str, dataset_source: str
) -> ModelFile:
    """Train the classifier and save it as a model file, with its features, library versions, dataset digest and
    provenance (flyte.model_file)."""
    from flyte.model import train_model  # imports XGBoost, so only in the tasks that use it

    rows = read_dataframe(train)
    provenance = model_provenance(dataset_source, len(rows), hyperparameters, seed)
    model_path = f"{current_context().working_directory}/{MODEL_FILE_NAME}"
    save_model(train_model(rows, hyperparameters, seed), dataset_sha256, model_path, provenance)
    return ModelFile(path=model_path, remote_path=stored_output_path(model_path))


@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")), timeout=timedelta(minutes=10))
def predict(test: LabelledPatients, model: ModelFile) -> Predictions:
    """Predict the class and probability of every test row."""
    from flyte.model import classify  # imports XGBoost, so only in the tasks that use it

    classifier = load_model(model.download(), source=source_of(model)).classifier
    return StructuredDataset(dataframe=classify(classifier, read_dataframe(test)))


# Not cached: the champion it compares with changes between runs (a cache hit would compare with an old one).
@task(resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")), timeout=timedelta(minutes=10))
def compare_with_champion(test: LabelledPatients, predictions: Predictions, model: ModelFile) -> ChampionComparison:
    """The new model against the champion (the model in use, from the model registry), both scored on these test
    rows by the promotion metric; no champion yet: the new model is better."""
    from flyte.promotion import compare_with_champion as compare
    from flyte.promotion import scorer_on_rows

    def challenger_metrics() -> Metrics:  # not read on a rerun, whose champion is this model: no pandas then
        rows, predicted = read_dataframe(test), read_dataframe(predictions)
        return evaluate_with_curves(rows[LABEL], predicted["predicted"], predicted["probability"])[0]

    challenger = load_model(model.download(), source=source_of(model))
    with user_errors_without_traceback():  # a registry folder that is not the user's own: the message alone
        registry = open_registry()
    return compare(registry, challenger, challenger_metrics, scorer_on_rows(lambda: read_dataframe(test)))


@task(
    cache=PROJECT_CACHE,
    resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")),
    timeout=timedelta(minutes=10),
    enable_deck=True,
    deck_fields=(),  # only the Evaluation deck: the inputs are whole tables
)
def score(test: Labels, predictions: Predictions, model: ModelFile, comparison: ChampionComparison) -> Evaluation:
    """Measure the predictions against the test labels; the evaluation report, headed by the model's card, is the
    task's deck and an output."""
    from flyte.model import feature_importances  # imports XGBoost, so only in the tasks that use it

    labels = read_dataframe(test)[LABEL]
    predicted = read_dataframe(predictions)
    metrics, curves = evaluate_with_curves(labels, predicted["predicted"], predicted["probability"])
    saved = load_model(model.download(), source=source_of(model))
    card = saved.card(metrics.test_rows, comparison)
    html = evaluation_report_html(card, metrics, curves, feature_importances(saved.classifier))
    report = report_output("Evaluation", html, "evaluation-report.html")
    return Evaluation(accuracy=metrics.accuracy, metrics=metrics, report=report)


# Not cached, and last: it runs on every run that got this far (a cache hit of the tasks before it included), and
# a run that failed before it promotes nothing.
@task(resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")), timeout=timedelta(minutes=10))
def promote(test: LabelledPatients, model: ModelFile, metrics: Metrics, comparison: ChampionComparison) -> bool:
    """Record the model in the model registry and make it the champion if the comparison found it better (compared
    again if the champion changed meanwhile); True if it became the champion."""
    from flyte.promotion import promote_if_better, scorer_on_rows

    with user_errors_without_traceback():
        registry = open_registry()
    promoted, _ = promote_if_better(
        registry, model.download(), metrics, comparison, scorer_on_rows(lambda: read_dataframe(test)), execution_name()
    )
    return promoted


@workflow
def train_and_evaluate(
    train: LabelledPatients,
    test: LabelledPatients,
    dataset_sha256: str,
    dataset_source: str,
    hyperparameters: Hyperparameters,
    seed: int,
) -> TrainedModel:
    """fit -> predict -> compare_with_champion -> score -> promote: train on the training rows, evaluate on the
    held-out test rows against the champion, and promote the new model if it is better.

    The one training path: every workflow that trains a model on a split runs it (diabetes_xgboost_model with the
    given settings, diabetes_xgboost_tuning with the chosen ones).
    """
    model = fit(
        train=train,
        hyperparameters=hyperparameters,
        seed=seed,
        dataset_sha256=dataset_sha256,
        dataset_source=dataset_source,
    )
    predictions = predict(test=test, model=model)
    comparison = compare_with_champion(test=test, predictions=predictions, model=model)
    accuracy, metrics, report = score(test=test, predictions=predictions, model=model, comparison=comparison)
    promoted = promote(test=test, model=model, metrics=metrics, comparison=comparison)
    return TrainedModel(model=model, accuracy=accuracy, metrics=metrics, report=report, promoted=promoted)


@workflow
def diabetes_xgboost_model(
    dataset: DatasetFile | None = None,
    test_split_ratio: float = DEFAULT_TEST_SPLIT_RATIO,
    seed: int = DEFAULT_SEED,
    hyperparameters: Hyperparameters = Hyperparameters(),
) -> TrainedModel:
    """Train an XGBoost classifier on the Pima Indians Diabetes CSV and evaluate it on the held-out test rows.

    :param test_split_ratio: the share of rows held out for testing, exactly: the exact shuffle split takes
        ceil(test_split_ratio x rows) test rows, as scikit-learn's train_test_split does
    """
    train, test, dataset_sha256, dataset_source = split_traintest_dataset(
        dataset=dataset, test_split_ratio=test_split_ratio, seed=seed
    )
    return train_and_evaluate(
        train=train,
        test=test,
        dataset_sha256=dataset_sha256,
        dataset_source=dataset_source,
        hyperparameters=hyperparameters,
        seed=seed,
    )
