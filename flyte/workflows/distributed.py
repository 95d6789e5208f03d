"""The diabetes pipeline past one machine: list_shards -> (on Dask, as many workers as asked) split_shards_on_dask ->
fit_on_dask -> compare_on_dask -> evaluate_on_dask (with the Evaluation deck) -> promote_distributed.

Each Dask task gets its own Dask cluster: on Kubernetes the one Flyte's Dask plugin starts (a scheduler pod and
`workers` worker pods), in a local run a local cluster of `workers` processes (flyte.distributed.dask_client).
The plain work lives in flyte/shards.py and flyte/distributed.py, imported inside the tasks so that loading this
module loads neither Dask nor XGBoost.
"""

from datetime import timedelta
from typing import Annotated, NamedTuple

from flytekit import Cache, FlyteContextManager, Resources, current_context, dynamic, task, workflow
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from flytekitplugins.dask import Dask, Scheduler, WorkerGroup

from flyte.cpus import size_arrow_pools
from flyte.errors import InvalidSettingsError
from flyte.evaluation import Metrics
from flyte.hyperparameters import DISTRIBUTED_BOOSTERS, Hyperparameters
from flyte.model_card import ChampionComparison
from flyte.shards import MIN_WORKERS, Shards, find_shards, workers_needed
from flyte.workflows.caching import PROJECT_CACHE, ProjectSourcePolicy
from flyte.workflows.datatypes import (
    DEFAULT_SEED,
    DEFAULT_TEST_SPLIT_RATIO,
    Evaluation,
    ModelFile,
    TrainedModel,
    execution_name,
    model_provenance,
    report_output,
    stored_output_path,
)
from flyte.workflows.files import dataset_or_bundled, source_of
from flyte.workflows.flytekit_workarounds import apply_flytekit_workarounds
from flyte.workflows.model_registry import open_registry
from flyte.workflows.storage import storage_options_by_protocol
from flyte.workflows.user_errors import user_errors_without_traceback

apply_flytekit_workarounds()
size_arrow_pools()  # pyarrow's threads: the CPUs this task's process may use, not the node's cores

# The training data: a folder of CSV shards or one CSV; a local path, or an s3://, gs://, ... URI on a cluster.
DatasetLocation = FlyteDirectory | FlyteFile
# A split of the data set: a folder of Parquet parts, one per shard, that the workers read and write directly.
ParquetParts = FlyteDirectory[Annotated[str, "parquet"]]

# The registered Dask tasks' worker count; a run launches them with its own (train_on_dask).
DEFAULT_WORKERS = MIN_WORKERS
# A generous bound, checked before any cluster starts: a typo must not start a thousand processes or pods.
MAX_WORKERS = 64
# Each worker's memory limit, the same on Kubernetes (the worker pods' limit, which dask-worker adopts) and locally
# (LocalCluster's per-process limit); sized from the measured per-worker peaks (docs/distributed.md, Results).
WORKER_MEMORY = "3Gi"
# The split and the evaluation do not depend on the worker count (each shard and part is handled on its own);
# the model may (XGBoost sketches and sums per worker), so fit_on_dask keeps `workers` in its cache key.
SAME_FOR_ANY_WORKER_COUNT = Cache(policies=ProjectSourcePolicy(), ignored_inputs=("workers",))


def dask_cluster(workers: int) -> Dask:
    """The cluster Flyte's Dask plugin starts for a task: one scheduler and `workers` workers."""
    if not 1 <= workers <= MAX_WORKERS:
        raise InvalidSettingsError(f"workers must be a whole number from 1 to {MAX_WORKERS}, got {workers}")
    return Dask(
        scheduler=Scheduler(requests=Resources(cpu="500m", mem="512Mi"), limits=Resources(cpu="1", mem="1Gi")),
        workers=WorkerGroup(
            number_of_workers=workers,
            requests=Resources(cpu="1", mem="1Gi"),
            limits=Resources(cpu="2", mem=WORKER_MEMORY),
        ),
    )


class SplitShards(NamedTuple):
    train: ParquetParts
    test: ParquetParts
    dataset_sha256: str


# The job runner pods only coordinate: the data stays on the workers.
COORDINATOR = Resources(cpu=("500m", "1"), mem=("512Mi", "1Gi"))


# Timeouts: docs/performance.md, Timeouts; raise one per call with .with_overrides(timeout=...).
@task(resources=COORDINATOR, timeout=timedelta(minutes=10))
def list_shards(dataset: DatasetLocation | None) -> Shards:
    """Find the data set's CSV shards (or its one CSV) and key them by content; not cached, so that the cached
    steps after it see every change to the files. No dataset: the data set bundled with the code (in the image, so
    the Dask workers read it too)."""
    with user_errors_without_traceback():  # a missing folder or a bad location: the message alone
        return find_shards(source_of(dataset_or_bundled(dataset)), storage_options_by_protocol())


@task(
    task_config=dask_cluster(DEFAULT_WORKERS),
    cache=SAME_FOR_ANY_WORKER_COUNT,
    resources=COORDINATOR,
    timeout=timedelta(minutes=30),
)
def split_shards_on_dask(shards: Shards, test_split_ratio: float, seed: int, workers: int) -> SplitShards:
    """Validate every shard and split its rows into training and test parts on the workers, written as Parquet
    straight into this task's output folders; a row's side depends only on the seed and its values."""
    from flyte.distributed import dask_client, split_shards

    file_access = FlyteContextManager.current_context().file_access
    train_uri, test_uri = file_access.get_random_remote_directory(), file_access.get_random_remote_directory()
    with user_errors_without_traceback(), dask_client(workers, WORKER_MEMORY) as client:  # a bad shard: its message
        dataset_sha256 = split_shards(
            client, shards, test_split_ratio, seed, train_uri, test_uri, storage_options_by_protocol()
        )
    return SplitShards(ParquetParts(path=train_uri), ParquetParts(path=test_uri), dataset_sha256)


@task(
    task_config=dask_cluster(DEFAULT_WORKERS), cache=PROJECT_CACHE, resources=COORDINATOR, timeout=timedelta(hours=1)
)
def fit_on_dask(
    train: ParquetParts,
    hyperparameters: Hyperparameters,
    seed: int,
    dataset_sha256: str,
    dataset_source: str,
    workers: int,
) -> ModelFile:
    """Train with xgboost.dask on the workers and save the model exactly as the single-node fit task does."""
    from flyte.distributed import dask_client, fit_on_workers, parquet_rows
    from flyte.model_file import MODEL_FILE_NAME, save_model

    with dask_client(workers, WORKER_MEMORY) as client:
        classifier = fit_on_workers(client, source_of(train), hyperparameters, seed, storage_options_by_protocol())
    training_rows = parquet_rows(source_of(train), storage_options_by_protocol())
    provenance = model_provenance(dataset_source, training_rows, hyperparameters, seed)
    model_path = f"{current_context().working_directory}/{MODEL_FILE_NAME}"
    save_model(classifier, dataset_sha256, model_path, provenance)
    return ModelFile(path=model_path, remote_path=stored_output_path(model_path))


@task(
    task_config=dask_cluster(DEFAULT_WORKERS),
    cache=SAME_FOR_ANY_WORKER_COUNT,
    resources=COORDINATOR,
    timeout=timedelta(minutes=30),
    enable_deck=True,
    deck_fields=(),  # only the Evaluation deck
)
def evaluate_on_dask(test: ParquetParts, model: ModelFile, workers: int, comparison: ChampionComparison) -> Evaluation:
    """Predict and score the test parts on the workers; the single-node pipeline's evaluation report, headed by the
    model's card, is the deck and an output."""
    from flyte.distributed import dask_client, evaluate_on_workers
    from flyte.model import feature_importances
    from flyte.model_file import load_model
    from flyte.report import evaluation_report_html

    saved = load_model(model.download(), source=source_of(model))
    with dask_client(workers, WORKER_MEMORY) as client:
        metrics, curves = evaluate_on_workers(
            client, source_of(test), saved.classifier, storage_options_by_protocol()
        )
    card = saved.card(metrics.test_rows, comparison)
    html = evaluation_report_html(card, metrics, curves, feature_importances(saved.classifier))
    report = report_output("Evaluation", html, "evaluation-report.html")
    return Evaluation(accuracy=metrics.accuracy, metrics=metrics, report=report)


# Not cached: the champion changes between runs. The challenger is evaluated here too (evaluate_on_dask's figures,
# computed again): the comparison must exist before the cached report that shows it.
@task(task_config=dask_cluster(DEFAULT_WORKERS), resources=COORDINATOR, timeout=timedelta(minutes=30))
def compare_on_dask(test: ParquetParts, model: ModelFile, workers: int) -> ChampionComparison:
    """The new model against the champion of the model registry, both scored on the test parts on the workers."""
    from flyte.distributed import dask_client, evaluate_on_workers
    from flyte.model_file import load_model
    from flyte.promotion import compare_with_champion

    challenger = load_model(model.download(), source=source_of(model))
    with user_errors_without_traceback():  # a registry folder that is not the user's own: the message alone
        registry = open_registry()
    with dask_client(workers, WORKER_MEMORY) as client:

        def score_on_workers(classifier) -> Metrics:
            return evaluate_on_workers(client, source_of(test), classifier, storage_options_by_protocol())[0]

        return compare_with_champion(
            registry, challenger, lambda: score_on_workers(challenger.classifier), score_on_workers
        )


# Not cached, and last (promote in example.py); no cluster: a champion that changed meanwhile is scored here.
@task(resources=COORDINATOR, timeout=timedelta(minutes=30))
def promote_distributed(test: ParquetParts, model: ModelFile, metrics: Metrics, comparison: ChampionComparison) -> bool:
    """Record the model in the model registry and make it the champion if it is better; True if it became it."""
    from flyte.distributed import evaluate_parts_here
    from flyte.promotion import promote_if_better

    with user_errors_without_traceback():
        registry = open_registry()
    promoted, _ = promote_if_better(
        registry, model.download(), metrics, comparison,
        lambda classifier: evaluate_parts_here(source_of(test), classifier, storage_options_by_protocol()),
        execution_name(),
    )  # fmt: skip
    return promoted


@dynamic(resources=COORDINATOR, timeout=timedelta(hours=3))  # at least its five tasks' timeouts together
def train_on_dask(
    shards: Shards, test_split_ratio: float, seed: int, hyperparameters: Hyperparameters, workers: int | None
) -> TrainedModel:
    """Split, fit, compare with the champion and evaluate, each on a Dask cluster of `workers` workers, then
    promote; without `workers`, as many as the shards' size needs for every worker to stay within its memory limit
    (flyte.shards.workers_needed).

    A dynamic workflow, because a Dask task's worker count is part of its registered definition: the override
    here puts the worker count into the definitions this run launches on a cluster.
    """
    if workers is None:
        workers = workers_needed(shards)
    with user_errors_without_traceback():  # a booster Dask cannot train or a bad worker count: the message alone
        if hyperparameters.booster not in DISTRIBUTED_BOOSTERS:
            raise InvalidSettingsError(
                f"booster {hyperparameters.booster!r} cannot be trained on Dask (xgboost.dask has no distributed "
                f"linear booster); use one of {', '.join(DISTRIBUTED_BOOSTERS)}, or diabetes_xgboost_model on one "
                "machine"
            )
        cluster = dask_cluster(workers)
    train, test, dataset_sha256 = split_shards_on_dask(
        shards=shards, test_split_ratio=test_split_ratio, seed=seed, workers=workers
    ).with_overrides(task_config=cluster)
    model = fit_on_dask(
        train=train,
        hyperparameters=hyperparameters,
        seed=seed,
        dataset_sha256=dataset_sha256,
        dataset_source=shards.location,
        workers=workers,
    ).with_overrides(task_config=cluster)
    comparison = compare_on_dask(test=test, model=model, workers=workers).with_overrides(task_config=cluster)
    accuracy, metrics, report = evaluate_on_dask(
        test=test, model=model, workers=workers, comparison=comparison
    ).with_overrides(task_config=cluster)
    promoted = promote_distributed(test=test, model=model, metrics=metrics, comparison=comparison)
    return TrainedModel(model=model, accuracy=accuracy, metrics=metrics, report=report, promoted=promoted)


@workflow
def diabetes_xgboost_model_distributed(
    dataset: DatasetLocation | None = None,
    test_split_ratio: float = DEFAULT_TEST_SPLIT_RATIO,
    seed: int = DEFAULT_SEED,
    hyperparameters: Hyperparameters = Hyperparameters(),
    workers: int | None = None,
) -> TrainedModel:
    """Train and evaluate the diabetes classifier on a Dask cluster of `workers` workers (by default as many as the
    data set's size needs), from a folder of CSV shards or one CSV; the model file, outputs and Evaluation deck are
    those of diabetes_xgboost_model.

    :param test_split_ratio: each row's probability of being held out for testing: the row-hash split, which lets
        every shard split on its own, holds out about, not exactly, this share of the rows
    :param workers: Dask workers per task; by default as many as the shards' size needs for each worker's memory
        to stay within its limit (flyte.shards.workers_needed)
    """
    return train_on_dask(
        shards=list_shards(dataset=dataset),
        test_split_ratio=test_split_ratio,
        seed=seed,
        hyperparameters=hyperparameters,
        workers=workers,
    )
