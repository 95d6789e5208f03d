"""The tuning workflow's work done the usual way: scikit-learn's GridSearchCV over the same estimator, grid, folds and
split, then the refitted best model's accuracy on the held-out rows; no Flyte, no project code.

    python benchmarks/grid_search.py [DATA.csv] [--test-split-ratio 0.33] [--seed 7]

Prints the chosen settings and the accuracy, as `best={...} accuracy=...`. The default data is the bundled data set.
"""

import argparse
import json
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from xgboost import XGBClassifier

BUNDLED = Path(__file__).resolve().parent.parent / "flyte" / "data" / "pima-indians-diabetes.data.csv"
# The tuning workflow's default grid (flyte.hyperparameters.HyperparameterGrid), written out.
GRID = {"max_depth": [2, 3, 4, 6], "learning_rate": [0.03, 0.1, 0.3], "n_estimators": [50, 100, 200]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", nargs="?", default=str(BUNDLED))
    parser.add_argument("--test-split-ratio", type=float, default=0.33)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    data = pd.read_csv(args.dataset, header=None)
    x_train, x_test, y_train, y_test = train_test_split(
        data.iloc[:, :-1], data.iloc[:, -1], test_size=args.test_split_ratio, random_state=args.seed
    )
    estimator = XGBClassifier(objective="binary:logistic", booster="gbtree", random_state=args.seed)
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    search = GridSearchCV(estimator, GRID, scoring="roc_auc", cv=folds).fit(x_train, y_train)
    accuracy = accuracy_score(y_test, search.best_estimator_.predict(x_test))
    print(f"best={json.dumps(search.best_params_, sort_keys=True)} accuracy={accuracy}")


if __name__ == "__main__":
    main()
