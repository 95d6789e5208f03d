"""Save a trained classifier with what it needs to be used safely later, and load it back only if it fits.

A model file is a joblib pickle: loading one runs code from it, so load only model files you trust.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import joblib
import pandas as pd
from xgboost import XGBClassifier

from flyte.dataset import FEATURES

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


def installed_versions(libraries: tuple[str, ...] = MODEL_LIBRARIES) -> dict[str, str]:
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


def table_sha256(table: pd.DataFrame) -> str:
    """SHA-256 of a table written as CSV with a header row and '\\n' line ends: the same rows give the same digest.

    The bytes are exactly pandas' `table.to_csv(index=False, lineterminator="\\n")`, but for tables of int64 and
    finite float64 columns (the training rows) they are formatted by pyarrow, about 3x faster than pandas' writer,
    in blocks of rows on all cores (pyarrow releases the GIL), and the CSV text is never held whole: at millions of
    rows this digest was most of fit's overhead.
    """
    digest = hashlib.sha256()
    if not _arrow_formats_like_pandas(table):
        digest.update(table.to_csv(index=False, lineterminator="\n").encode())
        return digest.hexdigest()
    import os
    from concurrent.futures import ThreadPoolExecutor

    digest.update((",".join(table.columns) + "\n").encode())
    starts = list(range(0, len(table), _DIGEST_BLOCK_ROWS))
    workers = max(1, min(os.cpu_count() or 1, len(starts)))
    with ThreadPoolExecutor(workers) as pool:
        for window in range(0, len(starts), workers):  # a few blocks at a time, digested in order
            for text in pool.map(lambda start: _csv_block(table, start), starts[window : window + workers]):
                digest.update(text)
    return digest.hexdigest()


_DIGEST_BLOCK_ROWS = 500_000


def _csv_block(table: pd.DataFrame, start: int):
    """The CSV text (no header) of _DIGEST_BLOCK_ROWS rows of `table` from row `start`, as a pyarrow buffer."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    block = table.iloc[start : start + _DIGEST_BLOCK_ROWS]
    texts = pa.table({str(name): _csv_cells(block[name].to_numpy()) for name in block.columns})
    buffer = pa.BufferOutputStream()
    pacsv.write_csv(texts, buffer, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buffer.getvalue()


def _arrow_formats_like_pandas(table: pd.DataFrame) -> bool:
    """Plain string column names, int64 columns and finite float64 columns: what _csv_cells reproduces exactly."""
    import numpy as np

    if len(table) == 0 or not all(isinstance(name, str) and name.isidentifier() for name in table.columns):
        return False
    for _, column in table.items():
        if column.dtype == np.int64:
            continue
        if column.dtype != np.float64 or not np.isfinite(column.to_numpy()).all():
            return False
    return True


def _csv_cells(values):
    """Each value as pandas writes it to CSV: str(int), or repr(float) (shortest round-trip digits)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = pc.cast(pa.array(values), pa.string())
    if values.dtype == np.int64:
        return cells
    # pyarrow prints the same shortest digits as repr, but "2" for 2.0, and its own choice of exponent or fixed
    # layout: add repr's ".0" to whole numbers in fixed layout, and take repr itself for every value that either
    # side prints with an exponent (repr: below 1e-4 and from 1e16 on), which is rare in real data.
    magnitude = np.abs(values)
    exponent = pc.match_substring(cells, "e").to_numpy(zero_copy_only=False)
    unusual = exponent | ((magnitude != 0) & ((magnitude < 1e-4) | (magnitude >= 1e16)))
    whole = (values == np.floor(values)) & ~unusual
    cells = pc.if_else(pa.array(whole), pc.binary_join_element_wise(cells, ".0", ""), cells)
    unusual = np.flatnonzero(unusual)
    if len(unusual):
        cells = cells.to_numpy(zero_copy_only=False).astype(object)
        cells[unusual] = [repr(float(value)) for value in values[unusual]]
        cells = pa.array(cells, pa.string())
    return cells


def save_model(classifier: XGBClassifier, train: pd.DataFrame, path: str | Path) -> SavedModel:
    """Write the classifier with its feature order, library versions and the SHA-256 of its training rows."""
    saved = SavedModel(classifier, FEATURES, installed_versions(), table_sha256(train))
    joblib.dump(
        {
            "format": MODEL_FILE_FORMAT,
            "classifier": saved.classifier,
            "features": list(saved.features),
            "library_versions": saved.library_versions,
            "training_data_sha256": saved.training_data_sha256,
        },
        path,
    )
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
