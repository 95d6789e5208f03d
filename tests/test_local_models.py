"""The predict command line takes the model a local run trained last (flyte/local_models.py), or the one it is given;
after a real run: tests/test_quickstart.py."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from flyte import cli
from flyte.local_models import MODEL_FILE_NAME, NoLocalModelError, newest_local_model


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
