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

The fence: it applies only to the flytekit versions it was written and tested for (FLYTEKIT_VERSIONS); otherwise it
warns once and changes nothing. Delete it once flytekit hashes Optional values itself: tests/test_optional_hash_patch.py
checks the unpatched behaviour and fails then.
"""

from __future__ import annotations

import functools
import re
import typing
import warnings
from importlib import metadata

from flytekit.core.hash import HashMethod
from flytekit.core.type_engine import TypeEngine, UnionTransformer, is_annotated

# flytekit (major, minor) releases whose TypeEngine.calculate_hash this patch was written for and tested with.
FLYTEKIT_VERSIONS = {(1, 16)}

_warned = False


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


def why_not_applicable(flytekit_version: str) -> str | None:
    """Why the patch must not touch this flytekit, or None."""
    release = re.match(r"(\d+)\.(\d+)", flytekit_version)
    if release is None or (int(release.group(1)), int(release.group(2))) not in FLYTEKIT_VERSIONS:
        supported = ", ".join(f"{major}.{minor}.x" for major, minor in sorted(FLYTEKIT_VERSIONS))
        return f"it was written for flytekit {supported}, this is flytekit {flytekit_version}"
    return None


def hash_optional_values() -> bool:
    """Make TypeEngine hash a value given to an Optional of a HashMethod-annotated type with that HashMethod.

    Returns whether the patch is in place; outside the fence it warns (once per process) and changes nothing.
    """
    global _warned
    calculate_hash = TypeEngine.calculate_hash
    if getattr(calculate_hash, "hashes_optional_values", False):
        return True
    reason = why_not_applicable(metadata.version("flytekit"))
    if reason is not None:
        if not _warned:
            _warned = True
            warnings.warn(
                f"flyte.workflows.optional_hash_patch is not applied: {reason}. A file given to an optional input "
                "(the training workflows' dataset) is cached by its path, not its content; check whether this "
                "flytekit hashes Optional values, then delete the patch or widen its fence (FLYTEKIT_VERSIONS).",
                RuntimeWarning,
                stacklevel=2,
            )
        return False

    @functools.wraps(calculate_hash)
    def calculate_hash_of_optionals(python_val, python_type):
        hash_method = hash_method_of_optional(python_type)
        if hash_method is not None and python_val is not None:
            return hash_method.calculate(python_val)
        return calculate_hash(python_val, python_type)

    calculate_hash_of_optionals.hashes_optional_values = True
    TypeEngine.calculate_hash = staticmethod(calculate_hash_of_optionals)
    return True
