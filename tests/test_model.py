"""Hyperparameter defaults, training and scoring as plain functions (bad settings: tests/test_hardening.py)."""

import json
from itertools import product

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.metrics import accuracy_score, roc_auc_score
from xgboost import XGBClassifier

from flyte.evaluation import accuracy
from flyte.hyperparameters import BOOSTERS, OBJECTIVES, Hyperparameters
from flyte.model import SINGLE_THREAD_TRAINING_ROWS, classify, feature_importances, train_model
from flyte.schema import COLUMNS, FEATURES, LABEL
from tests.conftest import synthetic_rows


def test_defaults_are_the_tutorials():
    assert Hyperparameters() == Hyperparameters(
        max_depth=4, learning_rate=0.1, n_estimators=100, objective="binary:logistic", booster="gbtree"
    )


@pytest.mark.parametrize("objective, booster", list(product(OBJECTIVES, BOOSTERS)))
def test_every_allowed_objective_and_booster_trains_as_plain_xgboost(objective, booster):
    """Each setting gives XGBoost's own model, and the same one on every run (gblinear's default is not)."""
    data = pd.DataFrame(synthetic_rows(300, seed=2), columns=list(COLUMNS))
    train, test = data.iloc[:200], data.iloc[200:]
    settings = Hyperparameters(max_depth=3, n_estimators=20, objective=objective, booster=booster)
    model = train_model(train, settings, seed=5)
    predictions = classify(model, test)

    # gblinear: no trees, and the deterministic coordinate descent rather than XGBoost's default lock-free one.
    shape = {"updater": "coord_descent"} if booster == "gblinear" else {"max_depth": 3}
    reference = XGBClassifier(
        **shape, learning_rate=0.1, n_estimators=20, objective=objective, booster=booster, random_state=5
    ).fit(train[list(FEATURES)], train[LABEL])
    probability = reference.predict_proba(test[list(FEATURES)])[:, 1]
    np.testing.assert_allclose(predictions["probability"], probability)
    np.testing.assert_array_equal(predictions["predicted"], reference.predict(test[list(FEATURES)]))
    assert accuracy(test[LABEL], predictions["predicted"]) == accuracy_score(
        test[LABEL], reference.predict(test[list(FEATURES)])
    )
    np.testing.assert_allclose(list(feature_importances(model).values()), reference.feature_importances_)
    assert ((probability > 0) & (probability < 1)).all()  # probabilities, not 0/1 classes: the evaluation ranks them
    assert roc_auc_score(test[LABEL], predictions["probability"]) > 0.8  # the synthetic label is learnable
    again = classify(train_model(train, settings, seed=5), test)
    pd.testing.assert_frame_equal(again, predictions)


def test_accuracy_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="3 labels but 2 predictions"):
        accuracy(pd.Series([0, 1, 1]), pd.Series([0, 1]))


def test_small_trainings_run_on_one_thread_and_the_saved_booster_keeps_no_thread_count():
    """Small data trains on one thread; the booster bytes a model file holds (save_raw "ubj", flyte.model_file) load
    with XGBoost's default thread count, so a model predicts on the threads of wherever it is loaded."""
    def threads(booster) -> str:
        return json.loads(booster.save_config())["learner"]["generic_param"]["nthread"]

    small = pd.DataFrame(synthetic_rows(200), columns=list(COLUMNS))
    model = train_model(small, Hyperparameters(n_estimators=5), seed=0)
    assert threads(model.get_booster()) == "1"
    loaded = xgboost.Booster()
    loaded.load_model(bytearray(model.get_booster().save_raw("ubj")))
    assert threads(loaded) == "0"  # XGBoost's own choice: every usable core, within the CPU quota
    large = pd.DataFrame(synthetic_rows(SINGLE_THREAD_TRAINING_ROWS + 1), columns=list(COLUMNS))
    assert threads(train_model(large, Hyperparameters(n_estimators=1), seed=0).get_booster()) == "0"
