"""Choose XGBoost settings by stratified k-fold cross-validation over a grid; no Flyte here.

The grid is cross-validated a group at a time: the points that share max_depth and learning_rate (grid_groups). On
each fold a group trains one model per (objective, booster) pair, with the group's most trees, and scores every
n_estimators value of the grid with the first n trees (XGBoost's `iteration_range`): a gbtree run without row or
column sampling adds one tree per round from the trees before it alone, so its first n trees are the n-tree model
(tests/test_tuning.py checks it against models trained with n trees). Each fold's quantized training matrix is built
once and serves all of the group's trainings. dart drops and rescales earlier trees as it goes, and gblinear has no
trees, so their points are trained one by one.

XGBoost and scikit-learn are imported inside cross_validate_group, so that importing this module stays cheap: the
tuning workflow's module imports CrossValidationScore, its task output type, whatever task it runs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from flyte.cpus import usable_cpus
from flyte.errors import InvalidSettingsError
from flyte.hyperparameters import Hyperparameters
from flyte.schema import FEATURES, LABEL

if TYPE_CHECKING:
    import pandas as pd


# The most folds a cross-validation may have: each is one more training run per group (5 by default).
MAX_FOLDS = 50


@dataclass
class CrossValidationScore:
    """Validation ROC AUC of one grid point on each fold, and their mean, by which grid points are ranked."""

    hyperparameters: Hyperparameters
    fold_roc_auc: list[float]
    mean_roc_auc: float


def grid_groups(points: list[Hyperparameters]) -> list[list[Hyperparameters]]:
    """The grid's points grouped by (max_depth, learning_rate), each group and each point in grid order: max_depth
    and learning_rate vary slowest in the grid, so the groups joined again are the grid."""
    groups: dict[tuple, list[Hyperparameters]] = {}
    for point in points:
        groups.setdefault((point.max_depth, point.learning_rate), []).append(point)
    return list(groups.values())


def cross_validate_group(
    train: pd.DataFrame, points: list[Hyperparameters], folds: int, seed: int
) -> list[CrossValidationScore]:
    """Each point's ROC AUC on each held-out fold of `folds` stratified folds of `train`, trained on the others, in
    the order of `points`: the mean is what scikit-learn's cross_val_score(XGBClassifier(**settings,
    random_state=seed), cv=StratifiedKFold(folds, shuffle=True, random_state=seed), scoring="roc_auc") gives.

    The folds depend only on the labels and `seed`, so every point, in any group, is scored on the same folds.
    """
    from sklearn.model_selection import StratifiedKFold

    check_folds(train, folds)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    features = train[list(FEATURES)].to_numpy()
    labels = train[LABEL].to_numpy()
    # The folds run side by side, each on its share of the CPUs: on a few CPUs, one thread per fold. XGBoost's
    # OpenMP threads synchronise after every tree node, so on small data and busy cores they mostly wait for each
    # other (docs/tuning.md, Speed); separate folds never wait for each other. XGBoost releases the GIL as it trains.
    cpus = usable_cpus()
    side_by_side = min(folds, cpus)
    threads = max(1, cpus // side_by_side)

    def score_fold(rows: tuple[np.ndarray, np.ndarray]) -> list[float]:
        return _fold_roc_auc(features, labels, *rows, points, seed, threads)

    with ThreadPoolExecutor(side_by_side) as workers:
        by_fold = list(workers.map(score_fold, splitter.split(features, labels)))
    scores = []
    for index, point in enumerate(points):
        fold_roc_auc = [fold[index] for fold in by_fold]
        scores.append(CrossValidationScore(point, fold_roc_auc, float(np.mean(fold_roc_auc))))
    return scores


def _fold_roc_auc(
    features: np.ndarray, labels: np.ndarray, fit_rows: np.ndarray, validation_rows: np.ndarray,
    points: list[Hyperparameters], seed: int, threads: int,
) -> list[float]:
    """The validation ROC AUC of each point trained on the fold's fitting rows: one training per (objective,
    booster) pair for gbtree, scored at each of its n_estimators; one per point for the other boosters."""
    import xgboost
    from sklearn.metrics import roc_auc_score

    from flyte.model import xgboost_settings

    # Built once for all of the group's trainings, as XGBClassifier builds them: quantized for the tree boosters, the
    # raw values for gblinear (which cannot train on a QuantileDMatrix). The fold's copy of the rows is then freed.
    fit_features, fit_labels = features[fit_rows], labels[fit_rows]
    matrices = {
        linear: (xgboost.DMatrix if linear else xgboost.QuantileDMatrix)(fit_features, fit_labels, nthread=threads)
        for linear in {point.booster == "gblinear" for point in points}
    }
    del fit_features, fit_labels
    # One training's settings and, unless it is shared by every n_estimators (gbtree), its own -> the points it scores.
    trainings: dict[tuple, list[int]] = {}
    for index, point in enumerate(points):
        settings = xgboost_settings(point)
        rounds = settings.pop("n_estimators")
        shared = point.booster == "gbtree"  # the only booster whose first n trees are the n-tree model
        trainings.setdefault((tuple(sorted(settings.items())), None if shared else rounds), []).append(index)
    validation = xgboost.DMatrix(features[validation_rows], nthread=threads)
    roc_auc = [0.0] * len(points)
    for (settings, own_rounds), indices in trainings.items():
        settings = dict(settings)
        rounds = max(points[index].n_estimators for index in indices)
        matrix = matrices[settings["booster"] == "gblinear"]
        booster = xgboost.train({**settings, "random_state": seed, "nthread": threads}, matrix, rounds)
        for index in indices:
            trees = (0, points[index].n_estimators) if own_rounds is None else (0, 0)  # (0, 0): all of them
            probability = booster.predict(validation, iteration_range=trees)
            roc_auc[index] = float(roc_auc_score(labels[validation_rows], probability))
    return roc_auc


def check_folds(train: pd.DataFrame, folds: int) -> None:
    """Refuse a fold count that is not a whole number from 2 to MAX_FOLDS or above the rarer class's rows."""
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= MAX_FOLDS:
        raise InvalidSettingsError(f"folds must be a whole number from 2 to {MAX_FOLDS}, got {folds!r}")
    smallest_class = int(train[LABEL].value_counts().reindex([0, 1], fill_value=0).min())
    if folds > smallest_class:
        raise InvalidSettingsError(
            f"folds must be between 2 and {smallest_class}, the rows of the rarer class in the {len(train)} "
            f"training rows (each fold needs both classes); got {folds}"
        )


def best_score(scores: list[CrossValidationScore]) -> CrossValidationScore:
    """The grid point with the highest mean validation ROC AUC; the earliest in grid order on a tie."""
    if not scores:
        raise ValueError("no cross-validation scores to choose from; the grid must have at least one point")
    return max(scores, key=lambda score: score.mean_roc_auc)
