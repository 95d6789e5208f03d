"""Tune, then train: split -> cross-validate every grid point (in parallel) -> pick the best -> train_and_evaluate.

The final model is trained on the whole training split with the best settings and evaluated once on the test split.
"""

from datetime import timedelta
from functools import partial
from typing import NamedTuple

from flytekit import Deck, Resources, map_task, task, workflow
from flytekit.types.file import HTMLPage

from flyte.evaluation import Metrics
from flyte.hyperparameters import HyperparameterGrid, Hyperparameters
from flyte.report import cross_validation_html
from flyte.tuning import CrossValidationScore, best_score, cross_validate
from flyte.workflows.caching import PROJECT_CACHE
from flyte.workflows.datatypes import (
    DEFAULT_SEED,
    DEFAULT_TEST_SPLIT_RATIO,
    DatasetFile,
    LabelledPatients,
    ModelFile,
    read_dataframe,
)
from flyte.workflows.example import split_traintest_dataset, train_and_evaluate
from flyte.workflows.flytekit_workarounds import apply_flytekit_workarounds

apply_flytekit_workarounds()

# Grid points cross-validated at the same time on a cluster; locally they run one after the other.
PARALLEL_GRID_POINTS = 8


class TunedModel(NamedTuple):
    model: ModelFile
    accuracy: float
    metrics: Metrics
    report: HTMLPage
    hyperparameters: Hyperparameters
    cross_validation: list[CrossValidationScore]


# Timeouts: docs/performance.md, Timeouts; raise one per call with .with_overrides(timeout=...).
@task(
    cache=PROJECT_CACHE,
    resources=Resources(cpu=("100m", "500m"), mem=("256Mi", "512Mi")),
    timeout=timedelta(minutes=5),
)
def expand_grid(grid: HyperparameterGrid) -> list[Hyperparameters]:
    """List every combination of the grid's values, checking each as Hyperparameters."""
    return grid.points()


@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")), timeout=timedelta(hours=2))
def cross_validate_grid_point(
    train: LabelledPatients, folds: int, seed: int, hyperparameters: Hyperparameters
) -> CrossValidationScore:
    """Mean validation ROC AUC of one grid point over stratified folds of the training split; cached per point."""
    return cross_validate(read_dataframe(train), hyperparameters, folds, seed)


@task(
    cache=PROJECT_CACHE,
    resources=Resources(cpu=("100m", "500m"), mem=("256Mi", "512Mi")),
    timeout=timedelta(minutes=5),
    enable_deck=True,
    deck_fields=(),
)
def choose_hyperparameters(scores: list[CrossValidationScore]) -> Hyperparameters:
    """The settings with the highest mean validation ROC AUC; every grid point's scores are shown as the deck."""
    best = best_score(scores)
    Deck("Cross-validation", cross_validation_html(scores, best))
    return best.hyperparameters


@workflow
def diabetes_xgboost_tuning(
    dataset: DatasetFile | None = None,
    test_split_ratio: float = DEFAULT_TEST_SPLIT_RATIO,
    seed: int = DEFAULT_SEED,
    grid: HyperparameterGrid = HyperparameterGrid(),
    folds: int = 5,
) -> TunedModel:
    """Pick XGBoost settings by cross-validated ROC AUC on the training split, then train and evaluate with them."""
    train, test, dataset_sha256, dataset_source = split_traintest_dataset(
        dataset=dataset, test_split_ratio=test_split_ratio, seed=seed
    )
    cross_validate_each = map_task(
        partial(cross_validate_grid_point, train=train, folds=folds, seed=seed), concurrency=PARALLEL_GRID_POINTS
    )
    scores = cross_validate_each(hyperparameters=expand_grid(grid=grid))
    hyperparameters = choose_hyperparameters(scores=scores)
    model, accuracy, metrics, report = train_and_evaluate(
        train=train,
        test=test,
        dataset_sha256=dataset_sha256,
        dataset_source=dataset_source,
        hyperparameters=hyperparameters,
        seed=seed,
    )
    return TunedModel(model, accuracy, metrics, report, hyperparameters, scores)
