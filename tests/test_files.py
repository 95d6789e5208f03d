"""Input files (flyte.workflows.files) called directly: a location an input cannot use, a bundled data set missing
from the code, and why a download failed, each named with the way out. pyflyte run's own view of the same refusals:
tests/test_error_output.py."""

from __future__ import annotations

import socket
from typing import Optional

import pytest
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile

from flyte.errors import UserInputError
from flyte.workflows import files
from flyte.workflows.files import (
    DatasetUnavailableError,
    check_local_location,
    dataset_or_bundled,
    fetch_dataset,
    why_unreachable,
)
from tests.conftest import closed_port, synthetic_rows, write_csv

DATASET_OR_FOLDER = Optional[FlyteFile | FlyteDirectory]  # noqa: UP045 (the Optional that pyflyte run sees)


def test_a_location_an_input_cannot_use_is_refused_naming_it(tmp_path, monkeypatch):
    csv = write_csv(tmp_path / "data.csv", synthetic_rows(3))
    check_local_location(FlyteFile(str(csv)), Optional[FlyteFile])  # noqa: UP045
    check_local_location(str(tmp_path), DATASET_OR_FOLDER)  # a folder of shards, for the distributed workflow
    check_local_location(str(tmp_path / "missing"), int)  # not a location: not looked at
    with pytest.raises(UserInputError, match=rf"^{tmp_path}/missing: no such file; check the path"):
        check_local_location(str(tmp_path / "missing"), FlyteFile)
    with pytest.raises(UserInputError, match=rf"^{tmp_path}/missing: no such file or folder; check the path"):
        check_local_location(str(tmp_path / "missing"), DATASET_OR_FOLDER)
    with pytest.raises(UserInputError, match=rf"^{tmp_path} is a folder; this workflow trains on one CSV file"):
        check_local_location(str(tmp_path), Optional[FlyteFile])  # noqa: UP045

    def refused(path):  # what a user who is not root meets on a chmod 000 folder
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(files.os, "listdir", refused)
    with pytest.raises(UserInputError, match=rf"^{tmp_path} cannot be read \(Permission denied\); make it readable"):
        check_local_location(str(tmp_path), DATASET_OR_FOLDER)


def test_the_bundled_data_set_is_the_default_and_its_absence_is_named(tmp_path, monkeypatch):
    given = FlyteFile(str(tmp_path / "data.csv"))
    assert dataset_or_bundled(given) is given
    monkeypatch.setattr(files, "BUNDLED_DATASET", tmp_path / "pima.csv")
    with pytest.raises(DatasetUnavailableError, match=rf"bundled data set {tmp_path}/pima.csv is missing .* --dataset"):
        dataset_or_bundled(None)


def test_a_download_refused_by_a_closed_port_names_the_host_and_port():
    port = closed_port()
    url = f"http://127.0.0.1:{port}/pima.csv"
    with pytest.raises(DatasetUnavailableError) as refused:
        fetch_dataset(FlyteFile(url))
    message = str(refused.value)
    assert message.startswith(f"could not read the dataset {url}: the host 127.0.0.1 refused the connection on port")
    assert f"port {port}: nothing serves the file there\n" in message
    assert message.endswith("pass a local copy: --dataset path/to/pima-indians-diabetes.data.csv")


def chained(*errors: BaseException) -> BaseException:
    """The first error, raised from the second, raised from the third... as a download's wrappers leave them."""
    for outer, inner in zip(errors, errors[1:], strict=False):
        outer.__cause__ = inner
    return errors[0]


@pytest.mark.parametrize(
    "url, root, reason",
    [
        ("https://no-such-host.invalid/x.csv", socket.gaierror(-2, "Name or service not known"),
         "the host no-such-host.invalid could not be found (Name or service not known): no network, or a wrong name"),
        ("https://example.org/x.csv", ConnectionRefusedError(111, "Connection refused"),
         "the host example.org refused the connection on port 443: nothing serves the file there"),
        ("https://example.org/x.csv", TimeoutError("timed out"), "the host example.org did not answer in time"),
        ("https://example.org/x.csv", FileNotFoundError("404"), "example.org has no file at that address"),
        ("https://example.org/x.csv", ValueError("bad certificate"), "ValueError: bad certificate"),
    ],
    ids=["unresolvable", "refused", "timeout", "not found", "anything else"],
)  # fmt: skip
def test_why_a_download_failed_comes_from_the_root_of_the_chain(url, root, reason):
    error = chained(RuntimeError("File not found"), OSError("while fetching"), root)
    assert why_unreachable(url, error) == reason
