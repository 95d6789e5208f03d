"""The evaluation metrics, checked against hand-computed values, and the deck of the scoring step, opened as HTML."""

from __future__ import annotations

import base64
import logging
import math
import re
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from flytekit.loggers import logger as flytekit_logger
from flytekit.types.file import FlyteFile
from sklearn import metrics as sklearn_metrics
from sklearn.model_selection import train_test_split

from flyte.evaluation import Metrics, evaluate_with_curves
from flyte.model_file import load_model
from flyte.report import SECTIONS, evaluation_report_html
from flyte.schema import FEATURES, LABEL
from flyte.workflows.example import diabetes_xgboost_model

# Six test rows worked by hand: true positives at 2 and 4, a false negative at 3, a false positive at 1.
LABELS = [0, 0, 1, 1, 1, 0]
PREDICTED = [0, 1, 1, 0, 1, 0]
PROBABILITY = [0.1, 0.6, 0.8, 0.4, 0.9, 0.2]


def test_metrics_match_hand_computed_values():
    result, _ = evaluate_with_curves(pd.Series(LABELS), pd.Series(PREDICTED), pd.Series(PROBABILITY))
    # Of the 9 (diabetic, not diabetic) pairs, the diabetic row has the higher probability in 8: only 0.4 < 0.6.
    expected_log_loss = -sum(
        math.log(p if label else 1 - p) for label, p in zip(LABELS, PROBABILITY, strict=True)
    ) / len(LABELS)
    assert result == Metrics(
        accuracy=pytest.approx(4 / 6),
        roc_auc=pytest.approx(8 / 9),
        precision=pytest.approx(2 / 3),
        recall=pytest.approx(2 / 3),
        f1=pytest.approx(2 / 3),
        log_loss=pytest.approx(expected_log_loss),
        test_rows=6,
        diabetic_rows=3,
        non_diabetic_rows=3,
        true_negatives=2,
        false_positives=1,
        false_negatives=1,
        true_positives=2,
    )


def test_metrics_refuse_one_class_and_mismatched_lengths():
    with pytest.raises(ValueError, match=r"test labels hold only \[1\]; ROC AUC needs both 0 and 1"):
        evaluate_with_curves(pd.Series([1, 1]), pd.Series([1, 0]), pd.Series([0.9, 0.2]))
    with pytest.raises(ValueError, match="3 labels, 2 predicted classes and 3 probabilities"):
        evaluate_with_curves(pd.Series([0, 1, 1]), pd.Series([0, 1]), pd.Series([0.1, 0.8, 0.7]))


class _Sections(HTMLParser):
    """Collect, per <section id>, its heading text, table cells and <img> sources."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, dict[str, list[str]]] = {}
        self._current: str | None = None
        self._text_into: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._current = attrs["id"]
            self.sections[self._current] = {"heading": [], "cells": [], "images": []}
        elif self._current and tag == "img":
            self.sections[self._current]["images"].append(attrs["src"])
        elif self._current and tag in ("h2", "td", "th"):
            self._text_into = "heading" if tag == "h2" else "cells"
            self.sections[self._current][self._text_into].append("")

    def handle_endtag(self, tag):
        if tag == "section":
            self._current = None
        if tag in ("h2", "td", "th"):
            self._text_into = None

    def handle_data(self, data):
        if self._current and self._text_into:
            self.sections[self._current][self._text_into][-1] += data.strip()


def _svg_root(source: str) -> ElementTree.Element:
    prefix = "data:image/svg+xml;base64,"
    assert source.startswith(prefix)
    return ElementTree.fromstring(base64.b64decode(source[len(prefix):]))


def assert_report_is_complete(html: str, expected: Metrics) -> None:
    """Every section is there in order with its heading; every chart is a parseable SVG; the table shows `expected`."""
    parser = _Sections()
    parser.feed(html)
    assert list(parser.sections) == list(SECTIONS)
    for section, heading in SECTIONS.items():
        assert parser.sections[section]["heading"] == [heading]
        images = parser.sections[section]["images"]
        if section == "metrics":
            assert images == []
        else:
            assert len(images) == 1 and _svg_root(images[0]).tag == "{http://www.w3.org/2000/svg}svg"
    cells = parser.sections["metrics"]["cells"]
    shown = dict(zip(cells[0::3], cells[1::3], strict=True))
    assert shown["Accuracy"] == f"{expected.accuracy:.4f}"
    assert shown["ROC AUC"] == f"{expected.roc_auc:.4f}"
    assert shown["Log loss"] == f"{expected.log_loss:.4f}"
    assert shown["Test rows"] == str(expected.test_rows)
    assert shown["Class balance"].startswith(f"{expected.diabetic_rows} diabetic")


def test_report_has_every_section_with_its_chart():
    result, curves = evaluate_with_curves(pd.Series(LABELS), pd.Series(PREDICTED), pd.Series(PROBABILITY))
    importances = {name: float(index) for index, name in enumerate(FEATURES)}
    html = evaluation_report_html(result, curves, importances)
    assert_report_is_complete(html, result)
    assert html == evaluation_report_html(result, curves, importances)


@pytest.fixture
def deck_paths():
    """Paths of the deck HTML files that flytekit reports writing while the test runs."""
    paths: list[Path] = []

    class Recorder(logging.Handler):
        def emit(self, record):
            found = re.search(r"creates flyte deck html to file://(\S+)", record.getMessage())
            if found:
                paths.append(Path(found.group(1)))

    recorder, level = Recorder(), flytekit_logger.level
    flytekit_logger.addHandler(recorder)
    flytekit_logger.setLevel(logging.INFO)
    yield paths
    flytekit_logger.removeHandler(recorder)
    flytekit_logger.setLevel(level)


def test_workflow_deck_shows_the_metrics_it_returns(synthetic_csv, deck_paths):
    result = diabetes_xgboost_model(dataset=FlyteFile(str(synthetic_csv)), test_split_ratio=0.25, seed=3)

    # The same numbers from the bare libraries: scikit-learn's split (which load_and_split_table reproduces) and
    # metrics.
    data = pd.read_csv(synthetic_csv, header=None, names=[*FEATURES, LABEL])
    _, test = train_test_split(data, test_size=0.25, random_state=3)
    classifier = load_model(result.model.download()).classifier
    probability = classifier.predict_proba(test[list(FEATURES)])[:, 1]
    predicted = classifier.predict(test[list(FEATURES)])
    assert result.accuracy == result.metrics.accuracy == sklearn_metrics.accuracy_score(test[LABEL], predicted)
    assert result.metrics.roc_auc == pytest.approx(sklearn_metrics.roc_auc_score(test[LABEL], probability))
    assert result.metrics.f1 == pytest.approx(sklearn_metrics.f1_score(test[LABEL], predicted))
    assert result.metrics.log_loss == pytest.approx(sklearn_metrics.log_loss(test[LABEL], probability))
    assert (result.metrics.test_rows, result.metrics.diabetic_rows) == (len(test), int(test[LABEL].sum()))

    assert len(deck_paths) == 1, "the scoring step, and only it, writes a deck"
    html = deck_paths[0].read_text(encoding="utf-8")
    assert "<li onclick=\"handleLinkClick(this)\">Evaluation</li>" in html
    assert_report_is_complete(html, result.metrics)

    # The same report as the workflow's `report` output: a complete HTML page of its own.
    page = Path(result.report.path).read_text(encoding="utf-8")
    assert Path(result.report.path).name == "evaluation-report.html"
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert_report_is_complete(page, result.metrics)


def test_the_importances_axis_label_is_inside_the_chart():
    """Its ends were cut off when it was one line wider than the 6-inch figure."""
    from flyte.report import _importances_figure

    figure = _importances_figure({name: float(index + 1) for index, name in enumerate(FEATURES)})
    figure.draw_without_rendering()  # lays the figure out (constrained layout) as saving it does
    (axes,) = figure.axes
    label = axes.xaxis.label.get_window_extent()
    assert axes.xaxis.label.get_text().startswith("mean gain of the feature's splits")
    assert label.x0 >= 0 and label.x1 <= figure.bbox.x1 and label.y0 >= 0, (label, figure.bbox)


def test_cross_validation_table_ranks_grid_points_best_first_and_marks_the_chosen_one():
    from flyte.hyperparameters import Hyperparameters
    from flyte.report import cross_validation_html
    from flyte.tuning import CrossValidationScore

    scores = [
        CrossValidationScore(Hyperparameters(max_depth=depth), folds, sum(folds) / 2)
        for depth, folds in ((1, [0.7, 0.8]), (2, [0.9, 0.8]), (3, [0.6, 0.6]))
    ]
    parser = _Sections()
    parser.feed(cross_validation_html(scores, chosen=scores[1]))
    assert list(parser.sections) == ["cross-validation"]
    cells = parser.sections["cross-validation"]["cells"]
    header = ["rank", "max_depth", "learning_rate", "n_estimators", "objective", "booster", "mean ROC AUC",
              "fold 1", "fold 2", ""]
    assert cells[: len(header)] == header
    rows = [cells[start : start + len(header)] for start in range(len(header), len(cells), len(header))]
    assert rows == [
        ["1", "2", "0.1", "100", "binary:logistic", "gbtree", "0.8500", "0.9000", "0.8000", "chosen"],
        ["2", "1", "0.1", "100", "binary:logistic", "gbtree", "0.7500", "0.7000", "0.8000", ""],
        ["3", "3", "0.1", "100", "binary:logistic", "gbtree", "0.6000", "0.6000", "0.6000", ""],
    ]
