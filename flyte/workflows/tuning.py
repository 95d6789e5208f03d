"""Tune, then train: split -> cross-validate the grid, a (max_depth, learning_rate) group per mapped task (in
parallel) -> pick the best point -> train_and_evaluate.

The final model is trained on the whole training split with the best settings and evaluated once on the test split.
"""

from datetime import timedelta
from functools import partial
from typing import NamedTuple

from flytekit import Deck, Resources, map_task, task, workflow
from flytekit.types.file import HTMLPage

from flyte.cpus import size_arrow_pools
from flyte.evaluation import Metrics
from flyte.hyperparameters import HyperparameterGrid, Hyperparameters
from flyte.report import cross_validation_html
from flyte.tuning import CrossValidationScore, best_score, cross_validate_group, grid_groups
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
from flyte.workflows.user_errors import user_errors_without_traceback

apply_flytekit_workarounds()
size_arrow_pools()  # pyarrow's threads: the CPUs this task's process may use, not the node's cores

# Groups of grid points cross-validated at the same time on a cluster; locally they run one after the other.
PARALLEL_GRID_GROUPS = 8


class ChosenHyperparameters(NamedTuple):
    hyperparameters: Hyperparameters
    cross_validation: list[CrossValidationScore]


class TunedModel(NamedTuple):
    model: ModelFile
    accuracy: float
    metrics: Metrics
    report: HTMLPage
    promoted: bool
    hyperparameters: Hyperparameters
    cross_validation: list[CrossValidationScore]


# Timeouts: docs/performance.md, Timeouts; raise one per call with .with_overrides(timeout=...).
@task(
    cache=PROJECT_CACHE,
    resources=Resources(cpu=("100m", "500m"), mem=("256Mi", "512Mi")),
    timeout=timedelta(minutes=5),
)
def expand_grid(grid: HyperparameterGrid) -> list[list[Hyperparameters]]:
    """List every combination of the grid's values, checking each as Hyperparameters, grouped by (max_depth,
    learning_rate): the points one training per fold scores together."""
    return grid_groups(grid.points())


@task(cache=PROJECT_CACHE, resources=Resources(cpu=("1", "2"), mem=("1Gi", "2Gi")), timeout=timedelta(hours=2))
def cross_validate_grid_group(
    train: LabelledPatients, folds: int, seed: int, points: list[Hyperparameters]
) -> list[CrossValidationScore]:
    """Per-fold and mean validation ROC AUC of each point of one group over stratified folds of the training split;
    cached per group."""
    with user_errors_without_traceback():  # folds out of range: the message alone
        return cross_validate_group(read_dataframe(train), points, folds, seed)


@task(
    cache=PROJECT_CACHE,
    resources=Resources(cpu=("100m", "500m"), mem=("256Mi", "512Mi")),
    timeout=timedelta(minutes=5),
    enable_deck=True,
    deck_fields=(),
)
def choose_hyperparameters(group_scores: list[list[CrossValidationScore]]) -> ChosenHyperparameters:
    """The settings with the highest mean validation ROC AUC, and every grid point's scores in grid order, which
    are shown as the deck."""
    scores = [score for group in group_scores for score in group]
    best = best_score(scores)
    Deck("Cross-validation", cross_validation_html(scores, best))
    return ChosenHyperparameters(best.hyperparameters, scores)


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
        partial(cross_validate_grid_group, train=train, folds=folds, seed=seed), concurrency=PARALLEL_GRID_GROUPS
    )
    group_scores = cross_validate_each(points=expand_grid(grid=grid))
    hyperparameters, scores = choose_hyperparameters(group_scores=group_scores)
    model, accuracy, metrics, report, promoted = train_and_evaluate(
        train=train,
        test=test,
        dataset_sha256=dataset_sha256,
        dataset_source=dataset_source,
        hyperparameters=hyperparameters,
        seed=seed,
    )
    return TunedModel(model, accuracy, metrics, report, promoted, hyperparameters, scores)
