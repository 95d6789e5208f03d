"""The reference to beat: the pipeline as the original Flyte tutorial ("diabetes xgboost") built it.

A rendition of its approach, not its code: pandas' single-threaded CSV parser, scikit-learn's train_test_split,
FlyteSchema (deprecated since, still in flytekit 1.16) between the tasks, features and labels as separate
schemas, XGBClassifier with n_jobs=1, joblib for the model, sklearn's accuracy_score. Hyperparameters are the
project's (max_depth=4, ...), with the histogram method, so that the accuracy can be compared exactly.

    pyflyte run benchmarks/tutorial.py diabetes_xgboost_model --dataset DATA.csv
"""

import typing
from collections import OrderedDict

import joblib
import pandas as pd
from flytekit import Resources, current_context, task, workflow
from flytekit.types.file import FlyteFile, JoblibSerializedFile
from flytekit.types.schema import FlyteSchema
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier

from flyte.schema import FEATURE_TYPES, LABEL

FEATURE_COLUMNS = OrderedDict(FEATURE_TYPES)
CLASSES_COLUMNS = OrderedDict({LABEL: int})
Features = FlyteSchema[FEATURE_COLUMNS]
Classes = FlyteSchema[CLASSES_COLUMNS]


class Split(typing.NamedTuple):
    x_train: Features
    x_test: Features
    y_train: Classes
    y_test: Classes


class Outputs(typing.NamedTuple):
    model: JoblibSerializedFile
    accuracy: float


TASK = dict(cache=True, cache_version="1.0", limits=Resources(mem="8Gi"))


@task(**TASK)
def split_traintest_dataset(dataset: FlyteFile[typing.TypeVar("csv")], seed: int, test_split_ratio: float) -> Split:
    frame = pd.read_csv(dataset, header=None)
    x, y = frame[frame.columns[:-1]], frame[[frame.columns[-1]]]
    x.columns, y.columns = list(FEATURE_COLUMNS), list(CLASSES_COLUMNS)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_split_ratio, random_state=seed)
    return Split(x_train, x_test, y_train, y_test)


@task(**TASK)
def fit(x: Features, y: Classes, seed: int) -> JoblibSerializedFile:
    model = XGBClassifier(
        n_jobs=1, max_depth=4, learning_rate=0.1, n_estimators=100, objective="binary:logistic",
        booster="gbtree", tree_method="hist", random_state=seed,
    )
    model.fit(x.open().all(), y.open().all())
    path = f"{current_context().working_directory}/model.joblib.dat"
    joblib.dump(model, path)
    return JoblibSerializedFile(path=path)


@task(**TASK)
def predict(x: Features, model_ser: JoblibSerializedFile) -> Classes:
    model = joblib.load(model_ser)
    predictions = pd.DataFrame(model.predict(x.open().all()), columns=list(CLASSES_COLUMNS), dtype="int64")
    schema = Classes()
    schema.open().write(predictions)
    return schema


@task(**TASK)
def score(predictions: Classes, y: Classes) -> float:
    return float(accuracy_score(y.open().all(), predictions.open().all()))


@workflow
def diabetes_xgboost_model(
    dataset: FlyteFile[typing.TypeVar("csv")], test_split_ratio: float = 0.33, seed: int = 7
) -> Outputs:
    x_train, x_test, y_train, y_test = split_traintest_dataset(
        dataset=dataset, seed=seed, test_split_ratio=test_split_ratio
    )
    model = fit(x=x_train, y=y_train, seed=seed)
    predictions = predict(x=x_test, model_ser=model)
    return Outputs(model=model, accuracy=score(predictions=predictions, y=y_test))
