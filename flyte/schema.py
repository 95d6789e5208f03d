"""The columns of the Pima Indians Diabetes CSV: the numeric features and a 0/1 label, in file order, and the range
of values a person can have in each.

The one place the column set is written down: the validation, the Flyte types, the command line, the messages, the
test fixtures and the synthetic data all derive from it, so a new column is added here (with its data and docs).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class PlausibleRange:
    """Inclusive bounds of a value a person can have; with zero_means_missing, 0 (not measured) is accepted too."""

    low: float
    high: float
    unit: str
    zero_means_missing: bool = False

    def describe(self, kind: type) -> str:
        """What a valid value is, for error messages: 'a whole number from 10 to 3000 mg/dL, or 0 (not measured)'."""
        number = "a whole number" if kind is int else "a number"
        unit = f" {self.unit}" if self.unit else ""
        missing = ", or 0 (not measured)" if self.zero_means_missing else ""
        return f"{number} from {self.low:g} to {self.high:g}{unit}{missing}"

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high or (self.zero_means_missing and value == 0)


# Generous bounds beyond the extremes a living person has been measured with; the sources are in
# docs/data-validation.md ("Plausible values"). The real file's values (min..max, zeros aside) sit well inside.
PLAUSIBLE_RANGES: dict[str, PlausibleRange] = {
    "pregnancies": PlausibleRange(0, 30, ""),  # data 0..17; record: 27 pregnancies
    "glucose": PlausibleRange(10, 3000, "mg/dL", zero_means_missing=True),  # data 44..199; record 2656 mg/dL
    "blood_pressure": PlausibleRange(10, 300, "mm Hg", zero_means_missing=True),  # diastolic; data 24..122
    "skin_thickness": PlausibleRange(1, 150, "mm", zero_means_missing=True),  # triceps skinfold; data 7..99
    "insulin": PlausibleRange(1, 5000, "mu U/ml", zero_means_missing=True),  # 2-hour serum insulin; data 14..846
    "bmi": PlausibleRange(5, 250, "kg/m^2", zero_means_missing=True),  # data 18.2..67.1; record about 186
    "diabetes_pedigree": PlausibleRange(0, 20, ""),  # data 0.078..2.42
    "age": PlausibleRange(0, 125, "years"),  # data 21..81; oldest verified person 122
    LABEL: PlausibleRange(0, 1, ""),
}
