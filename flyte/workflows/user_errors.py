"""A user's mistake (a flyte.errors.UserInputError) ends a local `pyflyte run` with the project's message alone:
pyflyte prints any exception as a traceback, except a click exception, whose message click prints (flytekit 1.16,
clis/sdk_in_container/utils.py). Anything else, a library's ValueError included, keeps its traceback and cause. On a
cluster the message is the task's error."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import click

from flyte.errors import UserInputError


class ShownWithoutTraceback(click.ClickException):
    """Mixed into a user error's type: pyflyte prints `Error: ` and its message (with flytekit's task-name prefix)."""

    __str__ = format_message = Exception.__str__  # the args, which flytekit rewrites (click's copy would not follow)


@functools.cache
def _shown_type(error_type: type) -> type:
    return type(error_type.__name__, (error_type, ShownWithoutTraceback), {"__module__": error_type.__module__})


@contextmanager
def user_errors_without_traceback() -> Iterator[None]:
    """Re-raise a UserInputError raised inside as the same error (type, message, attributes) that is also a click
    exception, without its cause chain (the message says what went wrong and what to do). Others pass unchanged."""
    try:
        yield
    except UserInputError as error:
        if isinstance(error, ShownWithoutTraceback):
            raise
        shown = _shown_type(type(error)).__new__(_shown_type(type(error)), *error.args)
        shown.args = error.args
        shown.__dict__.update(vars(error))
        click.ClickException.__init__(shown, str(error))  # click's own attributes (message, colour setting)
        raise shown from None
