"""Render the evaluation of a classifier as one self-contained HTML page (a metrics table and SVG charts), and a
tuning run's cross-validation scores as a table.

The charts are embedded as data URIs, so the page reads the same in the Flyte console, in a browser and offline.
matplotlib is imported only while rendering, so that importing this module stays cheap.
"""

from __future__ import annotations

import base64
import io
from html import escape

import numpy as np

from flyte.evaluation import Curves, Metrics
from flyte.tuning import CrossValidationScore

# Section id -> heading, in page order; tests and readers find each chart by its id.
SECTIONS = {
    "metrics": "Metrics",
    "confusion-matrix": "Confusion matrix",
    "roc-curve": "ROC curve",
    "precision-recall-curve": "Precision-recall curve",
    "feature-importances": "Feature importances",
}
CLASS_NAMES = ("not diabetic", "diabetic")
STYLE = """<style>
.evaluation { font-family: sans-serif; display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr));
  gap: 0 24px; max-width: 1200px; }
.evaluation table { border-collapse: collapse; }
.evaluation td.number { white-space: nowrap; }
.evaluation th, .evaluation td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
.evaluation td.number { text-align: right; font-variant-numeric: tabular-nums; }
.evaluation img { max-width: 100%; }
</style>"""


def evaluation_report_html(metrics: Metrics, curves: Curves, feature_importances: dict[str, float]) -> str:
    """HTML of the metrics table, confusion matrix, ROC and precision-recall curves and feature importances."""
    false_positive_rate, true_positive_rate = _thin(curves.false_positive_rate, curves.true_positive_rate)
    precision, recall = _thin(curves.precision, curves.recall)
    bodies = {
        "metrics": _metrics_table(metrics),
        "confusion-matrix": _image(_confusion_matrix_svg(metrics), "Confusion matrix of the test split"),
        "roc-curve": _image(
            _curve_svg(false_positive_rate, true_positive_rate, "False positive rate", "True positive rate",
                       f"ROC AUC {metrics.roc_auc:.3f}", chance=([0, 1], [0, 1]), drawstyle="default"),
            "ROC curve",
        ),
        "precision-recall-curve": _image(
            _curve_svg(recall, precision, "Recall", "Precision", "model",
                       chance=([0, 1], [metrics.diabetic_rows / metrics.test_rows] * 2), drawstyle="steps-post"),
            "Precision-recall curve",
        ),
        "feature-importances": _image(_importances_svg(feature_importances), "Feature importances"),
    }
    sections = "\n".join(
        f'<section id="{section}"><h2>{heading}</h2>\n{bodies[section]}\n</section>'
        for section, heading in SECTIONS.items()
    )
    return f'{STYLE}\n<div class="evaluation">\n{sections}\n</div>'


def html_page(title: str, body: str) -> str:
    """A complete HTML document around a report's HTML (the deck shows the body alone), for a file of its own."""
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
        f"</head>\n<body>\n<h1>{escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


# At most this many points per drawn curve: a 6-inch chart cannot show more, and at millions of test rows the
# curves have hundreds of thousands of thresholds, which would make the SVGs large and the step slow
# (docs/performance.md).
MAX_CURVE_POINTS = 2000


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
    table = f"<table><tr>{head}</tr>{''.join(rows)}</table>"
    section = f'<section id="cross-validation"><h2>Cross-validation</h2>\n{table}</section>'
    return f'{STYLE}\n<div class="evaluation" style="display: block">{section}</div>'


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every k-th point of a curve, first and last kept, so that it has at most MAX_CURVE_POINTS points."""
    if len(x) <= MAX_CURVE_POINTS:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, MAX_CURVE_POINTS).round().astype(int))
    return x[keep], y[keep]


def _metrics_table(metrics: Metrics) -> str:
    """The metrics as a name / value / meaning table, with the class balance of the test split."""
    share = metrics.diabetic_rows / metrics.test_rows
    rows = [
        ("Accuracy", f"{metrics.accuracy:.4f}", "share of test rows classified correctly"),
        ("ROC AUC", f"{metrics.roc_auc:.4f}", "chance that a diabetic patient gets a higher probability than not"),
        ("Precision", f"{metrics.precision:.4f}", "share of predicted diabetic that are diabetic"),
        ("Recall", f"{metrics.recall:.4f}", "share of diabetic patients found"),
        ("F1", f"{metrics.f1:.4f}", "harmonic mean of precision and recall"),
        ("Log loss", f"{metrics.log_loss:.4f}", "mean negative log-likelihood of the probabilities (lower is better)"),
        ("Test rows", str(metrics.test_rows), "size of the held-out split"),
        ("Class balance", f"{metrics.diabetic_rows} diabetic ({share:.1%}) / {metrics.non_diabetic_rows} not",
         "labels in the held-out split"),
    ]
    body = "".join(
        f"<tr><th>{escape(name)}</th><td class=\"number\">{escape(value)}</td><td>{escape(meaning)}</td></tr>"
        for name, value, meaning in rows
    )
    return f"<table>{body}</table>"


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


def _importances_svg(feature_importances: dict[str, float]) -> str:
    return _svg(_importances_figure(feature_importances))


def _importances_figure(feature_importances: dict[str, float]):
    """Horizontal bars of the feature importances, most important on top."""
    ordered = sorted(feature_importances.items(), key=lambda item: item[1])
    figure, axes = _figure(6, 0.45 * len(ordered) + 1.3)
    axes.barh([name for name, _ in ordered], [value for _, value in ordered], color="tab:blue")
    # Two lines: on one, the label is wider than the 6-inch chart and its ends are cut off.
    axes.set_xlabel("mean gain of the feature's splits, normalised to sum to 1\n(weights for gblinear)")
    axes.grid(axis="x", alpha=0.3)
    return figure
