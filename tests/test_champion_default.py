"""Users get the champion by default: `python -m flyte.cli` and the batch inference workflow use the champion of the
model registry when no model is given, say which, and check its file against the registry's digest; nothing is
taken from the temporary folders any more (a model planted there, or another process's, is never used)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from flytekit.types.file import FlyteFile

from flyte import cli
from flyte.hyperparameters import Hyperparameters
from flyte.model import train_model
from flyte.model_file import load_model, save_model
from flyte.promotion import compare_with_champion, promote_if_better, scorer_on_rows
from flyte.registry import ModelRegistry, RegistryError
from flyte.schema import COLUMNS, FEATURES
from tests.conftest import provenance, synthetic_rows, write_csv
from tests.test_model_file import WritesMarker

PATIENT = {"pregnancies": 6, "glucose": 148, "blood-pressure": 72, "skin-thickness": 35, "insulin": 0, "bmi": 33.6,
           "diabetes-pedigree": 0.627, "age": 50}  # fmt: skip
PATIENT_OPTIONS = [item for name, value in PATIENT.items() for item in (f"--{name}", str(value))]


def planted_pickle(folder: Path) -> Path:
    """A model file of the old format, planted where the old default looked (a flyte* folder of the temporary
    directory), that creates a marker file when unpickled; returns the marker's path."""
    marker = folder / "marker-code-ran"
    planted = folder / "flyte1234abcd" / "user_space" / "model.joblib.dat"
    planted.parent.mkdir(parents=True)
    joblib.dump({"format": "pima-diabetes-xgboost/1", "x": WritesMarker(marker)}, planted)
    os.utime(planted, (4e9, 4e9))  # the newest file there, for good measure
    return marker


@pytest.fixture
def champion(own_model_registry, tmp_path) -> tuple[ModelRegistry, Path]:
    """A registry whose champion is a model trained on synthetic rows; returns the registry and the model file."""
    rows = pd.DataFrame(synthetic_rows(300, seed=5), columns=list(COLUMNS))
    path = tmp_path / "trained" / "model.json"
    path.parent.mkdir()
    saved = save_model(train_model(rows, Hyperparameters(n_estimators=10), seed=5), "0" * 64, path, provenance())
    registry = ModelRegistry(own_model_registry)
    score = scorer_on_rows(lambda: rows)
    comparison = compare_with_champion(registry, saved, lambda: score(saved.classifier), score)
    assert promote_if_better(registry, path, score(saved.classifier), comparison, score, "test")[0]
    return registry, path


def test_without_a_champion_the_cli_says_how_to_get_one(own_model_registry, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--which-model"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        f"error: no model given and the model registry {own_model_registry} has no champion yet: train one with "
        "`.venv/bin/pyflyte run flyte/workflows/example.py diabetes_xgboost_model`, or give a model file's path\n"
    )


def test_without_a_champion_batch_inference_says_how_to_get_one(own_model_registry, tmp_path):
    from flyte.workflows.inference import diabetes_xgboost_batch_inference

    patients = write_csv(tmp_path / "patients.csv", [row[:-1] for row in synthetic_rows(2)])
    with pytest.raises(RegistryError) as refused:  # shown without a traceback (flyte.workflows.user_errors)
        diabetes_xgboost_batch_inference(patients=FlyteFile(str(patients)))
    assert str(refused.value).endswith(  # after flytekit's "Error encountered while executing" line
        f"no --model given and the model registry {own_model_registry} has no champion yet: train one with "
        "`.venv/bin/pyflyte run flyte/workflows/example.py diabetes_xgboost_model`, or pass --model"
    )


def test_which_model_prints_the_champions_path(champion, capsys):
    registry, trained = champion
    assert cli.main(["--which-model"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.read_bytes() == trained.read_bytes()
    assert path == Path(registry.location) / "models" / f"{hashlib.sha256(trained.read_bytes()).hexdigest()}.json"
    assert cli.main(["given.json", "--which-model"]) == 0
    assert capsys.readouterr().out == "given.json\n"


def test_the_cli_predicts_with_the_champion_and_says_which(champion, capsys, tmp_path):
    registry, trained = champion
    marker = planted_pickle(tmp_path)
    assert cli.main(PATIENT_OPTIONS) == 0
    out, err = capsys.readouterr()
    digest = hashlib.sha256(trained.read_bytes()).hexdigest()
    assert err.startswith(f"model: the champion (#1) of the model registry: SHA-256 {digest}, trained ")
    assert "roc_auc " in err and "accuracy " in err
    probability = load_model(trained).classifier.predict_proba(np.array([list(PATIENT.values())]))[0, 1]
    assert f"probability of diabetes: {probability:.4f}" in out
    assert not marker.exists()


def test_a_champion_file_changed_after_it_was_recorded_is_refused(champion, capsys):
    registry, trained = champion
    kept = Path(registry.model_key(registry.champion().model_sha256))
    content = json.loads(kept.read_text())
    content["training_data_sha256"] = "f" * 64
    kept.write_text(json.dumps(content))
    with pytest.raises(SystemExit) as exited:
        cli.main(PATIENT_OPTIONS)
    assert exited.value.code == 2
    assert f"error: {kept}: its SHA-256 is " in capsys.readouterr().err


def test_batch_inference_uses_the_champion_when_no_model_is_given(champion, tmp_path, capsys):
    from flyte.workflows.inference import diabetes_xgboost_batch_inference

    registry, trained = champion
    marker = planted_pickle(tmp_path)
    patients = write_csv(tmp_path / "patients.csv", [row[:-1] for row in synthetic_rows(5, seed=9)])
    result = diabetes_xgboost_batch_inference(patients=FlyteFile(str(patients)))
    table = result.predictions.open(pd.DataFrame).all()
    features = pd.read_csv(patients, header=None, names=list(FEATURES))
    expected = load_model(trained).classifier.predict_proba(features)[:, 1]
    np.testing.assert_array_equal(table["probability"].to_numpy(), expected.astype("float64"))
    assert f"model: the champion (#1) of the model registry: SHA-256 {registry.champion().model_sha256}" in (
        capsys.readouterr().out
    )
    assert not marker.exists()
