"""The pipeline's heavy steps on a Dask cluster: split the shards on the workers, train XGBoost on Dask, predict and
score part by part; no Flyte here.

Every step hands the workers a list of files (CSV shards, then Parquet parts) and brings back only small summaries:
class counts, digests, the trained booster, and the evaluation's metrics with its curves as drawn.
"""

from __future__ import annotations

import importlib
import logging
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from distributed import Client, Future, LocalCluster, Worker, wait
from distributed.diagnostics.plugin import UploadFile, WorkerPlugin
from xgboost import XGBClassifier
from xgboost.dask import DaskXGBClassifier

from flyte.cpus import usable_cpus
from flyte.evaluation import Curves, Metrics, evaluation_from_counts, log_loss
from flyte.hyperparameters import Hyperparameters
from flyte.model import classify, xgboost_settings
from flyte.schema import COLUMN_TYPES, FEATURES, LABEL
from flyte.shards import Shards, ShardSplit, dataset_sha256, split_shard
from flyte.split import check_both_classes, check_split_settings
from flyte.storage import StorageOptions, filesystem

# The `flyte` package, shipped to the workers.
PACKAGE_DIR = Path(__file__).resolve().parent
PART_SUFFIX = ".parquet"
# Partial evaluations merged per reduction task: a tree of this fan-in keeps any one merge small.
MERGE_FAN_IN = 8
# How long a task waits for the cluster's workers to join before it gives up.
WORKER_START_TIMEOUT_SECONDS = 600


@contextmanager
def dask_client(workers: int, worker_memory_limit: str) -> Iterator[Client]:
    """A client of the Dask cluster Flyte's Dask plugin started for this task, or, when there is none (a local run),
    of a local cluster of `workers` worker processes sharing the CPUs this process may use (flyte.cpus.usable_cpus;
    at least one thread each), each restarted if it uses more than `worker_memory_limit`. The local cluster is shut
    down on every way out, failures included.

    On Kubernetes the Dask operator gives the task's pod the scheduler's address in DASK_SCHEDULER_ADDRESS, which
    Dask reads as its `scheduler-address` setting.

    Either way the cluster gets this process's `flyte` package (ship_project_code).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    address = dask.config.get("scheduler-address", None)
    if address:
        with Client(address) as client:
            client.wait_for_workers(workers, timeout=WORKER_START_TIMEOUT_SECONDS)
            ship_project_code(client, to_scheduler=True)
            yield client
        return
    with (
        dask_logs_in_this_process_at_least(logging.ERROR),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=max(1, usable_cpus() // workers),
            processes=True,
            memory_limit=worker_memory_limit,
            dashboard_address=":0",  # the scheduler's HTTP server on a free port: concurrent runs never clash
            # A task that fails on a worker is raised again here, with its message (a bad shard's file, line,
            # column and value); the workers' own error log of it would only repeat it above, with a traceback.
            silence_logs=logging.CRITICAL,
        ) as cluster,
        Client(cluster) as client,
    ):
        ship_project_code(client, to_scheduler=False)  # a local cluster's scheduler runs in this process
        yield client


@contextmanager
def dask_logs_in_this_process_at_least(level: int) -> Iterator[None]:
    """While inside, Dask's loggers in this process (a local cluster's scheduler, nannies and client) log only at
    `level` and above; their own levels come back on the way out.

    LocalCluster's silence_logs quiets only the handler Dask adds to its `distributed` logger, and Dask adds none
    when the root logger already has one: a module-level `logging.debug` call in a library (flytekit's click types
    make one when `--dataset` names a file, not a folder) installs it. Dask's records then reach the root handler at
    Dask's own level, INFO: every start, connection and shutdown step, with CommClosedError tracebacks of the
    teardown, above the task's error. A failure of the task itself is raised to the caller, traceback included.
    """
    # Its children too: some set their own level (distributed.client, distributed.gc) and ignore their parent's.
    loggers = [logging.getLogger("distributed")] + [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if name.startswith("distributed.") and isinstance(logger, logging.Logger)
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(level, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        for logger, previous in zip(loggers, levels, strict=True):
            logger.setLevel(previous)


def ship_project_code(client: Client, to_scheduler: bool) -> None:
    """Send the `flyte` package this process runs to the cluster's workers (also to any that join later) and, if
    asked, its scheduler, which import it from there: the scheduler unpickles the task graph and the workers run
    it, but their pods start `dask-scheduler` and `dask-worker` outside the code's folder and from the image's
    code, while fast registration brings newer code to the task's pod only; and pyflyte run puts the project on
    sys.path only while it loads the workflow, so a local cluster's worker processes would not find it either.
    Not to a local cluster's scheduler: it runs in this process, whose own `flyte` must stay as it is."""
    with tempfile.TemporaryDirectory(prefix="flyte-code-") as folder:
        archive = Path(folder) / "flyte_project_code.zip"
        with zipfile.ZipFile(archive, "w") as code:
            for source in sorted(PACKAGE_DIR.rglob("*.py")):
                code.write(source, source.relative_to(PACKAGE_DIR.parent).as_posix())
        if to_scheduler:
            client.upload_file(str(archive))
        else:
            client.register_plugin(UploadFile(str(archive)))
    client.register_plugin(ImportTaskLibraries())


class ImportTaskLibraries(WorkerPlugin):
    """Imports this module, and with it pandas, pyarrow and XGBoost, on each worker as it joins and before it runs a
    task: two task threads of a worker importing pandas at once can get it half-initialised (`module 'pandas' has
    no attribute '__version__'`)."""

    def setup(self, worker: Worker) -> None:
        importlib.import_module(__name__)


def split_shards(
    client: Client,
    shards: Shards,
    test_split_ratio: float,
    seed: int,
    train_uri: str,
    test_uri: str,
    storage_options: StorageOptions,
) -> str:
    """Validate and split every shard on the workers into the Parquet folders `train_uri` and `test_uri` (one part
    per shard and side); return the data set's digest (flyte.shards.dataset_sha256). The workers open the shards
    and the folders with `storage_options` (flyte.storage).

    Every shard is checked; the error raised is that of the first bad shard in name order
    (flyte.dataset.InvalidDatasetError). On any failure the two folders are removed: no half-written split is
    left behind.
    """
    check_split_settings(test_split_ratio, seed)
    for uri in (train_uri, test_uri):
        fs, path = filesystem(uri, storage_options)
        fs.makedirs(path, exist_ok=True)
    parts = [f"part-{index:05d}{PART_SUFFIX}" for index in range(len(shards.uris))]
    futures = client.map(
        split_shard,
        shards.uris,
        [f"{train_uri}/{part}" for part in parts],
        [f"{test_uri}/{part}" for part in parts],
        test_split_ratio=test_split_ratio,
        seed=seed,
        storage_options=storage_options,
    )
    try:
        wait(futures)  # all of them, so that none writes into the folders after they are removed below
        splits: list[ShardSplit] = [future.result() for future in futures]  # the first error in shard order
        for side, labels in (("training", [s.train_labels for s in splits]), ("test", [s.test_labels for s in splits])):
            per_class = np.sum(labels, axis=0)
            classes = [label for label, rows in enumerate(per_class) if rows]
            check_both_classes(classes, side, int(per_class.sum()), test_split_ratio, seed)
    except BaseException:
        for uri in (train_uri, test_uri):
            _remove_folder(uri, storage_options)
        raise
    return dataset_sha256(splits, shards.single_file)


def parquet_parts(uri: str, storage_options: StorageOptions) -> list[str]:
    """The Parquet parts of a split folder, in name order."""
    fs, path = filesystem(uri, storage_options)
    names = sorted(
        PurePosixPath(entry).name for entry in fs.ls(path, detail=False) if entry.endswith(PART_SUFFIX)
    )
    if not names:
        raise ValueError(f"{uri}: holds no *{PART_SUFFIX} part; expected a split written by split_shards")
    return [f"{uri.rstrip('/')}/{name}" for name in names]


def parquet_rows(uri: str, storage_options: StorageOptions) -> int:
    """The rows of a split folder's Parquet parts, from their footers (no data is read)."""
    total = 0
    for part in parquet_parts(uri, storage_options):
        fs, path = filesystem(part, storage_options)
        with fs.open(path, "rb") as stream:
            total += pq.read_metadata(stream).num_rows
    return total


def read_part(uri: str, storage_options: StorageOptions) -> pd.DataFrame:
    """One Parquet part as a pandas frame of the data set's columns."""
    fs, path = filesystem(uri, storage_options)
    with fs.open(path, "rb") as stream:
        return pq.read_table(stream).to_pandas()


def fit_on_workers(
    client: Client, train_uri: str, hyperparameters: Hyperparameters, seed: int, storage_options: StorageOptions
) -> XGBClassifier:
    """Train with xgboost.dask (the single-node trainer's settings, flyte.model.xgboost_settings, and the hist tree
    method) on the training parts where the workers read them; return it as the single-node pipeline's
    XGBClassifier (same settings, same booster), which predicts without Dask.

    Part i is read on worker i mod n (workers in name order), so the same parts and worker count always group
    the rows the same way: XGBoost's histogram sketch and its sums across workers depend on that grouping.
    """
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"].items(), key=lambda item: str(item[1]["name"]))
    frames = [
        client.submit(
            read_part, part, storage_options, workers=[workers[index % len(workers)][0]], allow_other_workers=False
        )
        for index, part in enumerate(parquet_parts(train_uri, storage_options))
    ]
    meta = pd.DataFrame({name: pd.Series(dtype="int64" if kind is int else "float64")
                         for name, kind in COLUMN_TYPES.items()})
    train = dd.from_delayed(frames, meta=meta, verify_meta=False)
    settings = {**xgboost_settings(hyperparameters), "random_state": seed, "tree_method": "hist"}
    model = DaskXGBClassifier(**settings)
    model.client = client
    model.fit(train[list(FEATURES)], train[LABEL])
    classifier = XGBClassifier(**settings)
    classifier.load_model(bytearray(model.get_booster().save_raw("ubj")))
    return classifier


@dataclass
class PartialEvaluation:
    """What a set of test rows adds to the evaluation: for each distinct predicted probability (ascending) the rows
    and the diabetic rows predicted so, the confusion counts and the summed log loss."""

    probabilities: np.ndarray
    rows: np.ndarray
    positives: np.ndarray
    confusion: np.ndarray
    log_loss_sum: float


def evaluate_part(uri: str, classifier: XGBClassifier, storage_options: StorageOptions) -> PartialEvaluation:
    """Predict the test rows of one part and count what the evaluation needs of them."""
    frame = read_part(uri, storage_options)
    labels = frame[LABEL].to_numpy()
    predicted = classify(classifier, frame)
    probability = predicted["probability"].to_numpy()
    distinct, inverse = np.unique(probability, return_inverse=True)
    return PartialEvaluation(
        probabilities=distinct,
        rows=np.bincount(inverse, minlength=len(distinct)).astype(np.float64),
        positives=np.bincount(inverse, weights=labels, minlength=len(distinct)),
        confusion=np.bincount(2 * labels + predicted["predicted"].to_numpy(), minlength=4),
        log_loss_sum=log_loss(labels, probability) * len(labels) if len(labels) else 0.0,
    )


def merge_evaluations(*parts: PartialEvaluation) -> PartialEvaluation:
    """One partial evaluation of the rows of all `parts`: counts of equal probabilities added up."""
    distinct, inverse = np.unique(np.concatenate([part.probabilities for part in parts]), return_inverse=True)
    return PartialEvaluation(
        probabilities=distinct,
        rows=np.bincount(inverse, weights=np.concatenate([part.rows for part in parts]), minlength=len(distinct)),
        positives=np.bincount(
            inverse, weights=np.concatenate([part.positives for part in parts]), minlength=len(distinct)
        ),
        confusion=np.sum([part.confusion for part in parts], axis=0),
        log_loss_sum=float(sum(part.log_loss_sum for part in parts)),
    )


def evaluate_on_workers(
    client: Client, test_uri: str, classifier: XGBClassifier, storage_options: StorageOptions
) -> tuple[Metrics, Curves]:
    """The single-node evaluation's metrics, exactly, and its curves as drawn (Curves.thinned), computed part by
    part on the workers.

    Each part's predictions are reduced to counts per distinct predicted probability, merged in a tree on the
    workers, and turned into metrics and curves on a worker too: the counts grow with the test rows, so this task
    receives only the metrics and at most MAX_DRAWN_POINTS points per curve, whatever the data's size.
    """
    model = client.scatter(classifier, broadcast=True)
    partials: list[Future] = client.map(
        evaluate_part, parquet_parts(test_uri, storage_options), classifier=model, storage_options=storage_options
    )
    while len(partials) > 1:
        partials = [
            client.submit(merge_evaluations, *partials[start:start + MERGE_FAN_IN])
            for start in range(0, len(partials), MERGE_FAN_IN)
        ]
    return client.submit(metrics_and_drawn_curves, partials[0]).result()


def evaluate_parts_here(test_uri: str, classifier: XGBClassifier, storage_options: StorageOptions) -> Metrics:
    """evaluate_on_workers's metrics computed in this process, one part at a time, without a cluster: for the rare
    second look a promotion takes when the champion changed meanwhile."""
    parts = parquet_parts(test_uri, storage_options)
    partials = [evaluate_part(part, classifier, storage_options) for part in parts]
    return metrics_and_curves(merge_evaluations(*partials))[0]


def metrics_and_curves(total: PartialEvaluation) -> tuple[Metrics, Curves]:
    """The evaluation of all test rows from their merged partial evaluation."""
    if not (total.positives.sum() and (total.rows - total.positives).sum()):
        raise ValueError("the test parts hold only one class; ROC AUC needs both 0 and 1")
    # Counts when predicting 1 at or above each distinct probability, highest first: flyte.evaluation's thresholds.
    true_positives = np.cumsum(total.positives[::-1])
    false_positives = np.cumsum(total.rows[::-1]) - true_positives
    return evaluation_from_counts(
        false_positives, true_positives, total.confusion, total.log_loss_sum / int(total.confusion.sum())
    )


def metrics_and_drawn_curves(total: PartialEvaluation) -> tuple[Metrics, Curves]:
    """metrics_and_curves with the curves thinned to what the report draws."""
    metrics, curves = metrics_and_curves(total)
    return metrics, curves.thinned()


def _remove_folder(uri: str, storage_options: StorageOptions) -> None:
    fs, path = filesystem(uri, storage_options)
    if fs.exists(path):
        fs.rm(path, recursive=True)
