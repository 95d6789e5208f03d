"""flyte.evaluation's one-sort metrics and curves, compared with scikit-learn's on tied, extreme and edge-case data."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sklearn_metrics

from flyte.evaluation import evaluate_with_curves


def _tied(rows: int, decimals: int, dtype: type, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random labels, probabilities rounded so that many tie (exact 0 and 1 included), and classes at 0.5."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, rows)
    probability = np.clip(rng.normal(0.3 + 0.4 * labels, 0.3), 0, 1).round(decimals).astype(dtype)
    return labels, (probability >= 0.5).astype(int), probability


CASES = {
    "ties float64": _tied(20_000, 2, np.float64, 0),
    "ties float32": _tied(50_000, 3, np.float32, 1),
    "few distinct values": _tied(5_000, 0, np.float64, 2),
    "all predicted 0": (np.array([0, 1, 0, 1, 1]), np.zeros(5, int), np.array([0.1, 0.4, 0.3, 0.2, 0.45])),
    "all predicted 1": (np.array([0, 1, 0, 1, 1]), np.ones(5, int), np.array([0.6, 0.9, 0.7, 0.8, 0.55])),
    "perfect separation": (np.array([0, 0, 0, 1, 1]), np.array([0, 0, 0, 1, 1]), np.array([0.0, 0.1, 0.2, 0.8, 1.0])),
    "exact 0 and 1, wrong": (np.array([1, 0, 1, 0]), np.array([0, 1, 0, 1]), np.array([0.0, 1.0, 0.0, 1.0])),
    "two rows": (np.array([0, 1]), np.array([1, 0]), np.array([0.7, 0.2])),
    "one distinct probability": (np.array([0, 1, 1]), np.array([1, 1, 1]), np.array([0.5, 0.5, 0.5])),
}


@pytest.mark.parametrize("labels, predicted, probability", CASES.values(), ids=CASES.keys())
def test_metrics_and_curves_equal_scikit_learn(labels, predicted, probability):
    metrics, curves = evaluate_with_curves(pd.Series(labels), pd.Series(predicted), pd.Series(probability))
    (true_negatives, false_positives), (false_negatives, true_positives) = sklearn_metrics.confusion_matrix(
        labels, predicted, labels=[0, 1]
    )
    assert (metrics.true_negatives, metrics.false_positives, metrics.false_negatives, metrics.true_positives) == (
        true_negatives, false_positives, false_negatives, true_positives
    )
    assert (metrics.test_rows, metrics.diabetic_rows, metrics.non_diabetic_rows) == (
        len(labels), labels.sum(), len(labels) - labels.sum()
    )
    assert metrics.accuracy == sklearn_metrics.accuracy_score(labels, predicted)
    assert metrics.roc_auc == sklearn_metrics.roc_auc_score(labels, probability)
    assert metrics.precision == sklearn_metrics.precision_score(labels, predicted, zero_division=0.0)
    assert metrics.recall == sklearn_metrics.recall_score(labels, predicted, zero_division=0.0)
    assert metrics.f1 == sklearn_metrics.f1_score(labels, predicted, zero_division=0.0)
    assert metrics.log_loss == sklearn_metrics.log_loss(labels, probability, labels=[0, 1])
    false_positive_rate, true_positive_rate, _ = sklearn_metrics.roc_curve(labels, probability)
    np.testing.assert_array_equal(curves.false_positive_rate, false_positive_rate)
    np.testing.assert_array_equal(curves.true_positive_rate, true_positive_rate)
    precision, recall, _ = sklearn_metrics.precision_recall_curve(labels, probability, drop_intermediate=True)
    np.testing.assert_array_equal(curves.precision, precision)
    np.testing.assert_array_equal(curves.recall, recall)


def test_ties_are_one_threshold_each():
    labels, predicted, probability = CASES["few distinct values"]
    _, curves = evaluate_with_curves(pd.Series(labels), pd.Series(predicted), pd.Series(probability))
    # Rounded to 0 decimals the probabilities are 0 and 1 only: the ROC curve is (0, 0), the threshold 1, then (1, 1).
    assert set(np.unique(probability)) == {0.0, 1.0}
    assert len(curves.false_positive_rate) == 3
