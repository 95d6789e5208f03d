"""Train an XGBoost classifier on the diabetes features and use it to predict; no Flyte here."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
from xgboost import XGBClassifier

from flyte.hyperparameters import Hyperparameters
from flyte.schema import FEATURES, LABEL

# Up to this many training rows XGBoost trains on one thread: there its threads cost more than they bring, and on busy
# cores they wait for each other after every tree node (docs/performance.md, Tuning against GridSearchCV). Above it,
# XGBoost's own choice, which follows the CPU quota (docs/performance.md, Threads). The model file keeps no thread
# count: a saved model predicts on the threads of wherever it is loaded.
SINGLE_THREAD_TRAINING_ROWS = 10_000


def train_model(train: pd.DataFrame, hyperparameters: Hyperparameters, seed: int) -> XGBClassifier:
    """Fit a classifier on the feature columns of `train` against its label column."""
    threads = 1 if len(train) <= SINGLE_THREAD_TRAINING_ROWS else None
    model = XGBClassifier(**xgboost_settings(hyperparameters), random_state=seed, n_jobs=threads)
    model.fit(train[list(FEATURES)], train[LABEL])
    return model


def xgboost_settings(hyperparameters: Hyperparameters) -> dict:
    """The XGBClassifier arguments of the settings: the same model from the same data on every run."""
    settings = asdict(hyperparameters)
    if hyperparameters.booster == "gblinear":
        # A linear model has no trees (XGBoost warns about max_depth), and XGBoost's default linear updater,
        # "shotgun", updates coordinates in parallel without locks: another model on every run. "coord_descent" is
        # deterministic on any number of threads (XGBoost's parameter documentation, linear booster).
        del settings["max_depth"]
        settings["updater"] = "coord_descent"
    return settings


def classify(model: XGBClassifier, patients: pd.DataFrame) -> pd.DataFrame:
    """Each patient's predicted class (0/1) and predicted probability of diabetes."""
    # One pass over the trees: for the binary objectives XGBClassifier.predict is exactly predict_proba > 0.5.
    probability = model.predict_proba(patients[list(FEATURES)])[:, 1]
    predicted = (probability > 0.5).astype("int64")
    return pd.DataFrame({"predicted": predicted, "probability": probability.astype("float64")})


def feature_importances(model: XGBClassifier) -> dict[str, float]:
    """How much each feature contributed to the model, by XGBoost's default importance type, by feature name."""
    return dict(zip(FEATURES, model.feature_importances_.astype("float64").tolist(), strict=True))
