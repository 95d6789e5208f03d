"""The floor: the pipeline's split, fit, predict and score with the bare libraries, in one process, no Flyte.

Same libraries and settings as the workflow: pyarrow's multi-threaded CSV parser, scikit-learn's shuffle split
(as a numpy permutation), XGBoost's sklearn API with the histogram method on all cores, the same hyperparameters
and seed; it predicts the class and probability of every test row, as the workflow does. Prints the accuracy.

    python benchmarks/plain.py DATA.csv [--test-split-ratio 0.33] [--seed 7] [--same-work]

With --same-work it also does what the workflow's steps do beyond the model and its accuracy, with the project's
Flyte-free functions: save the model with the data set's SHA-256 (flyte.digest.file_sha256,
flyte.model_file.save_model), compute the evaluation metrics (flyte.evaluation) and render the evaluation report
(flyte.report) to an HTML file.
"""

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from xgboost import XGBClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the flyte package, run as a script from anywhere

from flyte.schema import COLUMN_TYPES, FEATURES, LABEL  # noqa: E402  (the column names and types, no other code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--test-split-ratio", type=float, default=0.33)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--same-work", action="store_true", help="also save the model, evaluate and render the report")
    args = parser.parse_args()

    data = pacsv.read_csv(
        args.dataset,
        read_options=pacsv.ReadOptions(column_names=list(COLUMN_TYPES)),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.float64() if kind is float else pa.int64() for name, kind in COLUMN_TYPES.items()}
        ),
    ).to_pandas()

    # sklearn's train_test_split(test_size=ratio, random_state=seed, shuffle=True), without importing it.
    test_rows = math.ceil(args.test_split_ratio * len(data))
    permutation = np.random.RandomState(args.seed).permutation(len(data))
    train, test = data.iloc[permutation[test_rows:]], data.iloc[permutation[:test_rows]]

    model = XGBClassifier(
        max_depth=4, learning_rate=0.1, n_estimators=100, objective="binary:logistic", booster="gbtree",
        tree_method="hist", n_jobs=None, random_state=args.seed,
    )
    model.fit(train[list(FEATURES)], train[LABEL])

    # Class and probability of every test row, in one pass (for binary:logistic, predict() is proba > 0.5).
    probability = model.predict_proba(test[list(FEATURES)])[:, 1]
    predicted = (probability > 0.5).astype("int64")
    print(f"accuracy={float((predicted == test[LABEL].to_numpy()).mean())}")
    if args.same_work:
        labels = test[LABEL].reset_index(drop=True)
        same_work(args.dataset, len(train), args.seed, model, labels, predicted, probability)


def same_work(dataset, training_rows, seed, model, labels, predicted, probability) -> None:
    """The fit step's model file and the score step's metrics and report (with the model's card), without Flyte."""
    import tempfile
    from dataclasses import asdict

    import pandas as pd

    from flyte.digest import file_sha256
    from flyte.evaluation import evaluate_with_curves
    from flyte.hyperparameters import Hyperparameters
    from flyte.model import feature_importances
    from flyte.model_file import Provenance, save_model, utc_now
    from flyte.report import evaluation_report_html

    with tempfile.TemporaryDirectory() as folder:
        provenance = Provenance(
            dataset_source=str(dataset), training_rows=training_rows, hyperparameters=asdict(Hyperparameters()),
            seed=seed, trained_at=utc_now(), execution_id="local",
        )  # fmt: skip
        saved = save_model(model, file_sha256(dataset), f"{folder}/model.json", provenance)
        predicted, probability = pd.Series(predicted), pd.Series(probability.astype("float64"))
        metrics, curves = evaluate_with_curves(labels, predicted, probability)
        report = evaluation_report_html(saved.card(len(labels)), metrics, curves, feature_importances(model))
        with open(f"{folder}/evaluation.html", "w") as stream:
            stream.write(report)
    print(f"metrics accuracy={metrics.accuracy}")


if __name__ == "__main__":
    main()
