"""Measure a classifier on labelled test rows beyond accuracy; no Flyte here.

scikit-learn's metrics are imported inside the functions that use them, so that importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from flyte.model import accuracy


@dataclass
class Metrics:
    """How well predicted classes and probabilities match the true labels of a test split, and its class balance."""

    accuracy: float
    roc_auc: float
    precision: float
    recall: float
    f1: float
    log_loss: float
    test_rows: int
    diabetic_rows: int
    non_diabetic_rows: int
    true_negatives: int
    false_positives: int
    false_negatives: int
    true_positives: int


def evaluate(labels: pd.Series, predicted: pd.Series, probability: pd.Series) -> Metrics:
    """Metrics of predicted classes (0/1) and probabilities of class 1 against true 0/1 labels.

    Both classes must be present in `labels`: ROC AUC is undefined otherwise.
    """
    from sklearn import metrics

    labels, predicted, probability = (np.asarray(values) for values in (labels, predicted, probability))
    if not len(labels) == len(predicted) == len(probability):
        raise ValueError(
            f"{len(labels)} labels, {len(predicted)} predicted classes and {len(probability)} probabilities; "
            "expected one of each per test row"
        )
    if sorted(set(labels.tolist())) != [0, 1]:
        raise ValueError(f"the test labels hold only {sorted(set(labels.tolist()))}; ROC AUC needs both 0 and 1")
    (true_negatives, false_positives), (false_negatives, true_positives) = metrics.confusion_matrix(
        labels, predicted, labels=[0, 1]
    )
    return Metrics(
        accuracy=accuracy(pd.Series(labels), pd.Series(predicted)),
        roc_auc=float(metrics.roc_auc_score(labels, probability)),
        precision=float(metrics.precision_score(labels, predicted, zero_division=0.0)),
        recall=float(metrics.recall_score(labels, predicted, zero_division=0.0)),
        f1=float(metrics.f1_score(labels, predicted, zero_division=0.0)),
        log_loss=float(metrics.log_loss(labels, probability, labels=[0, 1])),
        test_rows=len(labels),
        diabetic_rows=int(labels.sum()),
        non_diabetic_rows=int(len(labels) - labels.sum()),
        true_negatives=int(true_negatives),
        false_positives=int(false_positives),
        false_negatives=int(false_negatives),
        true_positives=int(true_positives),
    )
