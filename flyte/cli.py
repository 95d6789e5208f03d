"""Score one patient given on the command line, or a CSV of patients, with a saved model; no Flyte needed.

    python -m flyte.cli [MODEL] --pregnancies 6 --glucose 148 --blood-pressure 72 --skin-thickness 35 \\
        --insulin 0 --bmi 33.6 --diabetes-pedigree 0.627 --age 50
    python -m flyte.cli [MODEL] --csv patients.csv [--output predictions.csv]
    python -m flyte.cli --which-model

Without MODEL, the champion of the model registry (flyte.registry: $DIABETES_MODEL_REGISTRY, else the local one),
its file checked against the SHA-256 the registry recorded; --which-model prints its path.

A model file is plain data (flyte.model_file): loading one runs no code from it; old pickled model files are refused.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from flyte.atomic_write import OutputWriteError, atomic_output
from flyte.dataset import InvalidDatasetError
from flyte.registry import Champion, ModelRegistry, RegistryError, configured_location, default_local_location
from flyte.schema import FEATURE_TYPES, FEATURES


def _option(feature: str) -> str:
    """The command-line option of a feature: --blood-pressure for blood_pressure."""
    return "--" + feature.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    """Options: the model file, then either --csv (and --output) or one option per feature."""
    parser = argparse.ArgumentParser(
        prog="python -m flyte.cli",
        description="Predict diabetes with a model file written by the diabetes_xgboost_model workflow. "
        f"Give one patient's {len(FEATURES)} features as options, or a CSV of patients with --csv.",
    )
    parser.add_argument(
        "model", type=Path, nargs="?",
        help="model file (model.json) from a workflow run; default: the champion of the model registry",
    )  # fmt: skip
    parser.add_argument(
        "--which-model", action="store_true", help="print the path of the model file that would be used, and exit"
    )
    parser.add_argument("--csv", type=Path, help=f"CSV of patients: the {len(FEATURES)} feature columns, no label")
    parser.add_argument("--output", type=Path, help="with --csv: write the predictions here instead of printing them")
    patient = parser.add_argument_group(f"one patient (all {len(FEATURES)} required without --csv)")
    for feature in FEATURES:
        patient.add_argument(_option(feature), dest=feature, type=FEATURE_TYPES[feature], metavar="VALUE")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print the predicted class and probability of one patient, or the predictions CSV of many."""
    parser = build_parser()
    args = parser.parse_args(argv)
    champion, registry = None, None
    if args.model is None:
        try:
            registry, champion = champion_of_the_registry()
        except RegistryError as error:
            parser.exit(2, f"error: {error}\n")
        if not args.which_model:
            print(f"model: {champion.description()}", file=sys.stderr)
    if args.which_model:
        print(args.model or registry.uri("models", f"{champion.model_sha256}.json"))
        return 0
    given = {feature: getattr(args, feature) for feature in FEATURES if getattr(args, feature) is not None}
    if args.csv and given:
        parser.error(f"give either --csv or the feature options, not both (got --csv and {_option(next(iter(given)))})")
    if args.output and not args.csv:
        parser.error("--output needs --csv")
    if args.output and not args.output.parent.is_dir():
        parser.error(f"--output {args.output}: the folder {args.output.parent} does not exist")
    if not args.csv and len(given) < len(FEATURES):
        missing = [_option(feature) for feature in FEATURES if feature not in given]
        parser.error(f"give --csv FILE, or all {len(FEATURES)} features of one patient; missing {' '.join(missing)}")
    from flyte.inference import classify_patients_csv  # XGBoost loads only once the arguments are known to be fine
    from flyte.model_file import IncompatibleModelError

    try:
        with tempfile.TemporaryDirectory() as folder:
            model, model_source = args.model, None
            if champion is not None:
                model = registry.model_local_path(champion.model_sha256, folder)
                model_source = registry.uri("models", model.name)
            patients = args.csv or _write_patient(Path(folder) / "patient.csv", given)
            source = None if args.csv else "the command line"
            predictions = classify_patients_csv(
                model, patients, model_source, patients_source=source,
                model_sha256=champion.model_sha256 if champion else None,
            )  # fmt: skip
    except (InvalidDatasetError, IncompatibleModelError) as error:
        parser.exit(2, f"error: {error}\n")
    if args.csv:
        if args.output:
            try:
                with atomic_output(args.output, "writing the predictions") as temporary:
                    predictions.to_csv(temporary, index=False)
            except OutputWriteError as error:
                parser.exit(2, f"error: {error}\n")
            print(f"wrote {len(predictions)} predictions to {args.output}")
        else:
            predictions.to_csv(sys.stdout, index=False)
    else:
        predicted, probability = predictions["predicted"].iloc[0], predictions["probability"].iloc[0]
        verdict = "diabetic" if predicted == 1 else "not diabetic"
        print(f"predicted class: {predicted} ({verdict})\nprobability of diabetes: {probability:.4f}")
    return 0


def champion_of_the_registry() -> tuple[ModelRegistry, Champion]:
    """The model registry ($DIABETES_MODEL_REGISTRY, else the local one) and its champion; RegistryError if it has
    none yet."""
    registry = ModelRegistry(configured_location() or default_local_location())
    champion = registry.champion()
    if champion is None:
        raise RegistryError(
            f"no model given and the model registry {registry.location} has no champion yet: train one with "
            "`.venv/bin/pyflyte run flyte/workflows/example.py diabetes_xgboost_model`, or give a model file's path"
        )
    return registry, champion


def _write_patient(path: Path, features: dict[str, int | float]) -> Path:
    """One patient as a one-row CSV, so that the values meet the same validation as a file's."""
    path.write_text(",".join(str(features[name]) for name in FEATURES) + "\n")
    return path


def main_in_a_pipe() -> int:
    """main(), ending quietly when the reader of its output goes away (`| head`), by the recipe of Python's docs
    (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        status = main()
        sys.stdout.flush()  # a broken pipe shows here, where it can be caught, not in the flush at exit
    except BrokenPipeError:
        # Python flushes stdout again at exit: pointed at devnull, that flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main_in_a_pipe())
