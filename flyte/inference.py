"""Score new patients with a saved model: the feature columns in, predicted class and probability out; no Flyte here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from flyte.dataset import load_dataset
from flyte.model import classify
from flyte.model_file import load_model
from flyte.schema import FEATURE_TYPES


def classify_patients_csv(
    model_path: str | Path,
    patients_path: str | Path,
    model_source: str | None = None,
    patients_source: str | None = None,
    model_sha256: str | None = None,
) -> pd.DataFrame:
    """Each patient's features followed by the predicted class (1 = diabetic) and probability of diabetes.

    The patients CSV holds the feature columns only, headerless or with exactly the feature names as header; it is
    checked like training data, and the model file must have been trained on the same features in the same order
    (and have the SHA-256 `model_sha256`, if given: a model registry's record of it).
    """
    patients = load_dataset(patients_path, patients_source, columns=FEATURE_TYPES)
    classifier = load_model(model_path, model_source, expected_sha256=model_sha256).classifier
    return pd.concat([patients, classify(classifier, patients)], axis=1)
