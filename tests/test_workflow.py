"""The tasks called directly and the workflow run in-process on synthetic data (on the bundled file:
tests/test_bundled.py); the local cache across in-place edits and deleted outputs."""

import hashlib
import os
from dataclasses import asdict
from pathlib import Path

import diskcache
import numpy as np
import pandas as pd
import pytest
from flytekit import StructuredDataset
from flytekit.types.file import FlyteFile
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from xgboost import XGBClassifier

from flyte.hyperparameters import Hyperparameters
from flyte.model_card import ChampionComparison
from flyte.model_file import load_model
from flyte.registry import ModelRegistry
from flyte.schema import COLUMNS, FEATURES, LABEL
from flyte.workflows.example import diabetes_xgboost_model, fit, predict, score, split_traintest_dataset
from tests.conftest import synthetic_rows, write_csv
from tests.reference import plain_accuracy, plain_model, plain_split

# What compare_with_champion says with no champion: the score task's comparison input when tasks are called directly.
NO_CHAMPION = ChampionComparison("roc_auc", 0.5, None, None, True, "no champion yet: the first model is promoted")


def test_tasks_called_directly(synthetic_csv):
    train, test, dataset_sha256, dataset_source = split_traintest_dataset(
        dataset=FlyteFile(str(synthetic_csv)), test_split_ratio=0.25, seed=3
    )
    assert dataset_sha256 == hashlib.sha256(synthetic_csv.read_bytes()).hexdigest()
    assert dataset_source == str(synthetic_csv)
    train_frame, test_frame = train.open(pd.DataFrame).all(), test.open(pd.DataFrame).all()
    assert (len(train_frame), len(test_frame)) == (150, 50)
    assert list(train_frame.columns) == list(COLUMNS) == list(test_frame.columns)

    model_file = fit(
        train=StructuredDataset(dataframe=train_frame),
        hyperparameters=Hyperparameters(),
        seed=3,
        dataset_sha256="ab" * 32,
        dataset_source="the given rows",
    )
    model_path = Path(model_file.download())
    assert model_path.name == "model.json" and model_path.parent != Path.cwd()
    provenance = load_model(model_path).provenance
    assert (provenance.dataset_source, provenance.training_rows, provenance.seed) == ("the given rows", 150, 3)
    assert provenance.hyperparameters == asdict(Hyperparameters())
    assert provenance.execution_id == "local"
    classifier = XGBClassifier(**asdict(Hyperparameters()), random_state=3).fit(
        train_frame[list(FEATURES)], train_frame[LABEL]
    )

    predictions = predict(test=StructuredDataset(dataframe=test_frame), model=model_file).open(pd.DataFrame).all()
    assert list(predictions.columns) == ["predicted", "probability"]
    expected_classes = classifier.predict(test_frame[list(FEATURES)])
    assert predictions["predicted"].tolist() == expected_classes.tolist()
    np.testing.assert_allclose(predictions["probability"], classifier.predict_proba(test_frame[list(FEATURES)])[:, 1])

    evaluation = score(
        test=StructuredDataset(dataframe=test_frame),
        predictions=StructuredDataset(dataframe=predictions),
        model=model_file,
        comparison=NO_CHAMPION,
    )
    assert evaluation.accuracy == accuracy_score(test_frame[LABEL], expected_classes)
    assert evaluation.accuracy == plain_accuracy(synthetic_csv, test_split_ratio=0.25, seed=3)


def test_the_workflow_trains_and_evaluates_the_linear_booster_as_plain_xgboost(synthetic_csv):
    """The booster unlike the others all the way through (no trees, its own importances); every booster is checked
    against plain XGBoost in tests/test_model.py, the default one through the workflow in tests/test_bundled.py."""
    settings = Hyperparameters(booster="gblinear")
    result = diabetes_xgboost_model(dataset=FlyteFile(str(synthetic_csv)), hyperparameters=settings)

    # gblinear: no trees, and XGBoost's deterministic linear updater (flyte.model says why).
    _, x_test, _, y_test = plain_split(synthetic_csv)
    reference = plain_model(synthetic_csv, booster="gblinear", max_depth=None, updater="coord_descent")
    probability = reference.predict_proba(x_test)[:, 1]
    assert result.accuracy == result.metrics.accuracy == accuracy_score(y_test, reference.predict(x_test))
    assert result.metrics.roc_auc == pytest.approx(roc_auc_score(y_test, probability))
    assert result.metrics.log_loss == pytest.approx(log_loss(y_test, probability))
    assert result.metrics.test_rows == len(y_test) and result.metrics.diabetic_rows == int(y_test.sum())


def test_editing_the_csv_in_place_gives_fresh_results(tmp_path):
    csv = write_csv(tmp_path / "data.csv", synthetic_rows(200, seed=1))
    before = diabetes_xgboost_model(dataset=FlyteFile(str(csv))).accuracy
    rows = synthetic_rows(200, seed=1)
    for row in rows[:60]:
        row[-1] = 1 - row[-1]
    write_csv(csv, rows)
    after = diabetes_xgboost_model(dataset=FlyteFile(str(csv))).accuracy
    assert after == plain_accuracy(csv) != before


def test_cache_hit_with_deleted_outputs_is_recomputed(synthetic_csv):
    first = diabetes_xgboost_model(dataset=FlyteFile(str(synthetic_csv)))
    assert diabetes_xgboost_model(dataset=FlyteFile(str(synthetic_csv))).model.path == first.model.path  # a hit
    Path(first.model.path).unlink()
    again = diabetes_xgboost_model(dataset=FlyteFile(str(synthetic_csv)))
    assert Path(again.model.path).is_file() and again.model.path != first.model.path  # recomputed, not the old path
    assert again.accuracy == first.accuracy == plain_accuracy(synthetic_csv)


def plain_roc_auc(csv: Path, **settings) -> float:
    """ROC AUC on the tutorial's test split of the plain libraries' model with the tutorial's settings + `settings`."""
    _, x_test, _, y_test = plain_split(csv)
    return roc_auc_score(y_test, plain_model(csv, **settings).predict_proba(x_test)[:, 1])


def test_only_a_better_model_becomes_champion(real_dataset, own_model_registry):
    """Issue #15's sequence: a default run, then a weak one that leaves the default champion, then a better one."""
    weak, better = {"n_estimators": 1, "max_depth": 1}, {"max_depth": 2, "n_estimators": 50}
    assert plain_roc_auc(real_dataset, **weak) < plain_roc_auc(real_dataset) < plain_roc_auc(real_dataset, **better)
    registry = ModelRegistry(own_model_registry)

    def champion_file() -> bytes:
        return Path(registry.model_key(registry.champion().model_sha256)).read_bytes()

    first = diabetes_xgboost_model()
    assert first.promoted and champion_file() == Path(first.model.path).read_bytes()
    assert registry.champion().score == pytest.approx(plain_roc_auc(real_dataset), abs=1e-12)
    second = diabetes_xgboost_model(hyperparameters=Hyperparameters(**weak))
    assert not second.promoted and champion_file() == Path(first.model.path).read_bytes()
    third = diabetes_xgboost_model(hyperparameters=Hyperparameters(**better))
    assert third.promoted and champion_file() == Path(third.model.path).read_bytes()
    again = diabetes_xgboost_model(hyperparameters=Hyperparameters(**better))  # answered from the cache
    assert not again.promoted and len(registry.champions()) == 2
    entries = registry.entries()
    assert [entry.promoted for entry in entries] == [True, False, True, False]
    assert entries[1].comparison["reason"].endswith(
        f"is below the champion's {plain_roc_auc(real_dataset):.4f}: the champion stays"
    )
    assert [entry.hyperparameters["n_estimators"] for entry in entries] == [100, 1, 50, 50]
    assert {entry.dataset_sha256 for entry in entries} == {hashlib.sha256(real_dataset.read_bytes()).hexdigest()}


def test_a_failed_run_promotes_nothing(monkeypatch, own_model_registry):
    import flyte.workflows.example

    def fails(*args, **kwargs):
        raise RuntimeError("the report could not be rendered")

    monkeypatch.setattr(flyte.workflows.example, "evaluation_report_html", fails)  # the score task fails
    with pytest.raises(Exception, match="the report could not be rendered"):
        diabetes_xgboost_model()
    registry = ModelRegistry(own_model_registry)
    assert registry.champion() is None and registry.entries() == []


def test_bad_data_fails_in_the_first_task_before_training_and_caches_nothing(tmp_path, monkeypatch):
    import flyte.model

    def never_called(*args, **kwargs):
        raise AssertionError("training started on bad data")

    monkeypatch.setattr(flyte.model, "train_model", never_called)  # the fit task imports it when it runs
    rows = synthetic_rows(100)
    rows[10][COLUMNS.index("glucose")] = -1
    csv = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(Exception, match="split_traintest_dataset") as error:
        diabetes_xgboost_model(dataset=FlyteFile(str(csv)))
    assert "row 11, column 'glucose': negative value -1" in str(error.value)
    assert len(diskcache.Cache(os.path.expanduser("~/.flyte/local-cache"))) == 0
