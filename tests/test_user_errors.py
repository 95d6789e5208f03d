"""Only the project's own errors (flyte.errors.UserInputError) lose their traceback (flyte/workflows/user_errors.py);
anything else raised in the same block, a library's ValueError included, keeps its type, traceback and cause."""

from __future__ import annotations

import traceback

import click
import numpy as np
import pytest

from flyte.dataset import InvalidDatasetError
from flyte.errors import InvalidSettingsError
from flyte.model_file import IncompatibleModelError
from flyte.registry import RegistryError
from flyte.workflows.files import DatasetUnavailableError
from flyte.workflows.user_errors import user_errors_without_traceback

PROJECT_ERRORS = [InvalidDatasetError, IncompatibleModelError, DatasetUnavailableError, RegistryError,
                  InvalidSettingsError]  # fmt: skip


@pytest.mark.parametrize("error_type", PROJECT_ERRORS)
def test_a_user_error_keeps_its_type_and_message_and_loses_its_cause(error_type):
    with pytest.raises(error_type) as raised, user_errors_without_traceback():
        try:
            raise OSError("the library's own failure")
        except OSError as cause:
            raise error_type("row 3, column glucose: expected a number") from cause
    error = raised.value
    assert isinstance(error, click.ClickException)
    assert type(error).__name__ == error_type.__name__
    assert str(error) == error.format_message() == "row 3, column glucose: expected a number"
    assert error.__cause__ is None and error.__suppress_context__


def test_a_library_value_error_inside_the_block_keeps_its_traceback_and_cause():
    """A bug, not the user's mistake: numpy's ValueError must reach pyflyte as it is, which prints its traceback."""
    with pytest.raises(ValueError) as raised, user_errors_without_traceback():
        try:
            {}["rows"]
        except KeyError:
            np.zeros(3).reshape(2, 2)
    error = raised.value
    assert type(error) is ValueError and not isinstance(error, click.ClickException)
    assert "cannot reshape array of size 3 into shape (2,2)" in str(error)
    assert isinstance(error.__context__, KeyError) and not error.__suppress_context__
    frames = traceback.extract_tb(error.__traceback__)
    assert any(frame.line == "np.zeros(3).reshape(2, 2)" for frame in frames)


def test_flytekits_task_name_prefix_reaches_the_printed_message():
    """Run locally, flytekit rewrites a task error's args to name the task; click prints what str() gives."""
    with pytest.raises(InvalidSettingsError) as raised, user_errors_without_traceback():
        raise InvalidSettingsError("test_split_ratio must be strictly between 0 and 1, got 1.5")
    raised.value.args = (f"Error encountered while executing 'split':\n  {raised.value}",)
    assert raised.value.format_message() == (
        "Error encountered while executing 'split':\n  test_split_ratio must be strictly between 0 and 1, got 1.5"
    )
