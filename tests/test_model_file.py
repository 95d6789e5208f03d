"""The model file runs no code: pickles (the old format) are refused before a byte is unpickled, wherever they come
from; damaged or foreign files are refused naming the file; a saved-then-loaded model predicts bit for bit as the
trained one; a trusted old file converts."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from flytekit.types.file import FlyteFile

from flyte.cli import main as cli_main
from flyte.hyperparameters import Hyperparameters
from flyte.model import train_model
from flyte.model_file import (
    MODEL_FILE_FORMAT,
    PICKLED_MODEL_FILE_FORMAT,
    IncompatibleModelError,
    convert_trusted_pickle,
    load_model,
    main,
    save_model,
)
from flyte.schema import COLUMNS, FEATURES
from tests.conftest import REPO_ROOT, own_environment, provenance, synthetic_rows, write_csv

SETTINGS = Hyperparameters(max_depth=3, n_estimators=20)


class WritesMarker:
    """Unpickling this runs code: it creates the marker file (a stand-in for whatever an attacker would run)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def training() -> pd.DataFrame:
    return pd.DataFrame(synthetic_rows(200, seed=3), columns=list(COLUMNS))


def old_format_file(path: Path, classifier, extra: dict | None = None) -> Path:
    """A model file as this project wrote it before: a joblib pickle holding the classifier object."""
    content = {"format": PICKLED_MODEL_FILE_FORMAT, "classifier": classifier, "features": list(FEATURES),
               "library_versions": {}, "training_data_sha256": "0" * 64, **(extra or {})}  # fmt: skip
    joblib.dump(content, path)
    return path


@pytest.fixture
def malicious_model(tmp_path, training) -> tuple[Path, Path]:
    """An old-format model file that predicts normally and, when unpickled, creates a marker file."""
    marker = tmp_path / "marker-code-ran"
    classifier = train_model(training, SETTINGS, 1)
    model = old_format_file(tmp_path / "model.joblib.dat", classifier, {"x": WritesMarker(marker)})
    joblib.load(model)  # the file is what it claims: unpickling it does run its code
    assert marker.exists()
    marker.unlink()
    return model, marker


def test_saved_then_loaded_model_predicts_bit_for_bit_as_the_trained_one(tmp_path, training):
    for booster in ("gbtree", "dart", "gblinear"):
        classifier = train_model(training, Hyperparameters(n_estimators=20, booster=booster), seed=2)
        save_model(classifier, "0" * 64, tmp_path / f"{booster}.json", provenance())
        loaded = load_model(tmp_path / f"{booster}.json").classifier
        rows = training[list(FEATURES)]
        assert np.array_equal(loaded.predict_proba(rows), classifier.predict_proba(rows)), booster
        assert np.array_equal(loaded.feature_importances_, classifier.feature_importances_), booster


def test_a_model_file_is_one_json_document_of_plain_values(tmp_path, training):
    path = tmp_path / "model.json"
    save_model(train_model(training, SETTINGS, seed=1), "ab" * 32, path, provenance(seed=1))
    content = json.loads(path.read_text())
    assert content["format"] == MODEL_FILE_FORMAT
    assert content["features"] == list(FEATURES) and content["training_data_sha256"] == "ab" * 32
    assert content["provenance"]["seed"] == 1
    assert base64.b64decode(content["booster_ubj_base64"])[:1] == b"{"  # XGBoost's UBJSON: an object


def test_a_pickle_is_refused_before_any_of_it_runs(malicious_model):
    model, marker = malicious_model
    with pytest.raises(IncompatibleModelError) as refused:
        load_model(model)
    message = str(refused.value)
    assert message.startswith(f"{model}: a pickle")
    assert "nothing in it was run" in message
    assert f"python -m flyte.model_file convert-trusted-pickle {model} model.json" in message
    assert not marker.exists()


def test_a_pickle_given_to_the_command_line_never_runs(malicious_model, tmp_path, capsys):
    model, marker = malicious_model
    values = [6, 148, 72, 35, 0, 33.6, 0.627, 50]
    options = [f"--{name.replace('_', '-')}={value}" for name, value in zip(FEATURES, values, strict=True)]
    with pytest.raises(SystemExit) as exited:
        cli_main([str(model), *options])
    assert exited.value.code == 2
    assert f"error: {model}: a pickle" in capsys.readouterr().err
    assert not marker.exists()


def test_a_pickle_given_to_batch_inference_never_runs(malicious_model, tmp_path):
    from flyte.workflows.inference import diabetes_xgboost_batch_inference

    model, marker = malicious_model
    patients = write_csv(tmp_path / "patients.csv", [row[:-1] for row in synthetic_rows(3)])
    with pytest.raises(IncompatibleModelError, match="a pickle .* nothing in it was run"):
        diabetes_xgboost_batch_inference(model=FlyteFile(str(model)), patients=FlyteFile(str(patients)))
    assert not marker.exists()


def test_a_trusted_old_file_converts_and_predicts_the_same(tmp_path, training, capsys):
    classifier = train_model(training, SETTINGS, seed=5)
    old = old_format_file(tmp_path / "model.joblib.dat", classifier)
    new = tmp_path / "model.json"
    assert main(["convert-trusted-pickle", str(old), str(new)]) == 0
    converted = load_model(new)
    assert capsys.readouterr().out == f"wrote {new} (SHA-256 {converted.sha256})\n"
    rows = training[list(FEATURES)]
    assert np.array_equal(converted.classifier.predict_proba(rows), classifier.predict_proba(rows))
    assert converted.provenance.hyperparameters == {"max_depth": 3, "learning_rate": 0.1, "n_estimators": 20,
                                                    "objective": "binary:logistic", "booster": "gbtree"}
    assert converted.provenance.seed == 5 and converted.provenance.training_rows is None
    with pytest.raises(SystemExit) as exited:
        main(["convert-trusted-pickle", str(old), str(new)])  # never over an existing file
    assert exited.value.code == 2


def test_a_file_with_the_format_tag_but_not_the_contents_is_refused_naming_it(tmp_path, training):
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"format": MODEL_FILE_FORMAT, "features": "pregnancies"}))
    with pytest.raises(IncompatibleModelError) as refused:
        load_model(path)
    assert str(refused.value) == (
        f"{path}: a model file of format {MODEL_FILE_FORMAT} with missing or damaged contents: features is not a "
        "JSON array; library_versions is missing; training_data_sha256 is missing; provenance is missing; "
        "booster_ubj_base64 is missing; retrain it with the diabetes_xgboost_model workflow"
    )
    save_model(train_model(training, SETTINGS, seed=1), "0" * 64, path, provenance())
    content = json.loads(path.read_text())
    content["booster_ubj_base64"] = base64.b64encode(b"{not a booster").decode()
    path.write_text(json.dumps(content))
    saved = load_model(path)  # its facts, which the promotion steps read; the booster is read at its first use
    assert saved.features == FEATURES
    with pytest.raises(IncompatibleModelError, match=rf"^{path}: XGBoost cannot read its booster \(.*\); retrain it"):
        saved.classifier.get_booster()
    content["provenance"]["seed"] = "seven"
    path.write_text(json.dumps(content))
    with pytest.raises(IncompatibleModelError, match=rf"^{path}: .*provenance.seed is missing or of the wrong type"):
        load_model(path)


def test_a_json_document_of_another_format_or_a_damaged_booster_is_refused_naming_it(tmp_path, training):
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"format": "f" * 200}))
    with pytest.raises(IncompatibleModelError) as refused:
        load_model(path)
    shown = "'" + "f" * 76 + "..."  # the format as given, cut to 80 characters: the message stays readable
    assert str(refused.value) == (
        f"{path}: not a model file of format {MODEL_FILE_FORMAT} (its format is {shown}); retrain it with the "
        "diabetes_xgboost_model workflow"
    )
    save_model(train_model(training, SETTINGS, seed=1), "0" * 64, path, provenance())
    content = json.loads(path.read_text())
    content["booster_ubj_base64"] = "not base64!"
    path.write_text(json.dumps(content))
    with pytest.raises(IncompatibleModelError, match=rf"^{path}: its booster is not valid base64; retrain it"):
        load_model(path)


def test_converting_refuses_a_missing_file_or_a_pickle_of_something_else(tmp_path, training, capsys):
    new = tmp_path / "model.json"
    with pytest.raises(SystemExit) as exited:
        main(["convert-trusted-pickle", str(tmp_path / "missing.joblib.dat"), str(new)])
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'missing.joblib.dat'}: no such file\n"
    other = tmp_path / "other.joblib.dat"
    joblib.dump({"format": "something else"}, other)
    with pytest.raises(SystemExit) as exited:
        main(["convert-trusted-pickle", str(other), str(new)])
    assert exited.value.code == 2
    refusal = f"error: {other}: not a model file of the old format {PICKLED_MODEL_FILE_FORMAT}\n"
    assert capsys.readouterr().err == refusal
    reordered = old_format_file(tmp_path / "reordered.joblib.dat", train_model(training, SETTINGS, seed=1),
                                {"features": list(reversed(FEATURES))})  # fmt: skip
    with pytest.raises(IncompatibleModelError) as refused:
        convert_trusted_pickle(reordered, new)
    assert str(refused.value) == f"{reordered}: trained on the features {', '.join(reversed(FEATURES))}, not these"
    assert not new.exists()


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_a_model_saved_by_plain_xgboost_is_refused_naming_the_file(tmp_path, training, suffix):
    path = tmp_path / f"xgboost{suffix}"
    train_model(training, SETTINGS, seed=1).save_model(path)
    expected = "a model saved by XGBoost itself" if suffix == ".json" else "not a model file (not a JSON document"
    with pytest.raises(IncompatibleModelError) as refused:
        load_model(path)
    assert str(refused.value).startswith(f"{path}: {expected}")


def test_a_registry_digest_mismatch_is_refused_before_parsing(tmp_path, training):
    path = tmp_path / "model.json"
    saved = save_model(train_model(training, SETTINGS, seed=1), "0" * 64, path, provenance())
    assert load_model(path, expected_sha256=saved.sha256).sha256 == saved.sha256
    mismatch = rf"^{path}: its SHA-256 is {saved.sha256}, but the model registry recorded f+: the file was changed"
    with pytest.raises(IncompatibleModelError, match=mismatch):
        load_model(path, expected_sha256="f" * 64)


@pytest.mark.slow
def test_a_pickle_given_to_pyflyte_run_never_runs(malicious_model, tmp_path):
    """The batch inference workflow as a user launches it, in its own process and HOME."""
    model, marker = malicious_model
    patients = write_csv(tmp_path / "patients.csv", [row[:-1] for row in synthetic_rows(3)])
    pyflyte = Path(sys.executable).with_name("pyflyte")
    done = subprocess.run(
        [str(pyflyte), "run", "flyte/workflows/inference.py", "diabetes_xgboost_batch_inference",
         "--model", str(model), "--patients", str(patients)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=own_environment(tmp_path / "home", COLUMNS="1000"),
    )  # fmt: skip
    assert done.returncode != 0
    assert f"{model}: a pickle" in done.stdout + done.stderr
    assert not marker.exists()
