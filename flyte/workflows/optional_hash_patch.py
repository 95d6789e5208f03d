"""An Optional input keeps the HashMethod of its type: a small, fenced patch of flytekit's TypeEngine.calculate_hash.

Why: the training workflows take `dataset: Optional[DatasetFile] = None` (None: the bundled data set), and
DatasetFile's HashMethod keys a given file by its content. flytekit 1.16 computes a literal's hash only when the
top-level type is Annotated (TypeEngine.calculate_hash); for Optional[Annotated[FlyteFile, HashMethod(f)]] the
union is converted variant by variant without it, so a file given to an optional input would be cached by its path
and a CSV edited in place would be a stale cache hit. Annotating the Optional instead (Annotated[Optional[...], ...])
keeps the hash but makes flytekit serialize the input as required, with no default (core/interface.py:
transform_inputs_to_parameters asks UnionTransformer.is_optional_type, which does not look inside Annotated): the
launch plans and the nightly schedule would demand a file.

The patch: a value given to Optional[Annotated[T, HashMethod(f)]] gets the hash f(value), as it would for the
Annotated type alone; None keeps no hash (its cache key is the None literal, and what it stands for, the bundled
data, is part of the cache version: flyte.workflows.caching).

The fence (flyte.workflows.flytekit_patch): it applies only to flytekit 1.16.x and only while
TypeEngine.calculate_hash takes the parameters it wraps; otherwise it warns once and changes nothing. Delete it once
flytekit hashes Optional values itself: tests/test_optional_hash_patch.py checks the unpatched behaviour and fails
then.
"""

from __future__ import annotations

import typing

from flytekit.core.hash import HashMethod
from flytekit.core.type_engine import TypeEngine, UnionTransformer, is_annotated

from flyte.workflows.flytekit_patch import FlytekitPatch


def hash_method_of_optional(python_type) -> HashMethod | None:
    """The HashMethod of the annotated variant of an Optional type, if it has one."""
    if not UnionTransformer.is_optional_type(python_type):
        return None
    for variant in typing.get_args(python_type):
        if is_annotated(variant):
            for annotation in typing.get_args(variant)[1:]:
                if isinstance(annotation, HashMethod):
                    return annotation
    return None


def _optionals_keep_their_hash_method(calculate_hash):
    """TypeEngine.calculate_hash, hashing a value given to Optional[Annotated[T, HashMethod(f)]] with f."""

    def calculate_hash_of_optionals(python_val, python_type):
        hash_method = hash_method_of_optional(python_type)
        if hash_method is not None and python_val is not None:
            return hash_method.calculate(python_val)
        return calculate_hash(python_val, python_type)

    return calculate_hash_of_optionals


OPTIONAL_HASH_PATCH = FlytekitPatch(
    name="flyte.workflows.optional_hash_patch",
    owner=TypeEngine,
    method="calculate_hash",
    parameters=("python_val", "python_type"),
    versions=frozenset({(1, 16)}),
    wrap=_optionals_keep_their_hash_method,
    unpatched="A file given to an optional input (the training workflows' dataset) is cached by its path, not its "
    "content",
)


def hash_optional_values() -> bool:
    """Make TypeEngine hash a value given to an Optional of a HashMethod-annotated type with that HashMethod;
    returns whether the patch is in place."""
    return OPTIONAL_HASH_PATCH.apply()
