"""The dependency lock as data: what `requirements.txt` pins, by normalized distribution name."""

import re
from importlib.metadata import distributions
from pathlib import Path


def canonical(name: str) -> str:
    """A distribution's name as PEP 503 compares them: `jaraco.context`, `Jaraco_Context` -> `jaraco-context`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path) -> dict[str, str]:
    """Every `name==version` pin of a lock file (the hash lines are ignored)."""
    pins = [re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", line) for line in lock.read_text().splitlines()]
    return {canonical(pin.group(1)): pin.group(2) for pin in pins if pin}


def installed_versions() -> dict[str, str]:
    """Every distribution installed in the running interpreter's environment."""
    return {canonical(dist.metadata["Name"]): dist.version for dist in distributions()}
