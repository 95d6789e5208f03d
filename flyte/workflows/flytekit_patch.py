"""How the project patches flytekit: each patch wraps one method of a flytekit class, fenced to what it was written for.

A FlytekitPatch applies once per process, and only to the flytekit releases it lists and while the method still
takes the parameters it wraps; anywhere else it warns once and leaves flytekit as it is. The patches:
local_cache_patch.py and optional_hash_patch.py, each saying which upstream behaviour it works around and when to
delete it.
"""

from __future__ import annotations

import functools
import inspect
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

_warned: set[str] = set()  # the patches that have warned in this process


@dataclass(frozen=True)
class FlytekitPatch:
    """A wrapper for `owner.method`, applied only inside its fence."""

    name: str  # the patch's module, as the warning names it
    owner: type  # the flytekit class
    method: str  # the static or class method that is wrapped
    parameters: tuple[str, ...]  # the method's parameters, as the wrapper calls it
    versions: frozenset[tuple[int, int]]  # flytekit (major, minor) releases it was written and tested for
    wrap: Callable[[Callable], Callable]  # flytekit's method -> the replacement, which calls it
    unpatched: str  # what goes wrong without the patch, for the warning

    def original(self) -> Callable:
        """flytekit's own method, beneath the patch if it is applied."""
        current = getattr(self.owner, self.method)
        return getattr(current, "__wrapped__", current) if self.is_applied() else current

    def is_applied(self) -> bool:
        return getattr(getattr(self.owner, self.method), "patched_by", None) == self.name

    def why_not_applicable(self, flytekit_version: str | None = None, method: Callable | None = None) -> str | None:
        """Why the patch must not touch this flytekit (another release, or a method it does not know), or None."""
        flytekit_version = flytekit_version or metadata.version("flytekit")
        release = re.match(r"(\d+)\.(\d+)", flytekit_version)
        if release is None or (int(release.group(1)), int(release.group(2))) not in self.versions:
            supported = ", ".join(f"{major}.{minor}.x" for major, minor in sorted(self.versions))
            return f"it was written for flytekit {supported}, this is flytekit {flytekit_version}"
        try:
            parameters = tuple(inspect.signature(method or self.original()).parameters)
        except (TypeError, ValueError):
            parameters = ()
        if parameters != self.parameters:
            return f"{self.owner.__name__}.{self.method} takes {parameters}, not the {self.parameters} it wraps"
        return None

    def apply(self) -> bool:
        """Replace the method with its wrapper, once; returns whether the patch is in place. Outside the fence, warn
        (once per process) and change nothing."""
        if self.is_applied():
            return True
        reason = self.why_not_applicable()
        if reason is not None:
            if self.name not in _warned:
                _warned.add(self.name)
                warnings.warn(
                    f"{self.name} is not applied: {reason}. {self.unpatched}; check whether this flytekit fixes it, "
                    "then delete the patch or widen its fence (versions).",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return False
        original = getattr(self.owner, self.method)
        replacement = functools.wraps(original)(self.wrap(original))
        replacement.patched_by = self.name
        setattr(self.owner, self.method, staticmethod(replacement))
        return True
