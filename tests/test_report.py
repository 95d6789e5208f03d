"""The evaluation metrics, checked against hand-computed values, and the deck of the scoring step, opened as HTML:
the model's card, its champion comparison, the metrics and the charts."""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, replace
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
import xgboost
from flytekit.loggers import logger as flytekit_logger
from flytekit.types.file import FlyteFile
from sklearn import metrics as sklearn_metrics
from sklearn.model_selection import train_test_split

from flyte.evaluation import Metrics, evaluate_with_curves
from flyte.hyperparameters import BOOSTERS, Hyperparameters
from flyte.model_card import ChampionComparison, ModelCard
from flyte.model_file import load_model
from flyte.report import SECTIONS, evaluation_report_html, html_page
from flyte.schema import FEATURES, LABEL
from flyte.workflows.example import diabetes_xgboost_model

# Six test rows worked by hand: true positives at 2 and 4, a false negative at 3, a false positive at 1.
LABELS = [0, 0, 1, 1, 1, 0]
PREDICTED = [0, 1, 1, 0, 1, 0]
PROBABILITY = [0.1, 0.6, 0.8, 0.4, 0.9, 0.2]

CARD = ModelCard(
    dataset_source="s3://bucket/data/<patients>.csv",  # the < > must be shown, not read as a tag
    dataset_sha256="ab" * 32,
    training_rows=12,
    test_rows=6,
    hyperparameters=asdict(Hyperparameters(max_depth=3)),
    seed=11,
    library_versions={"xgboost": "9.9.9", "numpy": "1.0"},
    trained_at="2026-01-02T03:04:05+00:00",
    execution_id="flytesnacks:development:abc123",
)


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
        if section in ("model-card", "champion-comparison", "metrics"):
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


def facts(html: str, section: str) -> dict[str, str]:
    """A label / value table of the report's section, as a dict."""
    parser = _Sections()
    parser.feed(html)
    cells = parser.sections[section]["cells"]
    return dict(zip(cells[0::2], cells[1::2], strict=True))


def report_with(card: ModelCard) -> str:
    result, curves = evaluate_with_curves(pd.Series(LABELS), pd.Series(PREDICTED), pd.Series(PROBABILITY))
    return evaluation_report_html(card, result, curves, {name: float(index) for index, name in enumerate(FEATURES)})


def test_report_has_every_section_with_its_chart():
    result, curves = evaluate_with_curves(pd.Series(LABELS), pd.Series(PREDICTED), pd.Series(PROBABILITY))
    importances = {name: float(index) for index, name in enumerate(FEATURES)}
    html = evaluation_report_html(CARD, result, curves, importances)
    assert_report_is_complete(html, result)
    assert html == evaluation_report_html(CARD, result, curves, importances)


def test_the_card_shows_where_the_model_came_from():
    card = replace(CARD, extra={"Workers": "4"})
    html = report_with(card)
    assert facts(html, "model-card") == {
        "Data set": "s3://bucket/data/<patients>.csv",
        "SHA-256": "ab" * 32,
        "Training rows": "12",
        "Test rows": "6",
        "Settings": "max_depth 3, learning_rate 0.1, n_estimators 100, objective binary:logistic, booster gbtree",
        "Seed": "11",
        "Libraries": "xgboost 9.9.9, numpy 1.0",
        "Trained": "2026-01-02T03:04:05+00:00",
        "Execution": "flytesnacks:development:abc123",
        "Workers": "4",
    }
    assert "&lt;patients&gt;" in html and "<patients>" not in html


def test_the_card_says_what_the_model_file_does_not_record():
    shown = facts(report_with(replace(CARD, dataset_source=None, training_rows=None, seed=None)), "model-card")
    assert [shown["Data set"], shown["Training rows"], shown["Seed"]] == ["not recorded"] * 3
    assert shown["Test rows"] == "6" and shown["SHA-256"] == "ab" * 32


@pytest.mark.parametrize(
    ("comparison", "shown"),
    [
        (None, None),
        (
            ChampionComparison("roc_auc", 0.81234, None, None, True, "no champion yet: the first model is promoted"),
            {"Decided by": "ROC AUC", "This model": "0.8123", "Champion": "none yet",
             "Verdict": "better: it becomes the champion", "Why": "no champion yet: the first model is promoted"},
        ),
        (
            ChampionComparison("roc_auc", 0.8, 0.8, "cd" * 32, False, "0.8000 ties the champion's 0.8000"),
            {"Decided by": "ROC AUC", "This model": "0.8000", "Champion": "0.8000", "Champion SHA-256": "cd" * 32,
             "Verdict": "not better: the champion stays", "Why": "0.8000 ties the champion's 0.8000"},
        ),
        (
            ChampionComparison("roc_auc", 0.9, 0.7, "cd" * 32, True, "0.9000 beats the champion's 0.7000"),
            {"Decided by": "ROC AUC", "This model": "0.9000", "Champion": "0.7000", "Champion SHA-256": "cd" * 32,
             "Verdict": "better: it becomes the champion", "Why": "0.9000 beats the champion's 0.7000"},
        ),
        (
            ChampionComparison("accuracy", 0.75, None, "ef" * 32, False,
                               "the champion was trained on other columns (glucose, bmi): not comparable"),
            {"Decided by": "Accuracy", "This model": "0.7500", "Champion": "not scored", "Champion SHA-256": "ef" * 32,
             "Verdict": "not better: the champion stays",
             "Why": "the champion was trained on other columns (glucose, bmi): not comparable"},
        ),
    ],
    ids=["not compared", "no champion yet", "tie", "better", "column mismatch"],
)
def test_the_champion_comparison_says_which_is_better_and_why(comparison, shown):
    html = report_with(replace(CARD, comparison=comparison))
    if shown is None:
        parser = _Sections()
        parser.feed(html)
        assert parser.sections["champion-comparison"]["cells"] == []
        assert "did not compare the model with a champion" in html
    else:
        assert facts(html, "champion-comparison") == shown


def test_the_page_fits_a_phone_screen():
    """Without a viewport, a phone lays the page out 980 px wide and shrinks it (the browser test checks the rest)."""
    page = html_page("Evaluation", report_with(CARD))
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.split("</head>")[0]


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
    saved = load_model(result.model.download())
    classifier = saved.classifier
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

    # Its card: the data set, split, settings and libraries of this run, computed here independently.
    card = facts(page, "model-card")
    assert card["Data set"] == str(synthetic_csv)
    assert card["SHA-256"] == hashlib.sha256(synthetic_csv.read_bytes()).hexdigest()
    assert (card["Training rows"], card["Test rows"]) == (str(len(data) - len(test)), str(len(test)))
    defaults = Hyperparameters()
    assert card["Settings"] == ", ".join(f"{name} {value}" for name, value in asdict(defaults).items())
    assert card["Seed"] == "3" and card["Execution"] == "local"
    assert f"xgboost {xgboost.__version__}" in card["Libraries"]
    assert f"scikit-learn {metadata.version('scikit-learn')}" in card["Libraries"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", card["Trained"]), card["Trained"]
    assert card["Trained"] == saved.provenance.trained_at  # when fit trained it, not when score ran

    # The first model of this test's registry: nothing to compare with, so it becomes the champion.
    comparison = facts(page, "champion-comparison")
    expected_roc_auc = sklearn_metrics.roc_auc_score(test[LABEL], probability)
    assert (comparison["Decided by"], comparison["This model"]) == ("ROC AUC", f"{expected_roc_auc:.4f}")
    assert (comparison["Champion"], comparison["Verdict"]) == ("none yet", "better: it becomes the champion")


@pytest.mark.parametrize("booster", BOOSTERS)
def test_the_importances_axis_label_says_what_the_booster_measures_inside_the_chart(booster):
    """XGBoost's default importance is the gain of a tree model's splits and a linear model's coefficient (the label
    said "(weights for gblinear)" on every model); its ends were cut off when it was one line wider than the chart."""
    from flyte.report import _importances_figure

    figure = _importances_figure({name: float(index + 1) for index, name in enumerate(FEATURES)}, booster)
    figure.draw_without_rendering()  # lays the figure out (constrained layout) as saving it does
    (axes,) = figure.axes
    text = axes.xaxis.label.get_text()
    if booster == "gblinear":
        assert "coefficient" in text and "gain" not in text
    else:
        assert "gain of the feature's splits" in text and "gblinear" not in text and "coefficient" not in text
    label = axes.xaxis.label.get_window_extent()
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
