"""The grid, the cross-validation (against scikit-learn's cross_val_score and GridSearchCV) and the tuning workflow,
on small grids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost
from flytekit.types.file import FlyteFile
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, train_test_split
from xgboost import XGBClassifier

from flyte.hyperparameters import HyperparameterGrid, Hyperparameters
from flyte.model import xgboost_settings
from flyte.schema import FEATURES, LABEL
from flyte.tuning import CrossValidationScore, best_score, cross_validate_group, grid_groups
from tests.conftest import REAL_DATASET, synthetic_rows
from tests.reference import plain_accuracy

SMALL_GRID = HyperparameterGrid(max_depth=[1, 3], learning_rate=[0.3], n_estimators=[5, 20])


def synthetic_frame(count: int, seed: int = 0) -> pd.DataFrame:
    return pd.DataFrame(synthetic_rows(count, seed), columns=[*FEATURES, LABEL])


def sklearn_mean_roc_auc(train: pd.DataFrame, hyperparameters: Hyperparameters, folds: int, seed: int) -> float:
    """The same cross-validation done by scikit-learn's cross_val_score, of the classifier train_model fits."""
    model = XGBClassifier(**xgboost_settings(hyperparameters), random_state=seed)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_score(model, train[list(FEATURES)], train[LABEL], cv=splitter, scoring="roc_auc").mean()


def test_grid_points_are_every_combination_in_order():
    points = SMALL_GRID.points()
    assert [(point.max_depth, point.n_estimators) for point in points] == [(1, 5), (1, 20), (3, 5), (3, 20)]
    assert {(point.learning_rate, point.objective, point.booster) for point in points} == {
        (0.3, "binary:logistic", "gbtree")
    }
    assert len(HyperparameterGrid().points()) == 4 * 3 * 3


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"max_depth": []}, r"grid field max_depth must list one or more distinct values, got \[\]"),
        ({"n_estimators": [5, 5]}, r"grid field n_estimators must .* distinct values, got \[5, 5\]"),
        ({"booster": ["gbtree", "forest"]}, r"booster must be one of .*, got 'forest'"),
    ],
)
def test_bad_grids_are_refused_when_made(settings, message):
    with pytest.raises(ValueError, match=message):
        HyperparameterGrid(**settings)


def test_grid_groups_share_depth_and_learning_rate_and_join_back_into_the_grid():
    grid = HyperparameterGrid(max_depth=[1, 3], learning_rate=[0.1, 0.3], n_estimators=[5, 20],
                              booster=["gbtree", "dart"])
    groups = grid_groups(grid.points())
    shared = [{(point.max_depth, point.learning_rate) for point in group} for group in groups]
    assert shared == [{(1, 0.1)}, {(1, 0.3)}, {(3, 0.1)}, {(3, 0.3)}]
    assert [point for group in groups for point in group] == grid.points()


def test_the_first_trees_of_a_longer_run_are_the_shorter_model():
    """What scoring every n_estimators from one training rests on: gbtree, seeded, no row or column sampling."""
    train = synthetic_frame(300)
    matrix = xgboost.QuantileDMatrix(train[list(FEATURES)], train[LABEL])
    settings = {"max_depth": 3, "learning_rate": 0.3, "objective": "binary:logistic", "random_state": 4}
    longer = xgboost.train(settings, matrix, num_boost_round=20)
    for trees in (1, 5, 12):
        shorter = xgboost.train(settings, matrix, num_boost_round=trees)
        assert longer.get_dump()[:trees] == shorter.get_dump()
        assert np.array_equal(longer.inplace_predict(train[list(FEATURES)], iteration_range=(0, trees)),
                              shorter.inplace_predict(train[list(FEATURES)]))


@pytest.mark.parametrize("booster", ["gbtree", "dart", "gblinear"])
def test_cross_validation_of_a_group_matches_scikit_learn_point_by_point(booster):
    train = synthetic_frame(120)
    points = HyperparameterGrid(max_depth=[2], learning_rate=[0.3], n_estimators=[3, 10, 6], booster=[booster]).points()
    scores = cross_validate_group(train, points, folds=4, seed=5)
    assert [score.hyperparameters for score in scores] == points
    for score, point in zip(scores, points, strict=True):
        assert len(score.fold_roc_auc) == 4
        assert score.mean_roc_auc == pytest.approx(sum(score.fold_roc_auc) / 4)
        assert score.mean_roc_auc == pytest.approx(sklearn_mean_roc_auc(train, point, 4, 5))
    assert cross_validate_group(train, points, folds=4, seed=5) == scores  # deterministic


def test_tuning_chooses_what_grid_search_chooses_on_the_bundled_data():
    """GridSearchCV over the same estimator, grid, folds and split ranks every point as the tuning does."""
    data = pd.read_csv(REAL_DATASET, header=None, names=[*FEATURES, LABEL])
    train, _ = train_test_split(data, test_size=0.33, random_state=7)
    grid = HyperparameterGrid(max_depth=[2, 4], learning_rate=[0.1, 0.3], n_estimators=[50, 100])
    scores = [score for group in grid_groups(grid.points()) for score in cross_validate_group(train, group, 5, 7)]
    search = GridSearchCV(
        XGBClassifier(objective="binary:logistic", booster="gbtree", random_state=7, n_jobs=1),
        {"max_depth": grid.max_depth, "learning_rate": grid.learning_rate, "n_estimators": grid.n_estimators},
        scoring="roc_auc", cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=7),
    ).fit(train[list(FEATURES)], train[LABEL])
    results = zip(search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True)
    searched = {tuple(sorted(params.items())): mean for params, mean in results}
    for score in scores:
        point = score.hyperparameters
        key = (("learning_rate", point.learning_rate), ("max_depth", point.max_depth),
               ("n_estimators", point.n_estimators))
        assert score.mean_roc_auc == pytest.approx(searched[key])
    chosen = best_score(scores).hyperparameters
    assert {"learning_rate": chosen.learning_rate, "max_depth": chosen.max_depth,
            "n_estimators": chosen.n_estimators} == search.best_params_


def test_too_many_folds_for_the_rarer_class_is_refused():
    train = synthetic_frame(40)
    rarer = int(train[LABEL].value_counts().min())
    with pytest.raises(ValueError, match=rf"folds must be between 2 and {rarer}, .* in the 40 training rows"):
        cross_validate_group(train, [Hyperparameters()], folds=rarer + 1, seed=0)


def test_best_score_is_the_highest_mean_and_the_first_on_a_tie():
    first, second, third = (Hyperparameters(max_depth=depth) for depth in (1, 2, 3))
    scores = [
        CrossValidationScore(first, [0.7], 0.7),
        CrossValidationScore(second, [0.9], 0.9),
        CrossValidationScore(third, [0.9], 0.9),
    ]
    assert best_score(scores).hyperparameters == second
    with pytest.raises(ValueError, match="no cross-validation scores"):
        best_score([])


def test_tuning_workflow_picks_the_best_grid_point_and_evaluates_it_once(tmp_path, synthetic_csv):
    from flyte.workflows.tuning import diabetes_xgboost_tuning

    result = diabetes_xgboost_tuning(
        dataset=FlyteFile(str(synthetic_csv)), test_split_ratio=0.25, seed=3, grid=SMALL_GRID, folds=3
    )

    data = pd.read_csv(synthetic_csv, header=None, names=[*FEATURES, LABEL])
    train, _ = train_test_split(data, test_size=0.25, random_state=3)
    expected = [sklearn_mean_roc_auc(train, point, folds=3, seed=3) for point in SMALL_GRID.points()]
    assert [score.hyperparameters for score in result.cross_validation] == SMALL_GRID.points()
    assert [score.mean_roc_auc for score in result.cross_validation] == pytest.approx(expected)
    assert result.hyperparameters == SMALL_GRID.points()[expected.index(max(expected))]
    assert result.accuracy == result.metrics.accuracy == plain_accuracy(
        synthetic_csv, test_split_ratio=0.25, seed=3, **vars(result.hyperparameters)
    )


def test_grid_groups_fan_out_as_a_cached_map_task_with_bounded_concurrency():
    """On a cluster Flyte caches each sub-task of a map task by its own inputs: one cache entry per group."""
    from flytekit.configuration import ImageConfig, SerializationSettings
    from flytekit.tools.translator import get_serializable

    from flyte.workflows.tuning import PARALLEL_GRID_GROUPS, cross_validate_grid_group, diabetes_xgboost_tuning

    settings = SerializationSettings(image_config=ImageConfig.auto_default_image(), version="test")
    entities = {}
    workflow = get_serializable(entities, settings, diabetes_xgboost_tuning)
    (array_node,) = [node.array_node.to_flyte_idl() for node in workflow.template.nodes if node.array_node]
    assert array_node.parallelism == PARALLEL_GRID_GROUPS
    assert sorted(array_node.bound_inputs) == ["folds", "seed", "train"]
    (mapped,) = [entity.template for entity in entities.values()
                 if getattr(entity, "template", None) and entity.template.id.name.endswith("-arraynode")]
    assert mapped.metadata.discoverable
    assert mapped.metadata.discovery_version == cross_validate_grid_group.metadata.cache_version


def test_a_repeated_local_tuning_run_is_answered_from_the_cache(synthetic_csv, monkeypatch):
    """Locally flytekit runs a map task's sub-tasks in one go, so it caches the fan-out as a whole."""
    import flyte.workflows.tuning as tuning

    scored: list[Hyperparameters] = []

    def counting_cross_validate_group(train, points, folds, seed):
        scored.extend(points)
        return cross_validate_group(train, points, folds, seed)

    monkeypatch.setattr(tuning, "cross_validate_group", counting_cross_validate_group)
    grid = HyperparameterGrid(max_depth=[1, 2], learning_rate=[0.3], n_estimators=[5, 8])
    first = tuning.diabetes_xgboost_tuning(dataset=FlyteFile(str(synthetic_csv)), grid=grid, folds=3)
    second = tuning.diabetes_xgboost_tuning(dataset=FlyteFile(str(synthetic_csv)), grid=grid, folds=3)
    assert scored == grid.points()
    assert second.cross_validation == first.cross_validation
