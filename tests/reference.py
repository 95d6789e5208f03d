"""The tutorial's pipeline written with the bare libraries: the independent answer the project must reproduce."""

from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier

# The original tutorial's XGBoost settings, written out here rather than taken from flyte.hyperparameters.
TUTORIAL_SETTINGS = dict(
    max_depth=4, learning_rate=0.1, n_estimators=100, objective="binary:logistic", booster="gbtree"
)


def plain_split(csv: Path, test_split_ratio: float = 0.33, seed: int = 7) -> tuple:
    """x_train, x_test, y_train, y_test of the headerless CSV (label last) by scikit-learn's train_test_split."""
    data = pd.read_csv(csv, header=None)
    return train_test_split(data.iloc[:, :-1], data.iloc[:, -1], test_size=test_split_ratio, random_state=seed)


def plain_model(csv: Path, test_split_ratio: float = 0.33, seed: int = 7, **settings) -> XGBClassifier:
    """XGBClassifier fitted on the training part of `csv` with the tutorial's settings, updated by `settings`."""
    x_train, _, y_train, _ = plain_split(csv, test_split_ratio, seed)
    return XGBClassifier(**{**TUTORIAL_SETTINGS, **settings}, random_state=seed).fit(x_train, y_train)


def plain_accuracy(csv: Path, test_split_ratio: float = 0.33, seed: int = 7, **settings) -> float:
    """Accuracy of pandas + scikit-learn + xgboost on `csv` with the tutorial's split and settings."""
    _, x_test, _, y_test = plain_split(csv, test_split_ratio, seed)
    return accuracy_score(y_test, plain_model(csv, test_split_ratio, seed, **settings).predict(x_test))
