"""Measure a classifier on labelled test rows beyond accuracy; no Flyte here.

Every metric and both curves come from one sort of the probabilities, with numpy only, and equal scikit-learn's
values (tests/test_evaluation.py compares them), where scikit-learn's separate calls would sort and validate the same
columns once per metric and curve (timings: docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas only names types here: the workflow modules import Metrics from this module
    import pandas as pd


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


# At most this many points per drawn curve: a 6-inch chart cannot show more, and at millions of test rows the
# curves have hundreds of thousands of thresholds, which would make the charts large and slow to draw
# (docs/performance.md).
MAX_DRAWN_POINTS = 2000


@dataclass
class Curves:
    """The ROC and precision-recall curves, the points of scikit-learn's roc_curve and
    precision_recall_curve(drop_intermediate=True) in their order."""

    false_positive_rate: np.ndarray
    true_positive_rate: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    def thinned(self) -> Curves:
        """The curves as drawn: every k-th point, first and last kept, at most MAX_DRAWN_POINTS per curve."""
        roc = _every_kth_point(self.false_positive_rate, self.true_positive_rate)
        precision_recall = _every_kth_point(self.precision, self.recall)
        return Curves(*roc, *precision_recall)


def evaluate_with_curves(labels: pd.Series, predicted: pd.Series, probability: pd.Series) -> tuple[Metrics, Curves]:
    """Metrics of predicted classes (0/1) and probabilities of class 1 against true 0/1 labels, and the curves to
    draw them, from one sort of the probabilities. Both classes must be in `labels`: ROC AUC is undefined otherwise."""
    labels, predicted, probability = (np.asarray(values) for values in (labels, predicted, probability))
    if not len(labels) == len(predicted) == len(probability):
        raise ValueError(
            f"{len(labels)} labels, {len(predicted)} predicted classes and {len(probability)} probabilities; "
            "expected one of each per test row"
        )
    if not (labels.min(initial=1) == 0 and labels.max(initial=0) == 1 and np.isin(labels, (0, 1)).all()):
        raise ValueError(f"the test labels hold only {sorted(set(labels.tolist()))}; ROC AUC needs both 0 and 1")
    false_positives, true_positives = positives_at_thresholds(labels, probability)
    confusion = np.bincount(2 * labels.astype(np.intp) + predicted.astype(np.intp), minlength=4)
    return evaluation_from_counts(false_positives, true_positives, confusion, log_loss(labels, probability))


def evaluation_from_counts(
    false_positives: np.ndarray, true_positives: np.ndarray, confusion: np.ndarray, mean_log_loss: float
) -> tuple[Metrics, Curves]:
    """Metrics and curves from what they are made of, which a partitioned evaluation can add up part by part: the
    false and true positives at each distinct probability, highest first (positives_at_thresholds), the confusion
    counts (true negatives, false positives, false negatives, true positives) and the mean log loss."""
    false_positive_rate, true_positive_rate = roc_curve(false_positives, true_positives)
    precision, recall = precision_recall_curve(false_positives, true_positives)
    true_negatives, false_positive_rows, false_negatives, true_positive_rows = (int(count) for count in confusion)
    test_rows = true_negatives + false_positive_rows + false_negatives + true_positive_rows
    metrics = Metrics(
        accuracy=(true_negatives + true_positive_rows) / test_rows,
        roc_auc=float(np.trapezoid(true_positive_rate, false_positive_rate)),
        precision=_ratio(true_positive_rows, true_positive_rows + false_positive_rows),
        recall=_ratio(true_positive_rows, true_positive_rows + false_negatives),
        f1=_ratio(2 * true_positive_rows, 2 * true_positive_rows + false_positive_rows + false_negatives),
        log_loss=mean_log_loss,
        test_rows=test_rows,
        diabetic_rows=int(true_positives[-1]),
        non_diabetic_rows=int(false_positives[-1]),
        true_negatives=true_negatives,
        false_positives=false_positive_rows,
        false_negatives=false_negatives,
        true_positives=true_positive_rows,
    )
    return metrics, Curves(false_positive_rate, true_positive_rate, precision, recall)


def positives_at_thresholds(labels: np.ndarray, probability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positives (float64 counts) when predicting 1 at or above each distinct probability, highest
    first, as scikit-learn's _binary_clf_curve; the evaluation's one sort."""
    # Unstable, so faster than a stable sort (docs/performance.md): the order within a tie cannot change the counts at
    # its end.
    order = np.argsort(probability)[::-1]
    ends = np.append(np.flatnonzero(np.diff(probability[order])), len(order) - 1)
    true_positives = np.cumsum(labels[order], dtype=np.float64)[ends]
    return 1 + ends - true_positives, true_positives


def roc_curve(false_positives: np.ndarray, true_positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates from (0, 0) up, collinear points dropped as roc_curve(drop_intermediate=True)."""
    if len(false_positives) > 2:
        bends = (np.diff(false_positives, 2) != 0) | (np.diff(true_positives, 2) != 0)
        kept = np.concatenate(([True], bends, [True]))
        false_positives, true_positives = false_positives[kept], true_positives[kept]
    false_positives, true_positives = np.append(0.0, false_positives), np.append(0.0, true_positives)
    return false_positives / false_positives[-1], true_positives / true_positives[-1]


def precision_recall_curve(false_positives: np.ndarray, true_positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall by falling recall, ending at (recall 0, precision 1), as
    precision_recall_curve(drop_intermediate=True): of each run of equal true positives only its ends are kept."""
    if len(true_positives) > 2:
        changes = (np.diff(true_positives[:-1]) != 0) | (np.diff(true_positives[1:]) != 0)
        kept = np.concatenate(([True], changes, [True]))
        false_positives, true_positives = false_positives[kept], true_positives[kept]
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / true_positives[-1]
    return np.append(precision[::-1], 1.0), np.append(recall[::-1], 0.0)


def log_loss(labels: np.ndarray, probability: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels, as scikit-learn 1.9's log_loss: in the probabilities' float type
    (float64 for any other), clipped to [eps, 1 - eps] of that type."""
    if probability.dtype not in (np.float16, np.float32, np.float64):
        probability = probability.astype(np.float64)
    eps = np.finfo(probability.dtype).eps
    likelihood = np.where(labels == 1, probability, 1 - probability)
    return float(-np.mean(np.log(np.clip(likelihood, eps, 1 - eps))))


def accuracy(labels: pd.Series, predicted: pd.Series) -> float:
    """Share of predictions equal to the true label."""
    if len(labels) != len(predicted):
        raise ValueError(f"{len(labels)} labels but {len(predicted)} predictions; expected one prediction per row")
    return float((np.asarray(labels) == np.asarray(predicted)).mean())


def _every_kth_point(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= MAX_DRAWN_POINTS:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, MAX_DRAWN_POINTS).round().astype(int))
    return x[keep], y[keep]


def _ratio(numerator: int, denominator: int) -> float:
    """numerator / denominator, and 0 when the denominator is 0 (scikit-learn's zero_division=0)."""
    return numerator / denominator if denominator else 0.0
