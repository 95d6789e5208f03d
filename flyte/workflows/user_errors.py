"""A user's mistake (a flyte.errors.UserInputError) ends a local `pyflyte run` with the project's message alone.

pyflyte (flytekit 1.16: clis/sdk_in_container/utils.py, pretty_print_exception) prints an exception as a rich
traceback through its cause chain, except a click exception, whose message click prints (`Error: ...`, exit status
1). Run locally, flytekit re-raises a task's own exception with the task's name prefixed to its message. So the
tasks that read what the user gives re-raise a UserInputError as a click exception of the same type (code that
catches InvalidDatasetError still does). Anything else, a library's ValueError included, keeps its traceback and
cause. On a cluster nothing changes: the message is the task's error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from flyte.errors import UserInputError

_shown_types: dict[type, type] = {}


class ShownWithoutTraceback(click.ClickException):
    """Mixed into a user error's type: pyflyte prints `Error: ` and its message (with flytekit's task-name prefix)."""

    def __str__(self) -> str:
        return Exception.__str__(self)  # the message is the args, as for any exception (click keeps a copy)

    def format_message(self) -> str:
        return str(self)


def shown_without_traceback(error: UserInputError) -> UserInputError:
    """The same error (type, message, attributes) as a click exception, for pyflyte to print without a traceback."""
    error_type = type(error)
    if error_type not in _shown_types:
        bases = (error_type, ShownWithoutTraceback)
        _shown_types[error_type] = type(error_type.__name__, bases, {"__module__": error_type.__module__})
    shown = _shown_types[error_type].__new__(_shown_types[error_type], *error.args)
    shown.args = error.args
    shown.__dict__.update(vars(error))
    click.ClickException.__init__(shown, str(error))  # click's own attributes (message, colour setting)
    return shown


@contextmanager
def user_errors_without_traceback() -> Iterator[None]:
    """Re-raise a UserInputError raised inside as shown_without_traceback, without its cause chain (the project's
    message says what went wrong and what to do); any other exception passes unchanged."""
    try:
        yield
    except UserInputError as error:
        if isinstance(error, ShownWithoutTraceback):
            raise
        raise shown_without_traceback(error) from None
