"""The predict command line takes the model a local run trained last (flyte/local_models.py), or the one it is given."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from flyte import cli
from flyte.bundled import BUNDLED_DATASET
from flyte.local_models import MODEL_FILE_NAME, NoLocalModelError, newest_local_model
from flyte.model_file import load_model
from tests.conftest import REPO_ROOT
from tests.reference import plain_model

PATIENT = {"pregnancies": 6, "glucose": 148, "blood-pressure": 72, "skin-thickness": 35, "insulin": 0, "bmi": 33.6,
           "diabetes-pedigree": 0.627, "age": 50}  # fmt: skip
PATIENT_OPTIONS = [item for name, value in PATIENT.items() for item in (f"--{name}", str(value))]


@pytest.fixture
def temporary_directory(tmp_path, monkeypatch) -> Path:
    """A temporary directory of this test's own, as $TMPDIR is for a process."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.delenv("FLYTE_SDK_LOCAL_SANDBOX", raising=False)
    return folder


def model_at(path: Path, modified: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"model")
    os.utime(path, (modified, modified))
    return path


def test_the_newest_model_of_any_local_run_is_chosen(temporary_directory):
    model_at(temporary_directory / "flyteaaaa" / "user_space1" / MODEL_FILE_NAME, 1_000)
    newest = model_at(temporary_directory / "flytebbbb" / "user_space2" / "dask" / MODEL_FILE_NAME, 3_000)
    model_at(temporary_directory / "flytecccc" / "user_space3" / MODEL_FILE_NAME, 2_000)
    model_at(temporary_directory / "elsewhere" / MODEL_FILE_NAME, 9_000)  # not a flytekit folder
    assert newest_local_model() == newest


def test_flytekits_sandbox_setting_is_searched_too(temporary_directory, tmp_path, monkeypatch):
    model_at(temporary_directory / "flyteaaaa" / "user_space1" / MODEL_FILE_NAME, 1_000)
    newest = model_at(tmp_path / "sandbox" / "user_space9" / MODEL_FILE_NAME, 2_000)
    monkeypatch.setenv("FLYTE_SDK_LOCAL_SANDBOX", str(tmp_path / "sandbox"))
    assert newest_local_model() == newest


def test_no_local_model_says_how_to_train_one(temporary_directory, capsys):
    with pytest.raises(NoLocalModelError, match=r"pyflyte run flyte/workflows/example.py diabetes_xgboost_model"):
        newest_local_model()
    with pytest.raises(SystemExit) as exited:
        cli.main(["--which-model"])
    assert exited.value.code == 2
    assert "error: no model file (model.json) from a local run" in capsys.readouterr().err


def test_which_model_prints_the_path_that_would_be_used(temporary_directory, capsys):
    newest = model_at(temporary_directory / "flyteaaaa" / "user_space1" / MODEL_FILE_NAME, 1_000)
    assert cli.main(["--which-model"]) == 0
    assert capsys.readouterr().out == f"{newest}\n"
    assert cli.main(["given.joblib.dat", "--which-model"]) == 0
    assert capsys.readouterr().out == "given.joblib.dat\n"


@pytest.mark.slow
def test_a_local_run_then_the_command_line_with_no_model_path(tmp_path):
    """The README's sequence: train with pyflyte run, then predict without naming the model file."""
    home, temporary = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temporary.mkdir()
    env = {"HOME": str(home), "TMPDIR": str(temporary), "PATH": str(Path(sys.executable).parent), "LANG": "C.UTF-8"}

    def run(*command: str) -> subprocess.CompletedProcess:
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    run(str(Path(sys.executable).with_name("pyflyte")), "run", "flyte/workflows/example.py", "diabetes_xgboost_model")
    model = Path(run(sys.executable, "-m", "flyte.cli", "--which-model").stdout.strip())
    assert model.is_relative_to(temporary) and model.name == MODEL_FILE_NAME
    assert load_model(model).training_data_sha256 == hashlib.sha256(BUNDLED_DATASET.read_bytes()).hexdigest()
    predicted = run(sys.executable, "-m", "flyte.cli", *PATIENT_OPTIONS)
    assert f"model: {model} (trained last by a local run)" in predicted.stderr
    expected = plain_model(BUNDLED_DATASET).predict_proba(np.array([list(PATIENT.values())]))[0, 1]
    assert f"probability of diabetes: {expected:.4f}" in predicted.stdout
