"""The XGBoost settings a user can choose, and grids of them to tune over; checked as soon as they are made.

No XGBoost here: workflows take these as inputs without loading the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from itertools import product

# Objectives whose scores are probabilities, as the metrics, the tuning (ROC AUC), the report and the predictions
# need. binary:hinge is not offered: its scores are 0/1 classes, which every one of them would present as
# probabilities (see REFUSED_OBJECTIVES).
OBJECTIVES = ("binary:logistic",)
REFUSED_OBJECTIVES = {
    "binary:hinge": "it yields 0/1 classes, not the probabilities the evaluation, tuning and predictions report",
}
BOOSTERS = ("gbtree", "dart", "gblinear")


@dataclass
class Hyperparameters:
    """XGBoost settings, defaulting to the original Flyte tutorial's; checked as soon as they are made."""

    max_depth: int = 4
    learning_rate: float = 0.1
    n_estimators: int = 100
    objective: str = "binary:logistic"
    booster: str = "gbtree"

    def __post_init__(self) -> None:
        problems = []
        if self.max_depth < 1:
            problems.append(f"max_depth must be >= 1, got {self.max_depth}")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.n_estimators < 1:
            problems.append(f"n_estimators must be >= 1, got {self.n_estimators}")
        if self.objective not in OBJECTIVES:
            why = f" ({REFUSED_OBJECTIVES[self.objective]})" if self.objective in REFUSED_OBJECTIVES else ""
            problems.append(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}{why}")
        if self.booster not in BOOSTERS:
            problems.append(f"booster must be one of {', '.join(BOOSTERS)}, got {self.booster!r}")
        if problems:
            raise ValueError("invalid hyperparameters: " + "; ".join(problems))


@dataclass
class HyperparameterGrid:
    """Values to try for each Hyperparameters field; every combination is one grid point (36 by default)."""

    max_depth: list[int] = field(default_factory=lambda: [2, 3, 4, 6])
    learning_rate: list[float] = field(default_factory=lambda: [0.03, 0.1, 0.3])
    n_estimators: list[int] = field(default_factory=lambda: [50, 100, 200])
    objective: list[str] = field(default_factory=lambda: ["binary:logistic"])
    booster: list[str] = field(default_factory=lambda: ["gbtree"])

    def points(self) -> list[Hyperparameters]:
        """Every combination of the listed values, in grid order (the last field varies fastest)."""
        names = [setting.name for setting in fields(Hyperparameters)]
        for name in names:
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise ValueError(f"grid field {name} must list one or more distinct values, got {values}")
        combinations = product(*(getattr(self, name) for name in names))
        return [Hyperparameters(**dict(zip(names, values, strict=True))) for values in combinations]
