"""User errors become click exceptions of their own type (flyte/workflows/user_errors.py); bugs stay as they are."""

from __future__ import annotations

import click
import pytest

from flyte.dataset import InvalidDatasetError
from flyte.workflows.files import DatasetUnavailableError
from flyte.workflows.user_errors import user_errors_without_traceback


@pytest.mark.parametrize("error_type", [InvalidDatasetError, ValueError, DatasetUnavailableError])
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


def test_flytekits_task_name_prefix_reaches_the_printed_message():
    """Run locally, flytekit rewrites a task error's args to name the task; click prints what str() gives."""
    with pytest.raises(ValueError) as raised, user_errors_without_traceback():
        raise ValueError("test_split_ratio must be strictly between 0 and 1, got 1.5")
    raised.value.args = (f"Error encountered while executing 'split':\n  {raised.value}",)
    assert raised.value.format_message() == (
        "Error encountered while executing 'split':\n  test_split_ratio must be strictly between 0 and 1, got 1.5"
    )


def test_a_bug_passes_through_unchanged():
    with pytest.raises(ZeroDivisionError) as raised, user_errors_without_traceback():
        raise ZeroDivisionError("a bug in the code")
    assert not isinstance(raised.value, click.ClickException)
