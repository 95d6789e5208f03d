"""The tutorial's pipeline written with the bare libraries: the independent answer the project must reproduce."""

from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier


def plain_accuracy(csv: Path, test_split_ratio: float = 0.33, seed: int = 7, **settings) -> float:
    """Accuracy of pandas + scikit-learn + xgboost on `csv` with the tutorial's split and settings."""
    data = pd.read_csv(csv, header=None)
    features, labels = data.iloc[:, :8], data.iloc[:, 8]
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=test_split_ratio, random_state=seed
    )
    params = dict(max_depth=4, learning_rate=0.1, n_estimators=100, objective="binary:logistic", booster="gbtree")
    model = XGBClassifier(**{**params, **settings}, random_state=seed)
    model.fit(x_train, y_train)
    return accuracy_score(y_test, model.predict(x_test))
