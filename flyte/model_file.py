"""Save a trained classifier with what it needs to be used safely later, and load it back only if it fits.

A model file is one JSON document (MODEL_FILE_FORMAT): the booster in XGBoost's own UBJSON format (base64) and its
metadata as plain JSON values. Reading one parses JSON and hands XGBoost its own bytes: nothing in the file can run
code (docs/model-files.md, Trust). Model files of the old format, joblib pickles that do run code when loaded, are
refused before any byte of them is unpickled; `python -m flyte.model_file convert-trusted-pickle OLD NEW` converts
one you trust.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from flyte.atomic_write import atomic_output
from flyte.errors import UserInputError
from flyte.model_card import ChampionComparison, ModelCard
from flyte.schema import FEATURES
from flyte.versions import installed_versions

if TYPE_CHECKING:  # imported where a booster is made: loading flyte.model_file stays free of XGBoost
    from xgboost import XGBClassifier

MODEL_FILE_FORMAT = "pima-diabetes-xgboost/2"
# The name the training workflows' fit tasks give the model file.
MODEL_FILE_NAME = "model.json"
# Libraries whose version decides whether a saved booster loads and predicts the same.
MODEL_LIBRARIES = ("xgboost", "scikit-learn", "numpy", "pandas")
# The format before MODEL_FILE_FORMAT: a joblib pickle of a dict holding the XGBClassifier object.
PICKLED_MODEL_FILE_FORMAT = "pima-diabetes-xgboost/1"
CONVERT_COMMAND = "python -m flyte.model_file convert-trusted-pickle"


class IncompatibleModelError(UserInputError, ValueError):
    """The model file cannot be used by this code; the message names the file and what does not match."""


def utc_now() -> str:
    """Now, UTC, ISO 8601 to the second: the time format of model files and the model registry."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Provenance:
    """Where a model came from: what its evaluation report's card shows and the model registry records."""

    dataset_source: str  # the data set's path or URI as given (or the bundled file)
    training_rows: int | None  # None only for a model converted from the old format, which did not record it
    hyperparameters: dict[str, object]
    seed: int | None  # None only for a converted model trained without a seed
    trained_at: str  # ISO 8601, UTC
    execution_id: str  # the Flyte execution that trained it (project:domain:name), "local" for a local run


@dataclass(frozen=True)
class SavedModel:
    """A classifier together with the facts needed to check, later, that it fits the data it is given."""

    booster_ubj: bytes = field(repr=False)  # the booster in XGBoost's own UBJSON format
    source: str  # where the model file was read from, for messages
    features: tuple[str, ...]
    library_versions: dict[str, str]
    training_data_sha256: str
    provenance: Provenance
    sha256: str  # of the model file's bytes: its identity in the model registry

    @cached_property
    def classifier(self) -> XGBClassifier:
        """The booster as an XGBClassifier, made on first use: reading a model's facts (to record or compare it)
        loads no XGBoost. IncompatibleModelError naming the file if XGBoost cannot read the booster."""
        return _classifier(self.booster_ubj, self.source)

    def card(self, test_rows: int, comparison: ChampionComparison | None = None) -> ModelCard:
        """The model card of this model evaluated on `test_rows` held-out rows."""
        provenance = self.provenance
        return ModelCard(
            dataset_source=provenance.dataset_source,
            dataset_sha256=self.training_data_sha256,
            training_rows=provenance.training_rows,
            test_rows=test_rows,
            hyperparameters=provenance.hyperparameters,
            seed=provenance.seed,
            library_versions=self.library_versions,
            trained_at=provenance.trained_at,
            execution_id=provenance.execution_id,
            comparison=comparison,
        )


def save_model(
    classifier: XGBClassifier, training_data_sha256: str, path: str | Path, provenance: Provenance
) -> SavedModel:
    """Write the booster with its feature order, library versions, the SHA-256 of the CSV it was trained on and
    its provenance; return what load_model would read back.

    Whole or not at all: a failed write (a full disk) raises OutputWriteError naming the path and leaves no file.
    """
    content = {
        "format": MODEL_FILE_FORMAT,
        "features": list(FEATURES),
        "library_versions": installed_versions(MODEL_LIBRARIES),
        "training_data_sha256": training_data_sha256,
        "provenance": asdict(provenance),
        "booster_ubj_base64": base64.b64encode(classifier.get_booster().save_raw("ubj")).decode("ascii"),
    }
    data = json.dumps(content, indent=1).encode("utf-8")
    with atomic_output(path, "saving the model file") as temporary:
        temporary.write_bytes(data)
    return _parsed(data, str(path))


def load_model(
    path: str | Path,
    source: str | None = None,
    features: tuple[str, ...] = FEATURES,
    expected_sha256: str | None = None,
) -> SavedModel:
    """Load a model file saved by save_model and check it was trained on `features`, in order (and, if given, that
    its bytes have the SHA-256 `expected_sha256`, as the model registry recorded them).

    Raises IncompatibleModelError naming the file (`source`) and the mismatch (for a booster XGBoost cannot read,
    at the first use of .classifier); warns if library versions differ. Nothing in the file is executed: it is
    parsed as JSON, the booster by XGBoost from its own format.
    """
    source = source or str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise IncompatibleModelError(f"{source}: no such file; expected a model file written by the fit task") from None
    except IsADirectoryError:
        raise IncompatibleModelError(f"{source}: is a folder; expected a model file written by the fit task") from None
    if expected_sha256 is not None and (digest := hashlib.sha256(data).hexdigest()) != expected_sha256:
        raise IncompatibleModelError(
            f"{source}: its SHA-256 is {digest}, but the model registry recorded {expected_sha256}: the file was "
            "changed or replaced since it was recorded; it was not loaded"
        )
    saved = _parsed(data, source)
    if saved.features != tuple(features):
        raise IncompatibleModelError(
            f"{source}: the model was trained on the features {', '.join(saved.features)}; "
            f"expected {', '.join(features)} in this order"
        )
    _warn_about_version_changes(saved.library_versions, source)
    return saved


# Every key of a model file and the JSON type of its value.
_FIELD_TYPES = {
    "features": list,
    "library_versions": dict,
    "training_data_sha256": str,
    "provenance": dict,
    "booster_ubj_base64": str,
}
_JSON_NAMES = {list: "array", dict: "object", str: "string"}
_PROVENANCE_TYPES = {
    "dataset_source": (str,),
    "training_rows": (int, type(None)),
    "hyperparameters": (dict,),
    "seed": (int, type(None)),
    "trained_at": (str,),
    "execution_id": (str,),
}
_RETRAIN = "retrain it with the diabetes_xgboost_model workflow"


def _parsed(data: bytes, source: str) -> SavedModel:
    """The model in a model file's bytes, every field checked; IncompatibleModelError naming `source` otherwise."""
    content = _json_document(data, source)
    if content.get("format") != MODEL_FILE_FORMAT:
        if "learner" in content and "version" in content:
            raise IncompatibleModelError(
                f"{source}: a model saved by XGBoost itself, without the feature names, library versions and data "
                f"digest of a model file of format {MODEL_FILE_FORMAT}; {_RETRAIN}"
            )
        raise IncompatibleModelError(
            f"{source}: not a model file of format {MODEL_FILE_FORMAT} (its format is "
            f"{_shortened(content.get('format'))}); {_RETRAIN}"
        )
    problems = [
        f"{key} is missing" if key not in content else f"{key} is not a JSON {_JSON_NAMES[kind]}"
        for key, kind in _FIELD_TYPES.items()
        if not isinstance(content.get(key), kind)
    ]
    provenance = content.get("provenance")
    if isinstance(provenance, dict):
        problems += [
            f"provenance.{key} is missing or of the wrong type"
            for key, kinds in _PROVENANCE_TYPES.items()
            if not isinstance(provenance.get(key), kinds) or isinstance(provenance.get(key), bool)
        ]
    if problems:
        raise IncompatibleModelError(
            f"{source}: a model file of format {MODEL_FILE_FORMAT} with missing or damaged contents: "
            f"{'; '.join(problems)}; {_RETRAIN}"
        )
    try:
        booster_bytes = base64.b64decode(content["booster_ubj_base64"], validate=True)
    except binascii.Error:
        raise IncompatibleModelError(f"{source}: its booster is not valid base64; {_RETRAIN}") from None
    return SavedModel(
        booster_ubj=booster_bytes,
        source=source,
        features=tuple(str(name) for name in content["features"]),
        library_versions={str(key): str(value) for key, value in content["library_versions"].items()},
        training_data_sha256=content["training_data_sha256"],
        provenance=Provenance(**{key: provenance[key] for key in _PROVENANCE_TYPES}),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _json_document(data: bytes, source: str) -> dict:
    """The JSON object in `data`; a pickle (the old format) is refused before a byte of it is unpickled."""
    if data[:1] == b"\x80":  # the PROTO opcode every pickle of protocol 2 or later (joblib's) starts with
        raise IncompatibleModelError(
            f"{source}: a pickle (the joblib model file format before {MODEL_FILE_FORMAT}), which runs code when "
            "loaded; it was refused, and nothing in it was run. Retrain the model, or, only if you trust the file "
            f"(you trained it yourself and nobody else could write to it), convert it: {CONVERT_COMMAND} "
            f"{source} model.json"
        )
    try:
        content = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        content = None
    if not isinstance(content, dict):
        raise IncompatibleModelError(
            f"{source}: not a model file (not a JSON document of format {MODEL_FILE_FORMAT}); expected a model file "
            "written by the fit task"
        )
    return content


def _classifier(booster_bytes: bytes, source: str) -> XGBClassifier:
    """An XGBClassifier of the booster saved in XGBoost's own UBJSON format."""
    from xgboost import XGBClassifier
    from xgboost.core import XGBoostError

    classifier = XGBClassifier()
    try:
        classifier.load_model(bytearray(booster_bytes))
    except XGBoostError as error:
        reason = str(error).strip().splitlines()[0][:200]
        raise IncompatibleModelError(f"{source}: XGBoost cannot read its booster ({reason}); {_RETRAIN}") from None
    return classifier


def _shortened(value: object, limit: int = 80) -> str:
    """A value for a message, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _warn_about_version_changes(trained_with: dict[str, str], source: str) -> None:
    """A booster saved by another library version may load yet predict differently: say so."""
    installed = installed_versions(tuple(trained_with))
    changed = [
        f"{library} {version} (now {installed.get(library, 'not installed')})"
        for library, version in trained_with.items()
        if installed.get(library) != version
    ]
    if changed:
        warnings.warn(f"{source}: trained with {', '.join(changed)}; predictions may differ", stacklevel=3)


def convert_trusted_pickle(old: str | Path, new: str | Path) -> SavedModel:
    """Convert a model file of the old, pickled format to MODEL_FILE_FORMAT. Unpickling RUNS CODE from `old`:
    only for a file you trust. What the old format did not record is marked unknown in the provenance."""
    import joblib

    content = joblib.load(old)  # runs the pickle's code: the caller vouched for the file
    if not isinstance(content, dict) or content.get("format") != PICKLED_MODEL_FILE_FORMAT:
        raise IncompatibleModelError(f"{old}: not a model file of the old format {PICKLED_MODEL_FILE_FORMAT}")
    classifier = content["classifier"]
    settings = {key: value for key, value in classifier.get_params().items() if value is not None}
    provenance = Provenance(
        dataset_source=f"unknown (converted from {old})",
        training_rows=None,
        hyperparameters={key: settings[key] for key in ("max_depth", "learning_rate", "n_estimators", "objective",
                                                         "booster") if key in settings},
        seed=settings.get("random_state"),
        trained_at="unknown",
        execution_id="unknown",
    )
    if tuple(content["features"]) != FEATURES:
        raise IncompatibleModelError(f"{old}: trained on the features {', '.join(content['features'])}, not these")
    return save_model(classifier, content["training_data_sha256"], new, provenance)


def main(argv: list[str] | None = None) -> int:
    """`convert-trusted-pickle OLD NEW`: convert an old, pickled model file you trust."""
    parser = argparse.ArgumentParser(
        prog="python -m flyte.model_file",
        description="Convert a model file of the old pickled format (model.joblib.dat) that you TRUST to the "
        "current format. Loading a pickle runs any code it holds: convert only files you trained yourself.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert-trusted-pickle", help="convert a trusted model.joblib.dat")
    convert.add_argument("old", type=Path, help="the old model file (a joblib pickle); its code is run")
    convert.add_argument("new", type=Path, help="where to write the converted model file (model.json)")
    args = parser.parse_args(argv)
    if not args.old.is_file():
        parser.exit(2, f"error: {args.old}: no such file\n")
    if args.new.exists():
        parser.exit(2, f"error: {args.new} exists; give a new path\n")
    try:
        saved = convert_trusted_pickle(args.old, args.new)
    except IncompatibleModelError as error:
        parser.exit(2, f"error: {error}\n")
    print(f"wrote {args.new} (SHA-256 {saved.sha256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
