"""The columns of the Pima Indians Diabetes CSV: 8 numeric features and a 0/1 label, in file order."""

from __future__ import annotations

# Column names and types, in file order, as the data set's .names file describes them.
FEATURE_TYPES: dict[str, type] = {
    "pregnancies": int,
    "glucose": int,
    "blood_pressure": int,
    "skin_thickness": int,
    "insulin": int,
    "bmi": float,
    "diabetes_pedigree": float,
    "age": int,
}
LABEL = "diabetic"
COLUMN_TYPES: dict[str, type] = {**FEATURE_TYPES, LABEL: int}
FEATURES = tuple(FEATURE_TYPES)
COLUMNS = tuple(COLUMN_TYPES)
