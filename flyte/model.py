"""Train an XGBoost classifier on the diabetes features and use it to predict; no Flyte here."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd
from xgboost import XGBClassifier

from flyte.dataset import FEATURES, LABEL

OBJECTIVES = ("binary:logistic", "binary:hinge")
BOOSTERS = ("gbtree", "dart", "gblinear")


@dataclass
class Hyperparameters:
    """XGBoost settings, defaulting to the original Flyte tutorial's; checked as soon as they are made."""

    max_depth: int = 4
    learning_rate: float = 0.1
    n_estimators: int = 100
    objective: str = "binary:logistic"
    booster: str = "gbtree"

    def __post_init__(self) -> None:
        problems = []
        if self.max_depth < 1:
            problems.append(f"max_depth must be >= 1, got {self.max_depth}")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.n_estimators < 1:
            problems.append(f"n_estimators must be >= 1, got {self.n_estimators}")
        if self.objective not in OBJECTIVES:
            problems.append(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.booster not in BOOSTERS:
            problems.append(f"booster must be one of {', '.join(BOOSTERS)}, got {self.booster!r}")
        if problems:
            raise ValueError("invalid hyperparameters: " + "; ".join(problems))


def train_model(train: pd.DataFrame, hyperparameters: Hyperparameters, seed: int) -> XGBClassifier:
    """Fit a classifier on the feature columns of `train` against its label column."""
    model = XGBClassifier(**asdict(hyperparameters), random_state=seed)
    model.fit(train[list(FEATURES)], train[LABEL])
    return model


def predict(model: XGBClassifier, patients: pd.DataFrame) -> pd.DataFrame:
    """Each patient's predicted class (0/1) and predicted probability of diabetes."""
    # One pass over the trees: for the binary objectives XGBClassifier.predict is exactly predict_proba > 0.5.
    probability = model.predict_proba(patients[list(FEATURES)])[:, 1]
    return pd.DataFrame({"predicted": (probability > 0.5).astype("int64"), "probability": probability.astype("float64")})


def feature_importances(model: XGBClassifier) -> dict[str, float]:
    """How much each feature contributed to the model, by XGBoost's default importance type, by feature name."""
    return dict(zip(FEATURES, model.feature_importances_.astype("float64").tolist()))


def accuracy(labels: pd.Series, predicted: pd.Series) -> float:
    """Share of predictions equal to the true label."""
    if len(labels) != len(predicted):
        raise ValueError(f"{len(labels)} labels but {len(predicted)} predictions; expected one prediction per row")
    return float((labels.to_numpy() == predicted.to_numpy()).mean())
