"""Every flytekit workaround, with its upstream issue and when to delete it (WORKAROUNDS), behind one fence: it wraps
one flytekit function, only in the release it was written for and while the function takes the parameters it wraps,
else it warns once and changes nothing. Workflow modules call apply_flytekit_workarounds(). Kept only where one
prevents a wrong result or flytekit leaves no other way; a confusing message is a line in docs/troubleshooting.md."""

from __future__ import annotations

import functools
import inspect
import os
import sys
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urlparse

import click
from flytekit.core.hash import HashMethod
from flytekit.core.local_cache import LocalTaskCache
from flytekit.core.type_engine import TypeEngine, UnionTransformer, is_annotated
from flytekit.models.literals import Literal, LiteralMap

from flyte.errors import UserInputError
from flyte.workflows.datatypes import check_workflow_input

_warned: set[str] = set()  # the workarounds that have warned in this process


@dataclass(frozen=True)
class Workaround:
    """A wrapper of `owner.function` (a flytekit class or module), applied only inside its fence."""

    name: str
    owner: typing.Any  # a flytekit class or module; a module's name: wrapped only if a process has imported it
    function: str
    parameters: tuple[str, ...]  # the function's parameters, as the wrapper calls it
    wrap: Callable[[Callable], Callable]  # flytekit's function -> the replacement, which calls it
    upstream: str  # the flytekit issue, and what goes wrong without the workaround
    delete_when: str
    release: str = "1.16"  # the flytekit release it was written and tested for

    def owner_loaded(self) -> typing.Any:  # None: a module no one imported (pyflyte's CLI in a pod)
        return sys.modules.get(self.owner) if isinstance(self.owner, str) else self.owner

    def original(self) -> Callable:
        """flytekit's own function, beneath the workaround if it is applied."""
        current = getattr(self.owner_loaded(), self.function)
        return current.__wrapped__ if getattr(current, "workaround", None) == self.name else current

    def why_not_applicable(self, flytekit_version: str | None = None, function: Callable | None = None) -> str | None:
        """Why the workaround must not touch this flytekit (another release, another signature), or None."""
        flytekit_version = flytekit_version or metadata.version("flytekit")
        if not flytekit_version.startswith(f"{self.release}."):
            return f"it was written for flytekit {self.release}, this is flytekit {flytekit_version}"
        parameters = tuple(inspect.signature(function or self.original()).parameters)
        return None if parameters == self.parameters else f"{self.function} takes {parameters}, not {self.parameters}"

    def apply(self) -> bool:
        """Wrap the function, once; returns whether the workaround is in place. Outside the fence, warn once."""
        owner = self.owner_loaded()
        if owner is None or getattr(getattr(owner, self.function), "workaround", None) == self.name:
            return owner is not None
        reason = self.why_not_applicable()
        if reason is not None:
            if self.name not in _warned:
                _warned.add(self.name)
                message = f"flytekit workaround {self.name!r} not applied: {reason}. Without it: {self.upstream}. "
                warnings.warn(message + f"Delete it if {self.delete_when}, else widen its fence.", RuntimeWarning, 2)
            return False
        replacement = functools.wraps(getattr(owner, self.function))(self.wrap(self.original()))
        replacement.workaround = self.name
        setattr(owner, self.function, staticmethod(replacement) if isinstance(owner, type) else replacement)
        return True


def _local_paths(literal: Literal):
    """Local paths a literal's value lives in: files, folders, tables, offloaded values, nested ones included."""
    nested = literal.collection.literals if literal.collection else literal.map.literals.values() if literal.map else []
    for item in nested:
        yield from _local_paths(item)
    scalar = literal.scalar
    values = [literal.offloaded_metadata, *((scalar.blob, scalar.structured_dataset) if scalar else ())]
    yield from (urlparse(v.uri).path for v in values if v and v.uri and urlparse(v.uri).scheme in ("", "file"))


def outputs_still_exist(outputs: LiteralMap) -> bool:
    """True when every local file, folder or offloaded value the outputs point at is still there."""
    return all(os.path.exists(path) for literal in outputs.literals.values() for path in _local_paths(literal))


def _missing_outputs_are_a_miss(get: Callable) -> Callable:
    def get_existing(task_name, cache_version, input_literal_map, cache_ignore_input_vars):
        outputs = get(task_name, cache_version, input_literal_map, cache_ignore_input_vars)
        return outputs if outputs is None or outputs_still_exist(outputs) else None

    return get_existing


def _optionals_keep_their_hash_method(calculate_hash: Callable) -> Callable:
    def calculate_hash_of_optionals(python_val, python_type):
        variants = typing.get_args(python_type) if UnionTransformer.is_optional_type(python_type) else ()
        notes = [note for variant in variants if is_annotated(variant) for note in typing.get_args(variant)[1:]]
        if python_val is not None and (methods := [note for note in notes if isinstance(note, HashMethod)]):
            return methods[0].calculate(python_val)
        return calculate_hash(python_val, python_type)  # None keeps no hash: the bundled data is in the cache version

    return calculate_hash_of_optionals


class _CheckedWhileRead(click.ParamType):
    """A `pyflyte run` option's own click type, then the project's check; a UserInputError is click's message."""

    def __init__(self, read: click.ParamType, python_type) -> None:
        self.read, self.python_type, self.name = read, python_type, read.name

    def convert(self, value, param, ctx):
        try:
            return check_workflow_input(self.read.convert(value, param, ctx), self.python_type)
        except UserInputError as error:
            self.fail(str(error), param, ctx)


def _inputs_checked_while_read(to_click_option: Callable) -> Callable:
    def checked_option(ctx, flyte_ctx, input_name, literal_var, python_type, default_val, required):
        option = to_click_option(ctx, flyte_ctx, input_name, literal_var, python_type, default_val, required)
        option.type = option.type if option.is_flag else _CheckedWhileRead(option.type, python_type)
        return option

    return checked_option


WORKAROUNDS = (
    Workaround(  # prevents a stale result: a cached output that no longer exists
        "missing outputs are a cache miss", LocalTaskCache, "get",
        ("task_name", "cache_version", "input_literal_map", "cache_ignore_input_vars"), _missing_outputs_are_a_miss,
        "flyteorg/flyte#6393 (fix proposed: flyteorg/flytekit#3469): a local cache hit whose output files were "
        "deleted is returned as it is", "LocalTaskCache.get answers None for a hit whose local outputs are gone",
    ),
    Workaround(  # prevents a stale cache hit: a CSV edited in place
        "optional inputs keep their HashMethod", TypeEngine, "calculate_hash", ("python_val", "python_type"),
        _optionals_keep_their_hash_method, "no upstream issue found: a file given to Optional[Annotated[FlyteFile, "
        "HashMethod(f)]] is keyed by its path", "calculate_hash keys a value given to such an Optional by f",
    ),
    Workaround(  # flytekit leaves no other way: its own input conversion fails before any project code runs
        "pyflyte run checks inputs while reading them", "flytekit.clis.sdk_in_container.run", "to_click_option",
        ("ctx", "flyte_ctx", "input_name", "literal_var", "python_type", "default_val", "required"),
        _inputs_checked_while_read, "no upstream issue found: a missing path given to an Optional file input, an "
        "int beyond 64 bits fail in a traceback naming neither", "pyflyte run refuses them while reading the option",
    ),
)  # fmt: skip
MISSING_OUTPUTS_ARE_A_MISS, OPTIONALS_KEEP_THEIR_HASH_METHOD, INPUTS_CHECKED_WHILE_READ = WORKAROUNDS


def apply_flytekit_workarounds() -> None:
    """Apply every workaround inside its fence (idempotent); every workflow module calls it before defining tasks."""
    for workaround in WORKAROUNDS:
        workaround.apply()
