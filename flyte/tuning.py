"""Choose XGBoost settings by stratified k-fold cross-validation over a grid; no Flyte here.

scikit-learn and the XGBoost trainer are imported inside cross_validate, so that importing this module stays cheap:
the tuning workflow's module imports CrossValidationScore, its task output type, whatever task it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from flyte.hyperparameters import Hyperparameters
from flyte.schema import FEATURES, LABEL

if TYPE_CHECKING:
    import pandas as pd


# The most folds a cross-validation may have: each is one more training run per grid point (5 by default).
MAX_FOLDS = 50


@dataclass
class CrossValidationScore:
    """Validation ROC AUC of one grid point on each fold, and their mean, by which grid points are ranked."""

    hyperparameters: Hyperparameters
    fold_roc_auc: list[float]
    mean_roc_auc: float


def cross_validate(
    train: pd.DataFrame, hyperparameters: Hyperparameters, folds: int, seed: int
) -> CrossValidationScore:
    """Train on k-1 stratified folds of `train` and measure ROC AUC on the held-out fold, for each of `folds` folds.

    The folds depend only on the labels and `seed`, so every grid point is scored on the same folds.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from flyte.model import train_model

    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= MAX_FOLDS:
        raise ValueError(f"folds must be a whole number from 2 to {MAX_FOLDS}, got {folds!r}")
    smallest_class = int(train[LABEL].value_counts().reindex([0, 1], fill_value=0).min())
    if folds > smallest_class:
        raise ValueError(
            f"folds must be between 2 and {smallest_class}, the rows of the rarer class in the {len(train)} "
            f"training rows (each fold needs both classes); got {folds}"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_roc_auc = []
    for fit_rows, validation_rows in splitter.split(np.zeros(len(train)), train[LABEL]):
        model = train_model(train.iloc[fit_rows], hyperparameters, seed)
        validation = train.iloc[validation_rows]
        probability = model.predict_proba(validation[list(FEATURES)])[:, 1]
        fold_roc_auc.append(float(roc_auc_score(validation[LABEL], probability)))
    return CrossValidationScore(hyperparameters, fold_roc_auc, float(np.mean(fold_roc_auc)))


def best_score(scores: list[CrossValidationScore]) -> CrossValidationScore:
    """The grid point with the highest mean validation ROC AUC; the earliest in grid order on a tie."""
    if not scores:
        raise ValueError("no cross-validation scores to choose from; the grid must have at least one point")
    return max(scores, key=lambda score: score.mean_roc_auc)
