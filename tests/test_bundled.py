"""The data set bundled in the package: the published file, the default of every training workflow, carried by the
fast-registration archive."""

from __future__ import annotations

import hashlib
import tarfile

import pandas as pd
import pytest
from flytekit.types.file import FlyteFile

from flyte.bundled import BUNDLED_DATASET
from flyte.dataset import CANONICAL_DATASET_SHA256, CANONICAL_DATASET_URL
from flyte.model_file import load_model
from flyte.schema import COLUMNS
from tests.conftest import REPO_ROOT
from tests.reference import plain_accuracy
from tests.registration import pyflyte

PUBLISHED_SHA256 = "6bfe5d0f379d17a0e0819b996407e3c09bf80febd4287f2ed212190dfff154af"  # SHA256SUMS beside the source


def test_the_bundled_file_is_the_published_one():
    content = BUNDLED_DATASET.read_bytes()
    assert hashlib.sha256(content).hexdigest() == PUBLISHED_SHA256 == CANONICAL_DATASET_SHA256
    rows = content.decode().splitlines()
    assert len(rows) == 768 and {len(row.split(",")) for row in rows} == {len(COLUMNS)}


def test_the_provenance_note_names_the_source_and_checksum():
    note = (BUNDLED_DATASET.parent / "README.md").read_text()
    for fact in (BUNDLED_DATASET.name, CANONICAL_DATASET_URL, PUBLISHED_SHA256, "National Institute of Diabetes"):
        assert fact in note


def test_git_keeps_the_bundled_file_byte_for_byte():
    """No end-of-line conversion on checkout: the SHA-256 must stay the published one on every platform."""
    assert "flyte/data/*.csv -text" in (REPO_ROOT / ".gitattributes").read_text().splitlines()


def test_without_a_dataset_the_training_workflow_trains_on_the_bundled_file():
    from flyte.workflows.example import diabetes_xgboost_model

    result = diabetes_xgboost_model()
    assert result.accuracy == plain_accuracy(BUNDLED_DATASET)
    assert load_model(result.model.path).training_data_sha256 == PUBLISHED_SHA256


def test_a_none_dataset_is_split_as_the_bundled_file_given_by_path():
    """The split task every training workflow starts with (diabetes_xgboost_tuning too) resolves None itself."""
    from flyte.workflows.example import split_traintest_dataset

    bundled = split_traintest_dataset(dataset=None, test_split_ratio=0.33, seed=7)
    given = split_traintest_dataset(dataset=FlyteFile(str(BUNDLED_DATASET)), test_split_ratio=0.33, seed=7)
    assert bundled.dataset_sha256 == given.dataset_sha256 == PUBLISHED_SHA256
    for name in ("train", "test"):
        pd.testing.assert_frame_equal(getattr(bundled, name).open(pd.DataFrame).all(),
                                      getattr(given, name).open(pd.DataFrame).all())


@pytest.mark.slow
def test_the_fast_registration_archive_carries_the_bundled_file(tmp_path):
    """`pyflyte package --copy all` (formerly --fast; what `pyflyte register` and `pyflyte run --remote --copy all`
    upload) ships the code that is unpacked over the image's: the bundled CSV must be in it, unchanged."""
    output = tmp_path / "flyte-package.tgz"
    done = pyflyte(
        "--pkgs", "flyte.workflows", "package", "--image", "registry.example.com/flyte-xgboost:fast",
        "--copy", "all", "--output", str(output), "--force",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with tarfile.open(output) as package:
        (code_archive,) = [member for member in package.getmembers() if member.name.startswith("fast")]
        with tarfile.open(fileobj=package.extractfile(code_archive)) as code:
            bundled = code.extractfile(BUNDLED_DATASET.relative_to(REPO_ROOT).as_posix()).read()
    assert hashlib.sha256(bundled).hexdigest() == PUBLISHED_SHA256
