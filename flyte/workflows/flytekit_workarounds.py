"""Every flytekit workaround of the project, in one place, each kept only because it prevents a wrong result.

Each Workaround wraps one flytekit function behind one fence: it applies only to the flytekit releases it was
written for and while the function still takes the parameters it wraps; anywhere else it warns once and changes
nothing. Every workflow module calls apply_flytekit_workarounds() first; importing the package changes nothing.
Each names its upstream issue and when to delete it; tests/test_flytekit_workarounds.py checks flytekit's own
behaviour beneath each one and fails when flytekit fixes it. Reworded messages are not workarounds: they are
lines in docs/troubleshooting.md.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urlparse

from flytekit.core.hash import HashMethod
from flytekit.core.local_cache import LocalTaskCache
from flytekit.core.type_engine import TypeEngine, UnionTransformer, is_annotated
from flytekit.models.literals import Literal, LiteralMap

_warned: set[str] = set()  # the workarounds that have warned in this process


@dataclass(frozen=True)
class Workaround:
    """A wrapper of `owner.function` (a flytekit class or module), applied only inside its fence."""

    name: str
    owner: typing.Any
    function: str
    parameters: tuple[str, ...]  # the function's parameters, as the wrapper calls it
    wrap: Callable[[Callable], Callable]  # flytekit's function -> the replacement, which calls it
    upstream: str  # the flytekit issue, and what goes wrong without the workaround
    delete_when: str
    versions: frozenset[tuple[int, int]] = frozenset({(1, 16)})  # flytekit (major, minor) releases

    def original(self) -> Callable:
        """flytekit's own function, beneath the workaround if it is applied."""
        current = getattr(self.owner, self.function)
        return current.__wrapped__ if getattr(current, "workaround", None) == self.name else current

    def why_not_applicable(self, flytekit_version: str | None = None, function: Callable | None = None) -> str | None:
        """Why the workaround must not touch this flytekit (another release, another signature), or None."""
        flytekit_version = flytekit_version or metadata.version("flytekit")
        release = re.match(r"(\d+)\.(\d+)", flytekit_version)
        if release is None or (int(release.group(1)), int(release.group(2))) not in self.versions:
            supported = ", ".join(f"{major}.{minor}.x" for major, minor in sorted(self.versions))
            return f"it was written for flytekit {supported}, this is flytekit {flytekit_version}"
        parameters = tuple(inspect.signature(function or self.original()).parameters)
        if parameters != self.parameters:
            return f"{self.function} takes {parameters}, not the {self.parameters} it wraps"
        return None

    def apply(self) -> bool:
        """Wrap the function, once; returns whether the workaround is in place. Outside the fence, warn once."""
        if getattr(getattr(self.owner, self.function), "workaround", None) == self.name:
            return True
        reason = self.why_not_applicable()
        if reason is not None:
            if self.name not in _warned:
                _warned.add(self.name)
                warnings.warn(
                    f"flytekit workaround {self.name} is not applied: {reason}. Without it: {self.upstream}. "
                    f"Delete it when {self.delete_when}, else widen its fence.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return False
        original = getattr(self.owner, self.function)
        replacement = functools.wraps(original)(self.wrap(original))
        replacement.workaround = self.name
        setattr(self.owner, self.function, staticmethod(replacement) if isinstance(self.owner, type) else replacement)
        return True


def _local_paths(literal: Literal):
    """Local file and folder paths a literal's value lives in: blobs, structured datasets and offloaded literals."""
    uris = [literal.offloaded_metadata.uri] if literal.offloaded_metadata is not None else []
    for item in literal.collection.literals if literal.collection is not None else []:
        yield from _local_paths(item)
    for item in literal.map.literals.values() if literal.map is not None else []:
        yield from _local_paths(item)
    if literal.scalar is not None:
        uris += [value.uri for value in (literal.scalar.blob, literal.scalar.structured_dataset) if value is not None]
    yield from (urlparse(uri).path for uri in uris if uri and urlparse(uri).scheme in ("", "file"))


def outputs_still_exist(outputs: LiteralMap) -> bool:
    """True when every local file, folder or offloaded value the outputs point at is still there."""
    return all(os.path.exists(path) for literal in outputs.literals.values() for path in _local_paths(literal))


def _missing_outputs_are_a_miss(get: Callable) -> Callable:
    def get_existing(task_name, cache_version, input_literal_map, cache_ignore_input_vars):
        outputs = get(task_name, cache_version, input_literal_map, cache_ignore_input_vars)
        return outputs if outputs is None or outputs_still_exist(outputs) else None

    return get_existing


def hash_method_of_optional(python_type) -> HashMethod | None:
    """The HashMethod of the annotated variant of an Optional type, if it has one."""
    variants = typing.get_args(python_type) if UnionTransformer.is_optional_type(python_type) else ()
    methods = [note for variant in variants if is_annotated(variant) for note in typing.get_args(variant)[1:]]
    return next((method for method in methods if isinstance(method, HashMethod)), None)


def _optionals_keep_their_hash_method(calculate_hash: Callable) -> Callable:
    def calculate_hash_of_optionals(python_val, python_type):
        hash_method = hash_method_of_optional(python_type)
        if hash_method is not None and python_val is not None:
            return hash_method.calculate(python_val)
        return calculate_hash(python_val, python_type)  # None keeps no hash: the bundled data is in the cache version

    return calculate_hash_of_optionals


MISSING_OUTPUTS_ARE_A_MISS = Workaround(
    name="missing outputs are a cache miss",
    owner=LocalTaskCache,
    function="get",
    parameters=("task_name", "cache_version", "input_literal_map", "cache_ignore_input_vars"),
    wrap=_missing_outputs_are_a_miss,
    upstream="flyteorg/flyte#6393 (fix proposed: flyteorg/flytekit#3469): a local cache hit whose output files in "
    "/tmp were deleted is returned as it is, and the next task or the user gets a path that does not exist",
    delete_when="LocalTaskCache.get itself answers None for a hit whose local outputs are gone",
)
OPTIONALS_KEEP_THEIR_HASH_METHOD = Workaround(
    name="optional inputs keep their HashMethod",
    owner=TypeEngine,
    function="calculate_hash",
    parameters=("python_val", "python_type"),
    wrap=_optionals_keep_their_hash_method,
    upstream="no upstream issue found (to file): TypeEngine.calculate_hash reads a HashMethod only on a top-level "
    "Annotated type, so a file given to Optional[Annotated[FlyteFile, HashMethod(f)]] (the training workflows' "
    "dataset) is keyed by its path, and a CSV edited in place is a stale cache hit",
    delete_when="TypeEngine.calculate_hash hashes a value given to an Optional of an annotated type by its HashMethod",
)
WORKAROUNDS = (MISSING_OUTPUTS_ARE_A_MISS, OPTIONALS_KEEP_THEIR_HASH_METHOD)


def apply_flytekit_workarounds() -> None:
    """Apply every workaround inside its fence (idempotent); every workflow module calls it before defining tasks."""
    for workaround in WORKAROUNDS:
        workaround.apply()
