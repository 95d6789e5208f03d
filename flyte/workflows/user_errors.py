"""Errors the user caused (bad data, settings, dataset location or model file) end a local `pyflyte run` with the
project's message alone, not a traceback.

pyflyte (flytekit 1.16: clis/sdk_in_container/utils.py, pretty_print_exception) prints an exception as a rich
traceback that follows its cause chain into the libraries (about 390 lines for an unreachable URL), except a click
exception, which it hands to click: `Error: <message>` and exit status 1. Run locally, flytekit re-raises a task's
own exception with its message prefixed by the task's name. So the tasks that read what the user gives raise its
errors as click exceptions too, keeping their own type (code that catches InvalidDatasetError still does). On a
cluster nothing changes: the message is the task's error, as before. Bugs keep their traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from flyte.errors import UserInputError
from flyte.workflows.files import DatasetUnavailableError

# What the user's input can raise: the project's validation errors (InvalidDatasetError, IncompatibleModelError and
# the settings checks are ValueErrors), a dataset that cannot be fetched and the project's own user errors
# (flyte.errors.UserInputError: a store that refuses a location, ...).
USER_ERRORS = (ValueError, DatasetUnavailableError, UserInputError)

_shown_types: dict[type, type] = {}


class ShownWithoutTraceback(click.ClickException):
    """Mixed into a user error: pyflyte prints `Error: ` and its message (with flytekit's task-name prefix)."""

    def __str__(self) -> str:
        return Exception.__str__(self)  # the message is the args, as for any exception (click keeps a copy)

    def format_message(self) -> str:
        return str(self)


def shown_without_traceback(error: Exception) -> Exception:
    """The same error (type, message, attributes) as a click exception, for pyflyte to print without a traceback."""
    error_type = type(error)
    if error_type not in _shown_types:
        _shown_types[error_type] = type(
            error_type.__name__, (error_type, ShownWithoutTraceback), {"__module__": error_type.__module__}
        )
    shown = _shown_types[error_type].__new__(_shown_types[error_type], *error.args)
    shown.args = error.args
    shown.__dict__.update(vars(error))
    click.ClickException.__init__(shown, str(error))  # click's own attributes (message, colour setting)
    return shown


@contextmanager
def user_errors_without_traceback() -> Iterator[None]:
    """Re-raise a user error raised inside as shown_without_traceback; its libraries' cause chain is dropped (the
    project's message already says what went wrong and what to do)."""
    try:
        yield
    except USER_ERRORS as error:
        if isinstance(error, ShownWithoutTraceback):
            raise
        raise shown_without_traceback(error) from None
