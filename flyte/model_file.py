"""Save a trained classifier with what it needs to be used safely later, and load it back only if it fits.

A model file is a joblib pickle: loading one runs code from it, so load only model files you trust.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import joblib

from flyte.atomic_write import atomic_output
from flyte.schema import FEATURES
from flyte.versions import installed_versions

if TYPE_CHECKING:  # only the type hints name it: loading a model file imports xgboost through the pickle
    from xgboost import XGBClassifier

MODEL_FILE_FORMAT = "pima-diabetes-xgboost/1"
# Libraries whose version decides whether a pickled classifier loads and predicts the same.
MODEL_LIBRARIES = ("xgboost", "scikit-learn", "numpy", "pandas", "joblib")


class IncompatibleModelError(ValueError):
    """The model file cannot be used by this code; the message names the file and what does not match."""


@dataclass(frozen=True)
class SavedModel:
    """A classifier together with the facts needed to check, later, that it fits the data it is given."""

    classifier: XGBClassifier
    features: tuple[str, ...]
    library_versions: dict[str, str]
    training_data_sha256: str


def save_model(classifier: XGBClassifier, training_data_sha256: str, path: str | Path) -> SavedModel:
    """Write the classifier with its feature order, library versions and the SHA-256 of the CSV it was trained on.

    Whole or not at all: a failed write (a full disk) raises OutputWriteError naming the path and leaves no file.
    """
    saved = SavedModel(classifier, FEATURES, installed_versions(MODEL_LIBRARIES), training_data_sha256)
    content = {
        "format": MODEL_FILE_FORMAT,
        "classifier": saved.classifier,
        "features": list(saved.features),
        "library_versions": saved.library_versions,
        "training_data_sha256": saved.training_data_sha256,
    }
    with atomic_output(path, "saving the model file") as temporary:
        joblib.dump(content, temporary)
    return saved


def load_model(path: str | Path, source: str | None = None, features: tuple[str, ...] = FEATURES) -> SavedModel:
    """Load a model file saved by save_model (trusted files only) and check it was trained on `features`, in order.

    Raises IncompatibleModelError naming the file (`source`) and the mismatch; warns if library versions differ.
    """
    source = source or str(path)
    try:
        content = joblib.load(path)
    except FileNotFoundError:
        raise IncompatibleModelError(f"{source}: no such file; expected a model file written by the fit task") from None
    except Exception as error:  # unpickling raises anything the pickled code raises
        raise IncompatibleModelError(
            f"{source}: cannot be read as a joblib model file ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(content, dict) or content.get("format") != MODEL_FILE_FORMAT:
        raise IncompatibleModelError(
            f"{source}: not a model file of format {MODEL_FILE_FORMAT} (no feature names, versions or data digest); "
            "retrain it with the diabetes_xgboost_model workflow"
        )
    saved = SavedModel(
        classifier=content["classifier"],
        features=tuple(content["features"]),
        library_versions=dict(content["library_versions"]),
        training_data_sha256=content["training_data_sha256"],
    )
    if saved.features != tuple(features):
        raise IncompatibleModelError(
            f"{source}: the model was trained on the features {', '.join(saved.features)}; "
            f"expected {', '.join(features)} in this order"
        )
    _warn_about_version_changes(saved.library_versions, source)
    return saved


def _warn_about_version_changes(trained_with: dict[str, str], source: str) -> None:
    """A classifier pickled by another library version may load yet predict differently: say so."""
    installed = installed_versions(tuple(trained_with))
    changed = [
        f"{library} {version} (now {installed.get(library, 'not installed')})"
        for library, version in trained_with.items()
        if installed.get(library) != version
    ]
    if changed:
        warnings.warn(f"{source}: trained with {', '.join(changed)}; predictions may differ", stacklevel=3)
