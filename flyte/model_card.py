"""What the evaluation report says about the model it evaluates: where it came from, and how it compares with the
champion (the model in use). Plain data, filled by the workflows and rendered by flyte.report."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChampionComparison:
    """The challenger (the model just trained) against the champion, both scored on the challenger's test rows."""

    metric: str  # the metric that decides, e.g. "roc_auc"
    challenger: float
    champion: float | None  # None: there is no champion yet
    champion_digest: str | None  # the champion model file's SHA-256, None without a champion
    better: bool  # the challenger beats the champion by `metric` (a tie keeps the champion) or there is none
    reason: str  # one line: why it is or is not better (the figures, or a column mismatch)


@dataclass(frozen=True)
class ModelCard:
    """The model's provenance, shown at the top of its evaluation report."""

    # None: the model file does not record it (shown as "not recorded").
    dataset_source: str | None  # a path or URI, as the user gave it (or the bundled file)
    dataset_sha256: str
    training_rows: int | None
    test_rows: int
    hyperparameters: dict[str, object]
    seed: int | None
    library_versions: dict[str, str]
    trained_at: str  # ISO 8601, UTC
    execution_id: str  # the Flyte execution (project:domain:name), or "local"
    comparison: ChampionComparison | None = None
    extra: dict[str, str] = field(default_factory=dict)  # any further facts, label -> value (e.g. workers)
