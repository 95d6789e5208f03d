"""The promotion gate: a newly trained model (the challenger) replaces the champion only if it scores better on the
challenger's own held-out rows and was trained on the same columns; every run is recorded. No Flyte here.

The champion is scored by a function the caller gives (`score_champion`: its metrics on the challenger's test rows,
one table in memory or Parquet parts on Dask), so the single-node and distributed workflows share the rule.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from flyte.evaluation import Metrics, evaluate_with_curves
from flyte.model_card import ChampionComparison
from flyte.model_file import SavedModel, load_model, utc_now
from flyte.registry import Champion, Entry, ModelRegistry
from flyte.schema import LABEL

if TYPE_CHECKING:
    import pandas as pd
    from xgboost import XGBClassifier

# The metric that decides (higher is better) and what a tie does: it keeps the champion.
PROMOTION_METRIC = "roc_auc"

ScoreChampion = Callable[["XGBClassifier"], Metrics]
# The challenger's metrics on its test rows, computed when first needed (a rerun of the champion needs none).
ChallengerMetrics = Callable[[], Metrics]


def scorer_on_rows(rows: Callable[[], pd.DataFrame]) -> ScoreChampion:
    """Score a classifier on labelled rows, read by `rows` only when a champion is scored (a first model or a
    champion compared already needs none)."""

    def score(classifier: XGBClassifier) -> Metrics:
        from flyte.model import classify  # imports XGBoost

        table = rows()
        predicted = classify(classifier, table)
        return evaluate_with_curves(table[LABEL], predicted["predicted"], predicted["probability"])[0]

    return score


def compare_with_champion(
    registry: ModelRegistry,
    challenger: SavedModel,
    challenger_metrics: ChallengerMetrics,
    score_champion: ScoreChampion,
) -> ChampionComparison:
    """The challenger against the registry's current champion, both by PROMOTION_METRIC on the challenger's test
    rows (the challenger's own figures from `challenger_metrics`, called only if they are needed)."""
    return _compare(registry.champion(), registry, challenger, challenger_metrics, score_champion)


def _compare(
    champion: Champion | None,
    registry: ModelRegistry,
    challenger: SavedModel,
    challenger_metrics: ChallengerMetrics,
    score_champion: ScoreChampion,
) -> ChampionComparison:
    rerun = champion is not None and champion.model_sha256 == challenger.sha256
    if rerun and champion.comparison:
        return ChampionComparison(**champion.comparison)  # the decision that made it champion: nothing to measure
    score = getattr(challenger_metrics(), PROMOTION_METRIC)

    def compared(champion_score: float | None, better: bool, reason: str) -> ChampionComparison:
        digest = champion.model_sha256 if champion else None
        return ChampionComparison(PROMOTION_METRIC, score, champion_score, digest, better, reason)

    if champion is None:
        return compared(None, True, "no champion yet: the first model is promoted")
    if rerun:  # a champion recorded before the records kept their comparison
        return compared(score, False, "the challenger is the champion itself (the same model file): nothing to do")
    if list(challenger.features) != list(champion.features):
        return compared(
            None, False,
            f"trained on other columns ({', '.join(challenger.features)}) than the champion "
            f"({', '.join(champion.features)}): not comparable, the champion stays",
        )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="champion-") as folder:
        path = registry.model_local_path(champion.model_sha256, folder)
        source, digest = registry.uri("models", path.name), champion.model_sha256
        champion_model = load_model(path, source=source, expected_sha256=digest)
        champion_score = getattr(score_champion(champion_model.classifier), PROMOTION_METRIC)
    if score > champion_score:
        return compared(champion_score, True, f"{score:.4f} beats the champion's {champion_score:.4f}")
    relation = "ties" if score == champion_score else "is below"
    return compared(
        champion_score, False,
        f"{score:.4f} {relation} the champion's {champion_score:.4f}: the champion stays",
    )  # fmt: skip


def promote_if_better(
    registry: ModelRegistry,
    model_path: str | Path,
    challenger_metrics: Metrics,
    comparison: ChampionComparison,
    score_champion: ScoreChampion,
    execution_id: str,
) -> tuple[bool, ChampionComparison]:
    """Keep the model file in the registry, make it champion if `comparison` says it is better and the champion is
    still the one it was compared with (else compare with the new one again, as often as the champion changes),
    and record the run's entry. Return whether it was promoted and the comparison that decided."""
    data = Path(model_path).read_bytes()
    challenger = load_model(model_path)
    registry.store_model(data)
    while True:
        champion = registry.champion()
        if champion and champion.model_sha256 == challenger.sha256:
            promoted = False  # already the champion (a rerun of the run that promoted it)
            break
        if (champion.model_sha256 if champion else None) != comparison.champion_digest:
            comparison = _compare(champion, registry, challenger, lambda: challenger_metrics, score_champion)
        if not comparison.better:
            promoted = False
            break
        promoted = registry.try_promote(
            Champion(
                number=champion.number + 1 if champion else 1,
                model_sha256=challenger.sha256,
                metric=PROMOTION_METRIC,
                score=comparison.challenger,
                metrics=asdict(challenger_metrics),
                features=list(challenger.features),
                trained_at=challenger.provenance.trained_at,
                promoted_at=utc_now(),
                promoted_by=execution_id,
                comparison=asdict(comparison),
            )
        )
        if promoted:
            break  # else another run took the number first: compare with the new champion at the top
    provenance = challenger.provenance
    registry.record(
        Entry(
            model_sha256=challenger.sha256,
            metrics=asdict(challenger_metrics),
            dataset_sha256=challenger.training_data_sha256,
            dataset_source=provenance.dataset_source,
            hyperparameters=provenance.hyperparameters,
            seed=provenance.seed,
            library_versions=challenger.library_versions,
            features=list(challenger.features),
            trained_at=provenance.trained_at,
            trained_by=provenance.execution_id,
            recorded_at=utc_now(),
            recorded_by=execution_id,
            promoted=promoted,
            comparison=asdict(comparison),
        )
    )
    return promoted, comparison
