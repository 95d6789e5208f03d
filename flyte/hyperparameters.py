"""The XGBoost settings a user can choose, and grids of them to tune over; checked as soon as they are made.

Every way in is checked here, in the dataclasses themselves: Python calls (__post_init__), `pyflyte run
--hyperparameters JSON` (flytekit uses the class's own from_json) and a Flyte literal from the console or
`flytectl create execution`, which flytekit decodes with mashumaro (__pre_deserialize__ sees the raw mapping before
mashumaro converts, and so truncates, anything). A Struct carries every number as a double, so a whole number written
as a float (4.0) is taken as that integer; 3.7 for an integer setting, a string for a number or an unknown field name
is refused, naming the field. Bounds (SETTING_BOUNDS, GRID_MAX_POINTS) are documented in docs/data-validation.md.

No XGBoost here: workflows take these as inputs without loading the trainer.
"""

import json
import math
from dataclasses import dataclass, field, fields
from itertools import product
from typing import Any, get_type_hints

from flyte.errors import InvalidSettingsError, quoted

# Objectives whose scores are probabilities, as the metrics, the tuning (ROC AUC), the report and the predictions
# need. binary:hinge is not offered: its scores are 0/1 classes, which every one of them would present as
# probabilities (see REFUSED_OBJECTIVES).
OBJECTIVES = ("binary:logistic",)
REFUSED_OBJECTIVES = {
    "binary:hinge": "it yields 0/1 classes, not the probabilities the evaluation, tuning and predictions report",
}
BOOSTERS = ("gbtree", "dart", "gblinear")
# The boosters xgboost.dask trains (the distributed workflow): it has no distributed linear booster.
DISTRIBUTED_BOOSTERS = ("gbtree", "dart")

# Inclusive (lowest, highest) of each numeric setting; learning_rate must be above its lowest. Generous: the
# defaults are 4, 0.1 and 100, the default grid's largest values 6, 0.3 and 200.
SETTING_BOUNDS: dict[str, tuple[float, float]] = {
    "max_depth": (1, 32),
    "learning_rate": (0, 1),
    "n_estimators": (1, 10_000),
}
# At most this many combinations in a grid (the default grid has 36); each is cross-validated on every fold.
GRID_MAX_POINTS = 1000


def _setting_value(owner: str, name: str, kind: type, value: Any) -> Any:
    """`value` as a `kind` setting: a whole float (4.0, as a protobuf Struct sends 4) becomes an int; else raise."""
    if kind is str:
        if isinstance(value, str):
            return value
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        pass  # True is an int to Python, never a setting
    elif kind is float:
        return float(value)
    elif isinstance(value, int):
        return value
    elif math.isfinite(value) and value.is_integer():
        return int(value)
    else:
        raise InvalidSettingsError(f"{owner}.{name} must be a whole number, got {quoted(value)}")
    expected = {int: "a whole number", float: "a number", str: "a string"}[kind]
    raise InvalidSettingsError(f"{owner}.{name} must be {expected}, got {quoted(value)} ({type(value).__name__})")


def _check_field_names(cls: type, given: Any) -> None:
    """Refuse anything but a mapping of the class's own field names (a misspelled one would be silently dropped)."""
    allowed = [setting.name for setting in fields(cls)]
    if not isinstance(given, dict):
        raise InvalidSettingsError(
            f"{cls.__name__} must be a JSON object with the fields {', '.join(allowed)}, got {quoted(given)}"
        )
    unknown = sorted(name for name in given if name not in allowed)
    if unknown:
        raise InvalidSettingsError(
            f"unknown {cls.__name__} field{'s' if len(unknown) > 1 else ''} {', '.join(map(quoted, unknown))}; "
            f"the fields are {', '.join(allowed)}"
        )


class _StrictDecoding:
    """Checks at the two doors flytekit opens before __init__: mashumaro's decoders and pyflyte run's from_json."""

    @classmethod
    def __pre_deserialize__(cls, given: dict) -> dict:
        """mashumaro's hook: check the raw values (names, types, whole numbers) before it converts them."""
        _check_field_names(cls, given)
        return {name: cls._normalized(name, value) for name, value in given.items()}

    @classmethod
    def from_json(cls, text: str | bytes, **_ignored: Any) -> "_StrictDecoding":
        """Build from a JSON object (what `pyflyte run --hyperparameters '{...}'` passes), refusing unknown fields."""
        try:
            given = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidSettingsError(f"{cls.__name__} is not valid JSON ({error}): {quoted(text)}") from None
        _check_field_names(cls, given)
        return cls(**given)


@dataclass
class Hyperparameters(_StrictDecoding):
    """XGBoost settings, defaulting to the original Flyte tutorial's; checked as soon as they are made."""

    max_depth: int = 4
    learning_rate: float = 0.1
    n_estimators: int = 100
    objective: str = "binary:logistic"
    booster: str = "gbtree"
    _INPUT = "hyperparameters"  # the workflows' input, as messages name a field: hyperparameters.max_depth

    @classmethod
    def _normalized(cls, name: str, value: Any) -> Any:
        return _setting_value(cls._INPUT, name, _FIELD_KINDS[name], value)

    def __post_init__(self) -> None:
        for setting in fields(self):
            setattr(self, setting.name, self._normalized(setting.name, getattr(self, setting.name)))
        problems = [problem for name in _FIELD_KINDS if (problem := _out_of_range(name, getattr(self, name)))]
        if problems:
            raise InvalidSettingsError("invalid hyperparameters: " + "; ".join(problems))


# Each setting's type, in field order. The annotations must stay real types, not strings (no `from __future__
# import annotations`): flytekit reads dataclasses.fields(...).type to turn a Struct's doubles back into ints.
_FIELD_KINDS: dict[str, type] = {name: kind for name, kind in get_type_hints(Hyperparameters).items()}


def _out_of_range(name: str, value: Any) -> str | None:
    """What is wrong with a well-typed setting's value, or None."""
    if name == "objective" and value not in OBJECTIVES:
        why = f" ({REFUSED_OBJECTIVES[value]})" if value in REFUSED_OBJECTIVES else ""
        return f"objective must be one of {', '.join(OBJECTIVES)}, got {quoted(value)}{why}"
    if name == "booster" and value not in BOOSTERS:
        return f"booster must be one of {', '.join(BOOSTERS)}, got {quoted(value)}"
    if name in SETTING_BOUNDS:
        low, high = SETTING_BOUNDS[name]
        if name == "learning_rate" and not low < value <= high:
            return f"learning_rate must be above {low} and at most {high}, got {value}"
        if not low <= value <= high:
            return f"{name} must be between {low} and {high}, got {value}"
    return None


@dataclass
class HyperparameterGrid(_StrictDecoding):
    """Values to try for each Hyperparameters field; every combination is one grid point (36 by default).

    Checked when made: each list non-empty, distinct and of valid values, at most GRID_MAX_POINTS combinations.
    """

    max_depth: list[int] = field(default_factory=lambda: [2, 3, 4, 6])
    learning_rate: list[float] = field(default_factory=lambda: [0.03, 0.1, 0.3])
    n_estimators: list[int] = field(default_factory=lambda: [50, 100, 200])
    objective: list[str] = field(default_factory=lambda: ["binary:logistic"])
    booster: list[str] = field(default_factory=lambda: ["gbtree"])
    _INPUT = "grid"  # the tuning workflow's input, as messages name a field: grid.max_depth

    @classmethod
    def _normalized(cls, name: str, values: Any) -> list:
        if not isinstance(values, (list, tuple)):
            raise InvalidSettingsError(f"{cls._INPUT}.{name} must be a list of values, got {quoted(values)}")
        return [_setting_value(cls._INPUT, name, _FIELD_KINDS[name], value) for value in values]

    def __post_init__(self) -> None:
        problems = []
        for name in _FIELD_KINDS:
            values = self._normalized(name, getattr(self, name))
            setattr(self, name, values)
            if not values or len(set(values)) != len(values):
                problems.append(f"grid field {name} must list one or more distinct values, got {quoted(values)}")
            problems.extend(problem for value in values if (problem := _out_of_range(name, value)))
        size = math.prod(len(getattr(self, name)) for name in _FIELD_KINDS)
        if size > GRID_MAX_POINTS:
            problems.append(f"the grid has {size} points; at most {GRID_MAX_POINTS} are allowed")
        if problems:
            raise InvalidSettingsError("invalid hyperparameter grid: " + "; ".join(problems))

    def points(self) -> list[Hyperparameters]:
        """Every combination of the listed values, in grid order (the last field varies fastest)."""
        combinations = product(*(getattr(self, name) for name in _FIELD_KINDS))
        return [Hyperparameters(**dict(zip(_FIELD_KINDS, values, strict=True))) for values in combinations]
