"""Train an XGBoost classifier on the diabetes features and use it to predict; no Flyte here."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
from xgboost import XGBClassifier

from flyte.hyperparameters import Hyperparameters
from flyte.schema import FEATURES, LABEL


def train_model(train: pd.DataFrame, hyperparameters: Hyperparameters, seed: int) -> XGBClassifier:
    """Fit a classifier on the feature columns of `train` against its label column."""
    model = XGBClassifier(**asdict(hyperparameters), random_state=seed)
    model.fit(train[list(FEATURES)], train[LABEL])
    return model


def classify(model: XGBClassifier, patients: pd.DataFrame) -> pd.DataFrame:
    """Each patient's predicted class (0/1) and predicted probability of diabetes."""
    # One pass over the trees: for the binary objectives XGBClassifier.predict is exactly predict_proba > 0.5.
    probability = model.predict_proba(patients[list(FEATURES)])[:, 1]
    predicted = (probability > 0.5).astype("int64")
    return pd.DataFrame({"predicted": predicted, "probability": probability.astype("float64")})


def feature_importances(model: XGBClassifier) -> dict[str, float]:
    """How much each feature contributed to the model, by XGBoost's default importance type, by feature name."""
    return dict(zip(FEATURES, model.feature_importances_.astype("float64").tolist(), strict=True))
