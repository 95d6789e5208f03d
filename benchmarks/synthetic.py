"""Deterministic, Pima-shaped synthetic CSVs: the real file's 9 columns, value ranges and formats, no header.

Each column follows a simple distribution fitted by eye to the real file (means, spreads, share of zeros for the
"missing" encodings), clipped to the real file's min..max; the label is a noisy logistic function of glucose, BMI,
age, pregnancies and pedigree, so that a model has something to learn (about 35% positives, as in the real file).
Rows are made in blocks of 1M, each from its own seeded generator: the same (rows, seed) always gives the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

BLOCK_ROWS = 1_000_000
NAMES = ("pregnancies", "glucose", "blood_pressure", "skin_thickness", "insulin", "bmi",
         "diabetes_pedigree", "age", "diabetic")


def _with_zeros(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    """Replace `share` of the values by 0, as the real file encodes missing measurements."""
    return np.where(rng.random(len(values)) < share, 0, values)


def _block(rows: int, rng: np.random.Generator) -> pa.Table:
    pregnancies = np.minimum(rng.negative_binomial(2, 0.345, rows), 17)
    glucose = _with_zeros(rng, np.clip(np.rint(rng.normal(121, 31, rows)), 44, 199), 0.0065)
    blood_pressure = _with_zeros(rng, np.clip(np.rint(rng.normal(72, 12, rows)), 24, 122), 0.046)
    skin_thickness = _with_zeros(rng, np.clip(np.rint(rng.normal(29, 10.5, rows)), 7, 99), 0.296)
    insulin = _with_zeros(rng, np.clip(np.rint(rng.lognormal(4.8, 0.7, rows)), 14, 846), 0.487)
    bmi = _with_zeros(rng, np.clip(np.round(rng.normal(32.4, 6.9, rows), 1), 18.2, 67.1), 0.014)
    pedigree = np.clip(np.round(rng.lognormal(-0.9, 0.6, rows), 3), 0.078, 2.42)
    age = np.clip(np.rint(21 + rng.exponential(12.2, rows)), 21, 81)
    logit = (
        0.035 * (glucose - 121) + 0.09 * (bmi - 32) + 0.03 * (age - 33) + 0.12 * (pregnancies - 3.8)
        + 0.9 * (pedigree - 0.47) - 0.75 + rng.logistic(0, 1, rows)
    )
    diabetic = (logit > 0).astype(np.int64)
    columns = [pregnancies, glucose, blood_pressure, skin_thickness, insulin, bmi, pedigree, age, diabetic]
    return pa.table({
        name: pa.array(values.astype(np.float64 if name in ("bmi", "diabetes_pedigree") else np.int64))
        for name, values in zip(NAMES, columns)
    })


def synthetic_csv(rows: int, folder: Path, seed: int = 2024) -> Path:
    """The path of the synthetic CSV of `rows` rows in `folder`, written (atomically) unless already there."""
    path = Path(folder) / f"pima-synthetic-{rows}-rows-seed-{seed}.csv"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    schema = _block(1, np.random.default_rng(0)).schema
    with pacsv.CSVWriter(partial, schema, write_options=options) as writer:
        for block, start in enumerate(range(0, rows, BLOCK_ROWS)):
            writer.write_table(_block(min(BLOCK_ROWS, rows - start), np.random.default_rng([seed, block])))
    partial.replace(path)
    return path
