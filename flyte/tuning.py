"""Choose XGBoost settings by stratified k-fold cross-validation over a grid; no Flyte here.

scikit-learn is imported inside the functions that use it, so that importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from itertools import product

import numpy as np
import pandas as pd

from flyte.dataset import FEATURES, LABEL
from flyte.model import Hyperparameters, train_model


@dataclass
class HyperparameterGrid:
    """Values to try for each Hyperparameters field; every combination is one grid point (36 by default)."""

    max_depth: list[int] = field(default_factory=lambda: [2, 3, 4, 6])
    learning_rate: list[float] = field(default_factory=lambda: [0.03, 0.1, 0.3])
    n_estimators: list[int] = field(default_factory=lambda: [50, 100, 200])
    objective: list[str] = field(default_factory=lambda: ["binary:logistic"])
    booster: list[str] = field(default_factory=lambda: ["gbtree"])

    def points(self) -> list[Hyperparameters]:
        """Every combination of the listed values, in grid order (the last field varies fastest)."""
        names = [setting.name for setting in fields(Hyperparameters)]
        for name in names:
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise ValueError(f"grid field {name} must list one or more distinct values, got {values}")
        return [Hyperparameters(**dict(zip(names, values))) for values in product(*(getattr(self, n) for n in names))]


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

    smallest_class = int(train[LABEL].value_counts().reindex([0, 1], fill_value=0).min())
    if not 2 <= folds <= smallest_class:
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
