"""Render the evaluation of a classifier as one self-contained HTML page (the model's card, its comparison with the
champion, a metrics table and SVG charts), and a tuning run's cross-validation scores as a table.

The charts are embedded as data URIs, so the page reads the same in the Flyte console, in a browser and offline. The
layout wraps to one column on a phone (360 px) and two on a desktop; a table wider than the screen scrolls inside its
own box. matplotlib is imported only while rendering, so that importing this module stays cheap.
"""

from __future__ import annotations

import base64
import io
from html import escape

import numpy as np

from flyte.evaluation import Curves, Metrics
from flyte.model_card import ChampionComparison, ModelCard
from flyte.tuning import CrossValidationScore

# Section id -> heading, in page order; tests and readers find each section by its id.
SECTIONS = {
    "model-card": "Model card",
    "champion-comparison": "Champion comparison",
    "metrics": "Metrics",
    "confusion-matrix": "Confusion matrix",
    "roc-curve": "ROC curve",
    "precision-recall-curve": "Precision-recall curve",
    "feature-importances": "Feature importances",
}
CLASS_NAMES = ("not diabetic", "diabetic")
# A fact of the card that the model file does not record.
NOT_RECORDED = "<em>not recorded</em>"
# How the metrics (flyte.evaluation.Metrics fields) are named on the page.
METRIC_NAMES = {
    "accuracy": "Accuracy",
    "roc_auc": "ROC AUC",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "log_loss": "Log loss",
}
# What XGBoost's default importance type measures, by booster (XGBModel.feature_importances_: "gain" for trees,
# "weight", the linear coefficient, for gblinear), both divided by their sum. Two lines: on one, the label is wider
# than the 6-inch chart and its ends are cut off.
DEFAULT_BOOSTER = "gbtree"  # XGBoost's, for settings that name none
IMPORTANCE_LABELS = {
    "gbtree": "mean gain of the feature's splits,\nnormalised to sum to 1",
    "dart": "mean gain of the feature's splits,\nnormalised to sum to 1",
    "gblinear": "the feature's coefficient in the linear model,\ndivided by the sum of the coefficients",
}
# min(100%, 480px): one column as narrow as the screen on a phone, two from about 1000 px. min-width: 0 lets a
# section shrink below its content (a wide table then scrolls in its .scroll box instead of widening the page).
STYLE = """<style>
.evaluation { font-family: sans-serif; display: grid; gap: 0 24px; max-width: 1200px;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 480px), 1fr)); }
.evaluation section { min-width: 0; }
.evaluation .scroll { overflow-x: auto; }
.evaluation table { border-collapse: collapse; }
.evaluation th, .evaluation td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; vertical-align: top; }
.evaluation td.number { text-align: right; font-variant-numeric: tabular-nums; }
.evaluation code { overflow-wrap: anywhere; }
.evaluation img { max-width: 100%; height: auto; }
</style>"""


def evaluation_report_html(
    card: ModelCard, metrics: Metrics, curves: Curves, feature_importances: dict[str, float]
) -> str:
    """HTML of the model's card and champion comparison, the metrics table, confusion matrix, ROC and
    precision-recall curves and feature importances (labelled for the booster in card.hyperparameters)."""
    drawn = curves.thinned()
    bodies = {
        "model-card": _card_table(card),
        "champion-comparison": _comparison_html(card.comparison),
        "metrics": _metrics_table(metrics),
        "confusion-matrix": _image(_confusion_matrix_svg(metrics), "Confusion matrix of the test split"),
        "roc-curve": _image(
            _curve_svg(drawn.false_positive_rate, drawn.true_positive_rate, "False positive rate", "True positive rate",
                       f"ROC AUC {metrics.roc_auc:.3f}", chance=([0, 1], [0, 1]), drawstyle="default"),
            "ROC curve",
        ),
        "precision-recall-curve": _image(
            _curve_svg(drawn.recall, drawn.precision, "Recall", "Precision", "model",
                       chance=([0, 1], [metrics.diabetic_rows / metrics.test_rows] * 2), drawstyle="steps-post"),
            "Precision-recall curve",
        ),
        "feature-importances": _image(
            _importances_svg(feature_importances, str(card.hyperparameters.get("booster", DEFAULT_BOOSTER))),
            "Feature importances",
        ),
    }
    sections = "\n".join(
        f'<section id="{section}"><h2>{heading}</h2>\n{bodies[section]}\n</section>'
        for section, heading in SECTIONS.items()
    )
    return f'{STYLE}\n<div class="evaluation">\n{sections}\n</div>'


def html_page(title: str, body: str) -> str:
    """A complete HTML document around a report's HTML (the deck shows the body alone), for a file of its own."""
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
        f"</head>\n<body>\n<h1>{escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


def cross_validation_html(scores: list[CrossValidationScore], chosen: CrossValidationScore) -> str:
    """HTML table of every grid point's settings and validation ROC AUC, best first, the chosen one marked."""
    settings = list(vars(chosen.hyperparameters))
    folds = len(chosen.fold_roc_auc)
    head = "".join(
        f"<th>{escape(name)}</th>"
        for name in ["rank", *settings, "mean ROC AUC", *(f"fold {fold}" for fold in range(1, folds + 1)), ""]
    )
    rows = []
    for rank, score in enumerate(sorted(scores, key=lambda score: -score.mean_roc_auc), start=1):
        values = [escape(str(value)) for value in vars(score.hyperparameters).values()]
        numbers = [f"{score.mean_roc_auc:.4f}", *(f"{value:.4f}" for value in score.fold_roc_auc)]
        cells = [f'<td class="number">{rank}</td>', *(f"<td>{value}</td>" for value in values)]
        cells += [f'<td class="number">{number}</td>' for number in numbers]
        cells.append("<td>chosen</td>" if score is chosen else "<td></td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    table = f"<div class=\"scroll\"><table><tr>{head}</tr>{''.join(rows)}</table></div>"
    section = f'<section id="cross-validation"><h2>Cross-validation</h2>\n{table}</section>'
    return f'{STYLE}\n<div class="evaluation" style="display: block">{section}</div>'


def _facts_table(facts: list[tuple[str, str]]) -> str:
    """A two-column table of label / value rows (values already HTML), in a box that scrolls if it must."""
    body = "".join(f"<tr><th>{escape(label)}</th><td>{value}</td></tr>" for label, value in facts)
    return f'<div class="scroll"><table>{body}</table></div>'


def _card_table(card: ModelCard) -> str:
    """Where the model came from: data set, rows, settings, libraries, when and in which execution."""
    listed = [
        ("Data set", NOT_RECORDED if card.dataset_source is None else f"<code>{escape(card.dataset_source)}</code>"),
        ("SHA-256", f"<code>{escape(card.dataset_sha256)}</code>"),
        ("Training rows", NOT_RECORDED if card.training_rows is None else str(card.training_rows)),
        ("Test rows", str(card.test_rows)),
        ("Settings", escape(", ".join(f"{name} {value}" for name, value in card.hyperparameters.items()))),
        ("Seed", NOT_RECORDED if card.seed is None else str(card.seed)),
        ("Libraries", escape(", ".join(f"{name} {version}" for name, version in card.library_versions.items()))),
        ("Trained", escape(card.trained_at)),
        ("Execution", f"<code>{escape(card.execution_id)}</code>"),
    ]
    listed += [(label, escape(value)) for label, value in card.extra.items()]
    return _facts_table(listed)


def _comparison_html(comparison: ChampionComparison | None) -> str:
    """The challenger's and the champion's score by the deciding metric, which is better and why."""
    if comparison is None:
        return "<p>This run did not compare the model with a champion.</p>"
    metric = METRIC_NAMES.get(comparison.metric, comparison.metric)
    if comparison.champion_digest is None:
        champion = "none yet"
    elif comparison.champion is None:
        champion = "not scored"
    else:
        champion = f"{comparison.champion:.4f}"
    listed = [
        ("Decided by", escape(metric)),
        ("This model", f"{comparison.challenger:.4f}"),
        ("Champion", champion),
    ]
    if comparison.champion_digest is not None:
        listed.append(("Champion SHA-256", f"<code>{escape(comparison.champion_digest)}</code>"))
    verdict = "better: it becomes the champion" if comparison.better else "not better: the champion stays"
    listed += [("Verdict", verdict), ("Why", escape(comparison.reason))]
    return _facts_table(listed)


def _metrics_table(metrics: Metrics) -> str:
    """The metrics as a name / value / meaning table, with the class balance of the test split."""
    share = metrics.diabetic_rows / metrics.test_rows
    meanings = {
        "accuracy": "share of test rows classified correctly",
        "roc_auc": "chance that a diabetic patient gets a higher probability than not",
        "precision": "share of predicted diabetic that are diabetic",
        "recall": "share of diabetic patients found",
        "f1": "harmonic mean of precision and recall",
        "log_loss": "mean negative log-likelihood of the probabilities (lower is better)",
    }
    rows = [(METRIC_NAMES[name], f"{getattr(metrics, name):.4f}", meaning) for name, meaning in meanings.items()]
    rows += [
        ("Test rows", str(metrics.test_rows), "size of the held-out split"),
        ("Class balance", f"{metrics.diabetic_rows} diabetic ({share:.1%}) / {metrics.non_diabetic_rows} not",
         "labels in the held-out split"),
    ]
    body = "".join(
        f"<tr><th>{escape(name)}</th><td class=\"number\">{escape(value)}</td><td>{escape(meaning)}</td></tr>"
        for name, value, meaning in rows
    )
    return f'<div class="scroll"><table>{body}</table></div>'


def _image(svg: str, description: str) -> str:
    """An <img> carrying the SVG as a data URI, so the deck needs no other file."""
    encoded = base64.b64encode(svg.encode()).decode()
    return f'<img alt="{escape(description)}" src="data:image/svg+xml;base64,{encoded}">'


def _figure(width: float = 6, height: float = 4.5):
    """A new figure and axes drawn without a display (Agg canvas), detached from pyplot's global state."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def _svg(figure) -> str:
    """The figure as SVG text, text kept as paths and no timestamp, so the same figure gives the same bytes."""
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "evaluation-report"}):
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _confusion_matrix_svg(metrics: Metrics) -> str:
    """The 2x2 counts of true against predicted class, shaded by count."""
    counts = np.array(
        [[metrics.true_negatives, metrics.false_positives], [metrics.false_negatives, metrics.true_positives]]
    )
    figure, axes = _figure(4.8, 4)
    axes.imshow(counts, cmap="Blues", vmin=0)
    for (row, column), count in np.ndenumerate(counts):
        color = "white" if count > counts.max() / 2 else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=color, fontsize=16)
    axes.set_xticks([0, 1], [f"predicted {name}" for name in CLASS_NAMES])
    axes.set_yticks([0, 1], [f"actually {name}" for name in CLASS_NAMES], rotation=90, va="center")
    return _svg(figure)


def _curve_svg(x, y, x_label: str, y_label: str, label: str, chance: tuple[list, list], drawstyle: str) -> str:
    """A curve in the unit square with the dashed line a random classifier would draw."""
    figure, axes = _figure()
    axes.plot(x, y, label=label, linewidth=2, drawstyle=drawstyle)
    axes.plot(*chance, linestyle="--", color="grey", label="chance")
    axes.set(xlabel=x_label, ylabel=y_label, xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="best")
    axes.grid(alpha=0.3)
    return _svg(figure)


def _importances_svg(feature_importances: dict[str, float], booster: str) -> str:
    return _svg(_importances_figure(feature_importances, booster))


def _importances_figure(feature_importances: dict[str, float], booster: str):
    """Horizontal bars of the feature importances, most important on top, the axis saying what they measure."""
    ordered = sorted(feature_importances.items(), key=lambda item: item[1])
    figure, axes = _figure(6, 0.45 * len(ordered) + 1.3)
    axes.barh([name for name, _ in ordered], [value for _, value in ordered], color="tab:blue")
    axes.set_xlabel(IMPORTANCE_LABELS[booster])
    axes.grid(axis="x", alpha=0.3)
    return figure
