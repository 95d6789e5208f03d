"""Model files that carry their features, versions and data digest; batch inference; the one-patient command line."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from flytekit.types.file import FlyteFile
from xgboost import XGBClassifier

from flyte.cli import main as cli_main
from flyte.dataset import InvalidDatasetError
from flyte.hyperparameters import Hyperparameters
from flyte.inference import classify_patients_csv
from flyte.model import train_model
from flyte.model_file import MODEL_LIBRARIES, IncompatibleModelError, load_model, save_model
from flyte.schema import FEATURES, LABEL
from flyte.versions import installed_versions
from tests.conftest import REPO_ROOT, own_environment, provenance, synthetic_rows, write_csv

SETTINGS = Hyperparameters(max_depth=2, n_estimators=10)


TRAINING_DATA_SHA256 = hashlib.sha256(b"the training CSV").hexdigest()


@pytest.fixture
def training_rows() -> pd.DataFrame:
    return pd.DataFrame(synthetic_rows(80, seed=4), columns=[*FEATURES, LABEL])


@pytest.fixture
def model_file(tmp_path, training_rows) -> Path:
    path = tmp_path / "model.json"
    save_model(train_model(training_rows, SETTINGS, seed=4), TRAINING_DATA_SHA256, path, provenance())
    return path


@pytest.fixture
def patients_csv(tmp_path) -> Path:
    """Five patients: the feature columns of synthetic rows, without the label."""
    return write_csv(tmp_path / "patients.csv", [row[:-1] for row in synthetic_rows(5, seed=9)])


def test_model_file_records_features_versions_and_training_data_digest(model_file, training_rows):
    saved = load_model(model_file)
    assert saved.features == FEATURES
    assert isinstance(saved.classifier, XGBClassifier)
    import sklearn
    import xgboost

    assert saved.library_versions["xgboost"] == xgboost.__version__
    assert saved.library_versions["scikit-learn"] == sklearn.__version__
    assert saved.training_data_sha256 == TRAINING_DATA_SHA256
    assert saved.provenance == provenance()
    assert saved.sha256 == hashlib.sha256(model_file.read_bytes()).hexdigest()


def test_loading_a_model_with_other_features_fails_clearly(model_file):
    reordered = (FEATURES[1], FEATURES[0], *FEATURES[2:])
    with pytest.raises(IncompatibleModelError, match=r"model.json: the model was trained on the features "
                       r"pregnancies, glucose, .*; expected glucose, pregnancies, .* in this order"):
        load_model(model_file, features=reordered)


def test_files_that_are_not_model_files_are_refused(tmp_path, patients_csv):
    with pytest.raises(IncompatibleModelError, match=r"patients.csv: not a model file \(not a JSON document"):
        load_model(patients_csv)
    with pytest.raises(IncompatibleModelError, match=r"missing.json: no such file"):
        load_model(tmp_path / "missing.json")
    with pytest.raises(IncompatibleModelError, match=rf"{tmp_path}: is a folder"):
        load_model(tmp_path)


def test_a_model_from_other_library_versions_loads_with_a_warning(model_file):
    content = json.loads(model_file.read_text())
    content["library_versions"] = {**installed_versions(MODEL_LIBRARIES), "xgboost": "0.1"}
    model_file.write_text(json.dumps(content))
    with pytest.warns(UserWarning, match=r"trained with xgboost 0.1 \(now .*\); predictions may differ"):
        load_model(model_file)
    content["library_versions"] = installed_versions(MODEL_LIBRARIES)
    model_file.write_text(json.dumps(content))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(model_file)


def expected_predictions(model_file: Path, patients_csv: Path) -> pd.DataFrame:
    """The bare booster's answers on the CSV read by pandas, loaded by XGBoost from the file's UBJSON bytes."""
    patients = pd.read_csv(patients_csv, header=None, names=list(FEATURES))
    classifier = XGBClassifier()
    classifier.load_model(bytearray(base64.b64decode(json.loads(model_file.read_text())["booster_ubj_base64"])))
    return patients.assign(
        predicted=classifier.predict(patients), probability=classifier.predict_proba(patients)[:, 1].astype(float)
    )


def test_classify_patients_csv_adds_class_and_probability(model_file, patients_csv):
    pd.testing.assert_frame_equal(
        classify_patients_csv(model_file, patients_csv), expected_predictions(model_file, patients_csv),
        check_dtype=False,
    )


# Two patients, the second with a negative BMI.
NEGATIVE_BMI = [row[:-1] for row in synthetic_rows(2)]
NEGATIVE_BMI[1][FEATURES.index("bmi")] = -1.0


@pytest.mark.parametrize(
    "rows, message",
    [
        (synthetic_rows(3),
         rf"row 1 has {len(FEATURES) + 1} columns, expected {len(FEATURES)} \({FEATURES[0]}, .*, {FEATURES[-1]}\)"),
        (NEGATIVE_BMI, r"row 2, column 'bmi': negative value -1.0; expected a number from 5 to 250"),
    ],
)
def test_bad_patient_files_fail_like_bad_training_data(tmp_path, model_file, rows, message):
    csv = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(InvalidDatasetError, match=r"bad.csv: " + message):
        classify_patients_csv(model_file, csv)


def test_batch_inference_workflow_returns_a_table_and_a_csv(model_file, patients_csv):
    from flyte.workflows.inference import diabetes_xgboost_batch_inference

    result = diabetes_xgboost_batch_inference(model=FlyteFile(str(model_file)), patients=FlyteFile(str(patients_csv)))
    expected = expected_predictions(model_file, patients_csv)
    pd.testing.assert_frame_equal(result.predictions.open(pd.DataFrame).all(), expected, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(result.predictions_csv.download()), expected, check_dtype=False)


def test_batch_inference_cache_follows_the_model_file_content(tmp_path, training_rows, model_file, patients_csv):
    from flyte.workflows.inference import diabetes_xgboost_batch_inference

    def run():
        inputs = dict(model=FlyteFile(str(model_file)), patients=FlyteFile(str(patients_csv)))
        return diabetes_xgboost_batch_inference(**inputs).predictions.open(pd.DataFrame).all()["probability"].tolist()

    before = run()
    smaller = train_model(training_rows, Hyperparameters(max_depth=1, n_estimators=3), seed=4)
    save_model(smaller, TRAINING_DATA_SHA256, model_file, provenance())
    assert run() == expected_predictions(model_file, patients_csv)["probability"].tolist() != before


def one_patient_arguments(**changes) -> list[str]:
    values = dict(zip(FEATURES, ["6", "148", "72", "35", "0", "33.6", "0.627", "50"], strict=True), **changes)
    return [argument for name, value in values.items() for argument in ("--" + name.replace("_", "-"), value)]


def test_command_line_scores_one_patient(model_file, tmp_path, capsys):
    assert cli_main([str(model_file), *one_patient_arguments()]) == 0
    patient = write_csv(tmp_path / "one.csv", [[6, 148, 72, 35, 0, 33.6, 0.627, 50]])
    expected = expected_predictions(model_file, patient)
    predicted, probability = int(expected["predicted"].iloc[0]), expected["probability"].iloc[0]
    verdict = "diabetic" if predicted == 1 else "not diabetic"
    assert capsys.readouterr().out == (
        f"predicted class: {predicted} ({verdict})\nprobability of diabetes: {probability:.4f}\n"
    )


def test_command_line_scores_a_csv(model_file, patients_csv, tmp_path, capsys):
    output = tmp_path / "predictions.csv"
    assert cli_main([str(model_file), "--csv", str(patients_csv), "--output", str(output)]) == 0
    assert capsys.readouterr().out == f"wrote 5 predictions to {output}\n"
    expected = expected_predictions(model_file, patients_csv)
    pd.testing.assert_frame_equal(pd.read_csv(output), expected, check_dtype=False)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (one_patient_arguments(glucose="-5"), "error: the command line: row 1, column 'glucose': negative value -5"),
        (one_patient_arguments(glucose="high"), "argument --glucose: invalid int value: 'high'"),
        (["--glucose", "148"], "missing --pregnancies --blood-pressure"),
        (["--csv", "x.csv", "--age", "50"], "give either --csv or the feature options, not both"),
        ([*one_patient_arguments(), "--output", "out.csv"], "error: --output needs --csv"),
    ],
)
def test_command_line_explains_bad_input(model_file, capsys, arguments, message):
    with pytest.raises(SystemExit) as exit_:
        cli_main([str(model_file), *arguments])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_command_line_stops_quietly_when_its_reader_does(model_file, tmp_path):
    """`python -m flyte.cli --csv ... | head -3` through a real pipe: the three lines, and no BrokenPipeError."""
    patients = write_csv(tmp_path / "patients.csv", [row[:-1] for row in synthetic_rows(20_000)])  # >> a pipe's buffer
    errors = tmp_path / "stderr.txt"
    command = (
        f"{shlex.quote(sys.executable)} -m flyte.cli {shlex.quote(str(model_file))} --csv {shlex.quote(str(patients))}"
        f" 2>{shlex.quote(str(errors))} | head -3"
    )
    environment = own_environment(tmp_path / "home", PATH=os.defpath)  # the system's PATH: bash and head
    done = subprocess.run(["bash", "-c", command], cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0 and errors.read_text() == "", errors.read_text()
    header_and_two_rows = expected_predictions(model_file, patients).head(2).to_csv(index=False)
    assert done.stdout == header_and_two_rows
