"""Installed versions of the libraries whose version can change a result or how a saved model loads."""

from __future__ import annotations

from importlib import metadata


def installed_versions(libraries: tuple[str, ...]) -> dict[str, str]:
    """Installed version of each library, by its import name (either XGBoost distribution counts as xgboost)."""
    versions = {}
    for library in libraries:
        for distribution in (library, f"{library}-cpu"):
            try:
                versions[library] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions
