"""The distributed pipeline: shards, the split rule, the partitioned evaluation, and the workflow on local Dask
clusters (small synthetic shards; the tests that start a cluster are marked slow)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import diskcache
import fsspec
import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from xgboost import XGBClassifier

from flyte.dataset import InvalidDatasetError, load_table
from flyte.digest import file_sha256
from flyte.distributed import (
    PartialEvaluation,
    dask_client,
    evaluate_on_workers,
    evaluate_part,
    evaluate_parts_here,
    merge_evaluations,
    metrics_and_curves,
    parquet_parts,
    parquet_rows,
    read_part,
    split_shards,
)
from flyte.evaluation import MAX_DRAWN_POINTS, evaluate_with_curves
from flyte.model import classify
from flyte.model_file import MODEL_FILE_FORMAT, load_model
from flyte.schema import COLUMN_TYPES, COLUMNS, FEATURES, LABEL
from flyte.shards import dataset_sha256, find_shards, row_hash_split, split_shard
from tests.conftest import own_environment, synthetic_rows, write_csv


def write_shards(folder: Path, rows: list[list], shards: int) -> Path:
    """`rows` cut into `shards` consecutive CSVs part-00000.csv, ... in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, part in enumerate(np.array_split(np.arange(len(rows)), shards)):
        write_csv(folder / f"part-{index:05d}.csv", [rows[i] for i in part])
    return folder


def as_table(rows: list[list]) -> pa.Table:
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(COLUMNS)}).cast(
        pa.schema([(name, pa.int64() if kind is int else pa.float64()) for name, kind in COLUMN_TYPES.items()])
    )


def single_node_error(csv: Path) -> str:
    """The message the single-node pipeline's validation gives for a bad CSV."""
    with pytest.raises(InvalidDatasetError) as error:
        load_table(csv)
    return str(error.value)


def read_split(uri: str) -> pd.DataFrame:
    """All rows of a split folder, in a canonical order (sorted by every column)."""
    frame = pd.concat([read_part(part, {}) for part in parquet_parts(uri, {})], ignore_index=True)
    return frame.sort_values(list(COLUMNS), ignore_index=True)


# The split rule


def test_a_rows_side_depends_only_on_its_values_and_the_seed():
    rows = synthetic_rows(2000, seed=4)
    together = row_hash_split(as_table(rows), 0.3, seed=11)
    one_by_one = np.concatenate([row_hash_split(as_table([row]), 0.3, seed=11) for row in rows[:200]])
    assert np.array_equal(one_by_one, together[:200])
    shuffled = np.random.default_rng(0).permutation(len(rows))
    assert np.array_equal(row_hash_split(as_table([rows[i] for i in shuffled]), 0.3, seed=11), together[shuffled])
    assert 0.27 < together.mean() < 0.33  # 2000 draws of p = 0.3: 0.3 +- 3.1 standard deviations
    assert not np.array_equal(row_hash_split(as_table(rows), 0.3, seed=12), together)


def test_identical_rows_fall_on_the_same_side():
    rows = synthetic_rows(300, seed=5)
    held_out = row_hash_split(as_table(rows + rows), 0.5, seed=1)
    assert np.array_equal(held_out[:300], held_out[300:])


def test_zero_and_negative_zero_are_the_same_value():
    rows, negative = synthetic_rows(1), synthetic_rows(1)
    rows[0][COLUMNS.index("bmi")], negative[0][COLUMNS.index("bmi")] = 0.0, -0.0
    for seed in range(20):
        assert row_hash_split(as_table(rows), 0.5, seed) == row_hash_split(as_table(negative), 0.5, seed)


# Shards


def test_find_shards_lists_the_csv_files_in_name_order(tmp_path):
    folder = write_shards(tmp_path / "data", synthetic_rows(30), 3)
    (folder / "README.txt").write_text("not a shard")
    (folder / "nested.csv").mkdir()  # a folder, not a file
    shards = find_shards(str(folder), {})
    assert shards.uris == [str(folder / f"part-0000{index}.csv") for index in range(3)]
    assert not shards.single_file
    assert shards.total_bytes == sum(len((folder / f"part-0000{index}.csv").read_bytes()) for index in range(3))
    single = find_shards(str(folder / "part-00001.csv"), {})
    assert (single.uris, single.single_file) == ([str(folder / "part-00001.csv")], True)
    assert single.total_bytes == len((folder / "part-00001.csv").read_bytes())


def test_the_shards_key_follows_their_content(tmp_path):
    folder = write_shards(tmp_path / "data", synthetic_rows(30), 3)
    before = find_shards(str(folder), {}).content_key
    assert find_shards(str(folder), {}).content_key == before
    rows = synthetic_rows(10)
    rows[0][0] += 1
    write_csv(folder / "part-00002.csv", rows)
    assert find_shards(str(folder), {}).content_key != before


def test_a_folder_without_shards_or_a_missing_path_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidDatasetError, match=r"empty: the folder holds no \*\.csv file"):
        find_shards(str(tmp_path / "empty"), {})
    with pytest.raises(InvalidDatasetError, match="missing: no such file or folder"):
        find_shards(str(tmp_path / "missing"), {})


def test_the_data_set_digest_is_the_sha256_of_its_sha256sum_listing(tmp_path):
    folder = write_shards(tmp_path / "data", synthetic_rows(40), 2)
    splits = [
        split_shard(str(folder / name), str(tmp_path / "train" / name), str(tmp_path / "test" / name), 0.5, 1, {})
        for name in ("part-00001.csv", "part-00000.csv")
    ]
    listing = "".join(
        f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n"
        for name in ("part-00000.csv", "part-00001.csv")
    )
    assert dataset_sha256(splits, single_file=False) == hashlib.sha256(listing.encode()).hexdigest()
    assert dataset_sha256(splits[:1], single_file=True) == file_sha256(folder / "part-00001.csv")


def test_a_bad_shard_is_named_with_its_line_column_and_value(tmp_path):
    rows = synthetic_rows(20)
    rows[6][COLUMNS.index("bmi")] = "abc"
    shard = write_csv(tmp_path / "part-00003.csv", rows)
    with pytest.raises(InvalidDatasetError) as error:
        split_shard(str(shard), str(tmp_path / "train.parquet"), str(tmp_path / "test.parquet"), 0.3, 7, {})
    assert str(error.value) == single_node_error(shard)
    assert str(error.value).startswith(f"{shard}: row 7, column 'bmi': value 'abc' is not a number")
    assert not (tmp_path / "train.parquet").exists() and not (tmp_path / "test.parquet").exists()


def test_split_shard_writes_the_row_hash_split_as_test_part(tmp_path):
    rows = synthetic_rows(500, seed=2)
    shard = write_csv(tmp_path / "part-00000.csv", rows)
    train_uri, test_uri = str(tmp_path / "train" / "p.parquet"), str(tmp_path / "test" / "p.parquet")
    split = split_shard(str(shard), train_uri, test_uri, 0.25, 9, {})
    held_out = row_hash_split(as_table(rows), 0.25, 9)
    expected_test = pd.DataFrame([row for row, out in zip(rows, held_out, strict=True) if out], columns=list(COLUMNS))
    pd.testing.assert_frame_equal(pq.read_table(test_uri).to_pandas(), expected_test, check_dtype=False)
    assert pq.read_table(train_uri).num_rows == 500 - held_out.sum()
    labels = np.array([row[-1] for row in rows])
    assert split.test_labels == [int(((labels == 0) & held_out).sum()), int(((labels == 1) & held_out).sum())]
    assert (split.name, split.sha256) == ("part-00000.csv", file_sha256(shard))


def test_a_shard_in_a_store_is_split_from_a_local_copy_and_an_empty_part_is_not_written(tmp_path):
    """fsspec's in-memory filesystem stands in for an object store: the shard is downloaded, not opened in place."""
    rows = synthetic_rows(40, seed=5)
    data = write_csv(tmp_path / "part-00000.csv", rows).read_bytes()
    assert not row_hash_split(as_table(rows), 1e-6, 7).any()  # no test row at this ratio
    store = fsspec.filesystem("memory")
    base = f"memory://{tmp_path.name}"
    store.pipe(f"{base}/shards/part-00000.csv", data)
    try:
        split = split_shard(f"{base}/shards/part-00000.csv", f"{base}/train/p.parquet", f"{base}/test/p.parquet",
                            1e-6, 7, {})  # fmt: skip
        with store.open(f"{base}/train/p.parquet", "rb") as train:
            training = pq.read_table(train).to_pandas()
        assert not store.exists(f"{base}/test/p.parquet")
    finally:
        store.rm(base, recursive=True)
    pd.testing.assert_frame_equal(training, pd.DataFrame(rows, columns=list(COLUMNS)), check_dtype=False)
    labels = [row[-1] for row in rows]
    assert split.train_labels == [labels.count(0), labels.count(1)] and split.test_labels == [0, 0]
    assert (split.name, split.sha256) == ("part-00000.csv", hashlib.sha256(data).hexdigest())


# The partitioned evaluation


def test_merged_part_evaluations_equal_the_single_node_evaluation(tmp_path):
    rows = pd.DataFrame(synthetic_rows(900, seed=8), columns=list(COLUMNS))
    classifier = XGBClassifier(n_estimators=20, max_depth=3, random_state=0).fit(rows[list(FEATURES)], rows[LABEL])
    test = pd.DataFrame(synthetic_rows(700, seed=9), columns=list(COLUMNS))
    parts = []
    for index, rows_of_part in enumerate(np.array_split(np.arange(len(test)), 5)):
        path = tmp_path / f"part-{index}.parquet"
        pq.write_table(pa.Table.from_pandas(test.iloc[rows_of_part], preserve_index=False), path)
        parts.append(evaluate_part(str(path), classifier, {}))
    merged = merge_evaluations(merge_evaluations(*parts[:2]), merge_evaluations(*parts[2:]))
    metrics, curves = metrics_and_curves(merged)
    predicted = classify(classifier, test)
    expected_metrics, expected_curves = evaluate_with_curves(
        test[LABEL], predicted["predicted"], predicted["probability"]
    )
    assert asdict(metrics) == pytest.approx(asdict(expected_metrics), rel=1e-12)
    # The same folder of parts counted from their footers, and evaluated in this process (no cluster).
    assert parquet_rows(str(tmp_path), {}) == len(test)
    assert asdict(evaluate_parts_here(str(tmp_path), classifier, {})) == pytest.approx(asdict(expected_metrics),
                                                                                       rel=1e-12)  # fmt: skip
    assert metrics.roc_auc == expected_metrics.roc_auc and metrics.accuracy == expected_metrics.accuracy
    for name, values in vars(expected_curves).items():
        np.testing.assert_array_equal(getattr(curves, name), values)


def test_an_evaluation_of_one_class_is_refused():
    one_class = PartialEvaluation(np.array([0.2, 0.7]), np.array([3.0, 2.0]), np.zeros(2), np.array([3, 2, 0, 0]), 1.0)
    with pytest.raises(ValueError, match="only one class"):
        metrics_and_curves(one_class)


# On local Dask clusters


def child_processes() -> set[int]:
    """This process's descendants, but for multiprocessing's resource tracker (one per process, started with the
    first worker process and kept for the life of the process)."""
    return {
        process.pid
        for process in psutil.Process().children(recursive=True)
        if "resource_tracker" not in " ".join(process.cmdline())
    }


@pytest.fixture(scope="module")
def two_workers():
    """A client of one local cluster of two worker processes, for the tests that need a cluster, not its start or
    its end (those are the workflow's tests below)."""
    with dask_client(2, "1GiB") as client:
        yield client


@pytest.mark.slow
def test_the_split_is_the_same_whatever_the_worker_and_shard_count(tmp_path, two_workers):
    rows = synthetic_rows(3000, seed=6)
    one_file = write_csv(tmp_path / "all.csv", rows)
    four_shards = write_shards(tmp_path / "shards", rows, 4)
    splits = {}
    with dask_client(1, "1GiB") as one_worker:
        for workers, client, location in ((1, one_worker, one_file), (2, two_workers, four_shards)):
            assert len(client.scheduler_info()["workers"]) == workers
            out = tmp_path / f"out-{workers}"
            shards = find_shards(str(location), {})
            digest = split_shards(client, shards, 0.33, 7, str(out / "train"), str(out / "test"), {})
            splits[workers] = read_split(str(out / "train")), read_split(str(out / "test")), digest
    held_out = row_hash_split(as_table(rows), 0.33, 7)
    expected_test = pd.DataFrame([row for row, out in zip(rows, held_out, strict=True) if out], columns=list(COLUMNS))
    for train, test, _ in splits.values():
        pd.testing.assert_frame_equal(
            test, expected_test.sort_values(list(COLUMNS), ignore_index=True), check_dtype=False
        )
        assert len(train) + len(test) == len(rows)
    pd.testing.assert_frame_equal(splits[1][0], splits[2][0])
    assert splits[1][2] == file_sha256(one_file)


@pytest.mark.slow
def test_a_worker_has_the_task_libraries_before_its_first_task():
    """Two task threads importing pandas at once can get it half-initialised: a worker imports it as it joins."""
    with dask_client(1, "1GiB") as client:
        loaded = client.run(lambda: [name in sys.modules for name in ("pandas", "pyarrow.parquet", "xgboost.dask")])
    assert list(loaded.values()) == [[True, True, True]]


@pytest.mark.slow
def test_the_workers_return_exact_metrics_and_the_curves_as_drawn(tmp_path, two_workers):
    """The counts per distinct probability stay on the workers: this process gets the metrics and at most
    MAX_DRAWN_POINTS points per curve, each a point of the exact curve, its ends kept."""
    # Random rows and labels: deep trees fit the noise, so the test rows get thousands of distinct probabilities.
    random = np.random.default_rng(21)

    def noise(count: int) -> pd.DataFrame:
        return pd.DataFrame(random.uniform(0, 100, (count, len(FEATURES))), columns=list(FEATURES)).assign(
            **{LABEL: random.integers(0, 2, count)}
        )

    rows, test = noise(2000), noise(5000)
    classifier = XGBClassifier(n_estimators=20, max_depth=6, random_state=0).fit(rows[list(FEATURES)], rows[LABEL])
    (tmp_path / "test").mkdir()
    for index, rows_of_part in enumerate(np.array_split(np.arange(len(test)), 3)):
        table = pa.Table.from_pandas(test.iloc[rows_of_part], preserve_index=False)
        pq.write_table(table, tmp_path / "test" / f"part-{index}.parquet")
    metrics, curves = evaluate_on_workers(two_workers, str(tmp_path / "test"), classifier, {})
    predicted = classify(classifier, test)
    expected, exact = evaluate_with_curves(test[LABEL], predicted["predicted"], predicted["probability"])
    assert replace(metrics, log_loss=0) == replace(expected, log_loss=0)
    assert len(exact.false_positive_rate) > MAX_DRAWN_POINTS  # else nothing was thinned
    for drawn_x, drawn_y, x, y in (
        (curves.false_positive_rate, curves.true_positive_rate, exact.false_positive_rate, exact.true_positive_rate),
        (curves.recall, curves.precision, exact.recall, exact.precision),
    ):
        assert len(drawn_x) <= MAX_DRAWN_POINTS
        assert (drawn_x[0], drawn_y[0], drawn_x[-1], drawn_y[-1]) == (x[0], y[0], x[-1], y[-1])
        exact_points = set(zip(x.tolist(), y.tolist(), strict=True))
        assert all(point in exact_points for point in zip(drawn_x.tolist(), drawn_y.tolist(), strict=True))


@pytest.mark.slow
def test_a_bad_shard_fails_the_split_with_its_name_leaves_nothing_behind(tmp_path, two_workers):
    rows = synthetic_rows(400)
    rows[250][COLUMNS.index("glucose")] = -5  # line 51 of the third of four shards of 100 rows
    folder = write_shards(tmp_path / "shards", rows, 4)
    shards = find_shards(str(folder), {})
    with pytest.raises(InvalidDatasetError) as error:
        split_shards(two_workers, shards, 0.33, 7, str(tmp_path / "train"), str(tmp_path / "test"), {})
    assert str(error.value) == single_node_error(folder / "part-00002.csv")
    assert str(error.value).startswith(f"{folder}/part-00002.csv: row 51, column 'glucose': ")
    assert "-5" in str(error.value)
    assert not (tmp_path / "train").exists() and not (tmp_path / "test").exists()


@dataclass(frozen=True)
class DistributedRun:
    rows: list[list]
    shards: Path  # the shards on disk
    dataset: str  # their copy in the object store, the run's dataset
    output: str  # what pyflyte printed
    registry: Path  # the model registry it recorded its model in, empty before

    def value(self, name: str) -> str:
        return re.search(rf"\b{name}=([^,)\s]+)", self.output).group(1)


@pytest.fixture(scope="module")
def distributed_run(tmp_path_factory, object_store) -> DistributedRun:
    """`pyflyte run` of diabetes_xgboost_model_distributed as a user on the sandbox runs it: 3 shards in an object
    store (its endpoint and keys in the FLYTE_AWS_* variables), 2 workers, a HOME of its own; none of its processes
    is left, orphaned or not (they carry a marker in their environment). The in-process run of the workflow:
    tests/test_schema.py; a bad shard's run: test_a_bad_shard_fails_the_workflow_and_caches_nothing below,
    tests/test_error_output.py."""
    import subprocess
    import sys
    import uuid

    from flyte.registry import REGISTRY_ENVIRONMENT_VARIABLE
    from tests.conftest import REPO_ROOT

    folder = tmp_path_factory.mktemp("distributed")
    rows = synthetic_rows(1200, seed=3)
    shards = write_shards(folder / "shards", rows, 3)
    dataset = object_store.url(f"test-distributed/{folder.name}/shards/")
    object_store.filesystem().put(f"{shards}/", dataset, recursive=True)
    registry = folder / "model-registry"
    pyflyte, marker = Path(sys.executable).with_name("pyflyte"), uuid.uuid4().hex
    env = own_environment(folder / "home", COLUMNS="1000", DIABETES_TEST_MARKER=marker,
                          **{REGISTRY_ENVIRONMENT_VARIABLE: str(registry)}, **object_store.environment())
    command = [str(pyflyte), "run", "flyte/workflows/distributed.py", "diabetes_xgboost_model_distributed",
               "--dataset", dataset, "--workers", "2"]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert processes_marked(marker) == []
    return DistributedRun(rows, shards, dataset, done.stdout, registry)


@pytest.mark.slow
def test_the_workflow_trains_a_model_the_single_node_tools_use_unchanged(tmp_path, distributed_run, capsys):
    from flytekit import StructuredDataset

    from flyte import cli
    from flyte.workflows.example import predict
    from flyte.workflows.inference import diabetes_xgboost_batch_inference

    rows, folder, run = distributed_run.rows, distributed_run.shards, distributed_run
    model_path = run.value("model")
    saved = load_model(model_path)
    report = Path(run.value("report")).read_text()  # the evaluation report, as an output beside the deck
    assert all(f'id="{section}"' in report for section in ("metrics", "roc-curve", "precision-recall-curve"))

    # The single-node model file's format and metadata; the shards' digest whether read from disk or a store.
    listing = "".join(f"{file_sha256(path)}  {path.name}\n" for path in sorted(folder.glob("*.csv")))
    assert saved.training_data_sha256 == hashlib.sha256(listing.encode()).hexdigest()
    assert saved.features == FEATURES and set(saved.library_versions) >= {"xgboost", "scikit-learn"}
    assert type(saved.classifier).__name__ == "XGBClassifier"
    assert json.loads(Path(model_path).read_text())["format"] == MODEL_FILE_FORMAT

    # The accuracy is that of the saved model on the held-out rows, computed here from the rule.
    held_out = row_hash_split(as_table(rows), 0.33, 7)
    test = pd.DataFrame([row for row, out in zip(rows, held_out, strict=True) if out], columns=list(COLUMNS))
    predicted = saved.classifier.predict_proba(test[list(FEATURES)])[:, 1] > 0.5
    assert float(run.value("accuracy")) == pytest.approx((predicted == test[LABEL].to_numpy()).mean(), abs=1e-15)
    assert int(run.value("test_rows")) == len(test)
    source = run.dataset.rstrip("/")
    assert f"<td><code>{source}</code></td>" in report  # the model's card: the data set as given, the split
    assert f"<th>Training rows</th><td>{len(rows) - len(test)}</td>" in report
    # The first model of an empty registry is its champion, kept by content.
    from flyte.registry import ModelRegistry

    champion = ModelRegistry(distributed_run.registry).champion()
    assert run.value("promoted") == "True"
    assert champion.model_sha256 == hashlib.sha256(Path(model_path).read_bytes()).hexdigest()
    assert saved.provenance.dataset_source == source and saved.provenance.training_rows == len(rows) - len(test)

    # The single-node predict task and the batch inference workflow take the model file as it is.
    model = FlyteFile(model_path)
    predictions = predict(test=StructuredDataset(dataframe=test), model=model).open(pd.DataFrame).all()
    assert (predictions["predicted"].to_numpy() == predicted).all()
    patients = write_csv(tmp_path / "patients.csv", [row[:-1] for row, out in zip(rows, held_out, strict=True) if out])
    batch = diabetes_xgboost_batch_inference(model=model, patients=FlyteFile(str(patients)))
    assert (batch.predictions.open(pd.DataFrame).all()["predicted"].to_numpy() == predicted).all()
    output = tmp_path / "predictions.csv"
    assert cli.main([model_path, "--csv", str(patients), "--output", str(output)]) == 0, capsys.readouterr().err
    assert (pd.read_csv(output)["predicted"].to_numpy() == predicted).all()


@pytest.mark.slow
def test_a_bad_shard_fails_the_workflow_and_caches_nothing(tmp_path):
    from flyte.workflows.distributed import diabetes_xgboost_model_distributed

    rows = synthetic_rows(300)
    rows[120][COLUMNS.index(LABEL)] = 2  # line 21 of the second of three shards
    folder = write_shards(tmp_path / "shards", rows, 3)
    before = child_processes()
    with pytest.raises(Exception, match="split_shards_on_dask") as error:
        diabetes_xgboost_model_distributed(dataset=FlyteDirectory(str(folder)), workers=2)
    assert single_node_error(folder / "part-00001.csv") in str(error.value)
    assert f"{folder}/part-00001.csv: row 21, column 'diabetic': label 2; expected 0 or 1" in str(error.value)
    assert len(diskcache.Cache(os.path.expanduser("~/.flyte/local-cache"))) == 0
    assert child_processes() <= before


# (workers given, the shards' size in all, the workers expected): without `workers`, one per 512 MiB of CSV
# (4 for 1.5 GiB and a byte), at least 2.
@pytest.mark.parametrize("given, total_bytes, expected", [(5, 10, 5), (None, 3 * 2**29 + 1, 4), (None, 10, 2)])
def test_a_run_launches_its_dask_tasks_with_the_workers_it_was_given_or_its_data_needs(given, total_bytes, expected):
    """On a cluster the dynamic workflow's body runs as a task and returns the definitions to launch: each Dask
    task's cluster there has `workers` workers, whatever the registered default, or without `workers` as many as
    the shards' size needs."""
    from flytekit.configuration import Image, ImageConfig, SerializationSettings
    from flytekit.core.context_manager import ExecutionState, FlyteContextManager
    from flytekit.core.type_engine import TypeEngine

    import flyte.workflows.distributed as distributed
    from flyte.shards import Shards

    dask_tasks = [distributed.split_shards_on_dask, distributed.fit_on_dask, distributed.compare_on_dask,
                  distributed.evaluate_on_dask]  # fmt: skip
    registered = [task.task_config for task in dask_tasks]
    settings = SerializationSettings(image_config=ImageConfig(default_image=Image("default", "image", "tag")))
    inputs = {"shards": Shards(["s3://bucket/part-00000.csv"], "key", False, total_bytes), "test_split_ratio": 0.33,
              "seed": 7, "hyperparameters": distributed.Hyperparameters(), "workers": given}  # fmt: skip
    try:
        context = FlyteContextManager.current_context().with_serialization_settings(settings)
        with FlyteContextManager.with_context(context) as context:
            state = context.execution_state.with_params(mode=ExecutionState.Mode.TASK_EXECUTION)
            with FlyteContextManager.with_context(context.with_execution_state(state)) as context:
                types = distributed.train_on_dask.python_interface.inputs
                literals = TypeEngine.dict_to_literal_map(context, inputs, types)
                spec = distributed.train_on_dask.dispatch_execute(context, literals)
    finally:  # flytekit's override replaces the task's config in place: restore the registered one
        for task, config in zip(dask_tasks, registered, strict=True):
            task._task_config = config
        distributed.train_on_dask._wf = None  # flytekit compiles a dynamic once per process (a pod runs one)
    launched = {template.id.name.rsplit(".", 1)[-1]: template for template in spec.tasks}
    assert set(launched) == {task.name.rsplit(".", 1)[-1] for task in dask_tasks} | {"promote_distributed"}
    assert launched.pop("promote_distributed").type == "python-task"  # the last step needs no cluster
    for template in launched.values():
        assert template.type == "dask"
        assert template.custom["workers"]["numberOfWorkers"] == expected
        assert template.custom["workers"]["resources"]["limits"] == [
            {"name": "CPU", "value": "2"}, {"name": "MEMORY", "value": distributed.WORKER_MEMORY}
        ]
    assert distributed.split_shards_on_dask.task_config.workers.number_of_workers == distributed.DEFAULT_WORKERS


def test_the_dask_steps_are_cached_like_the_others_and_the_split_and_evaluation_for_any_worker_count():
    import flyte.workflows.distributed as distributed
    from flyte.workflows.example import fit

    for task in (distributed.split_shards_on_dask, distributed.fit_on_dask, distributed.evaluate_on_dask):
        assert task.metadata.cache and task.metadata.cache_version == fit.metadata.cache_version, task.name
    assert distributed.split_shards_on_dask.metadata.cache_ignore_input_vars == ("workers",)
    assert distributed.evaluate_on_dask.metadata.cache_ignore_input_vars == ("workers",)
    assert distributed.fit_on_dask.metadata.cache_ignore_input_vars == ()
    assert not distributed.list_shards.metadata.cache  # it computes the content key the others are keyed on
    assert not distributed.compare_on_dask.metadata.cache  # the champion changes between runs
    assert not distributed.promote_distributed.metadata.cache


def processes_marked(marker: str) -> list[psutil.Process]:
    """Every live process whose environment carries `marker`: a command's descendants, even orphaned ones."""
    marked = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("DIABETES_TEST_MARKER") == marker and process.status() != psutil.STATUS_ZOMBIE:
                marked.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return marked


@pytest.mark.slow
def test_on_a_scheduler_and_workers_of_their_own_that_cannot_import_the_project(tmp_path):
    """As on Kubernetes: `dask scheduler` and `dask worker` processes started outside the project (no `flyte` to
    import), the address in Dask's scheduler-address setting (the operator's DASK_SCHEDULER_ADDRESS)."""
    import json
    import subprocess
    import sys
    import time

    import dask

    from flyte.distributed import fit_on_workers
    from flyte.hyperparameters import Hyperparameters

    rows = synthetic_rows(900, seed=12)
    folder = write_shards(tmp_path / "shards", rows, 3)
    dask_command = str(Path(sys.executable).with_name("dask"))
    env = own_environment(tmp_path)
    scheduler_file = tmp_path / "scheduler.json"
    processes = [subprocess.Popen([dask_command, "scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
                                   "--no-dashboard"], cwd="/", env=env, stderr=subprocess.DEVNULL)]  # fmt: skip
    try:
        processes += [
            subprocess.Popen([dask_command, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
                              "--memory-limit", "1GiB", "--name", f"worker-{index}", "--no-dashboard"],
                             cwd="/", env=env, stderr=subprocess.DEVNULL)  # fmt: skip
            for index in range(2)
        ]
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        train, test = str(tmp_path / "train"), str(tmp_path / "test")
        with dask.config.set({"scheduler-address": address}), dask_client(2, "unused") as client:
            split_shards(client, find_shards(str(folder), {}), 0.33, 7, train, test, {})
            classifier = fit_on_workers(client, train, Hyperparameters(), 7, {})
            metrics, _ = evaluate_on_workers(client, test, classifier, {})
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
    test_rows = read_split(test)
    predicted = classify(classifier, test_rows)
    expected, _ = evaluate_with_curves(test_rows[LABEL], predicted["predicted"], predicted["probability"])
    assert replace(metrics, log_loss=0) == replace(expected, log_loss=0)  # summed per part: rounding may differ
    assert metrics.log_loss == pytest.approx(expected.log_loss, rel=1e-12)
    held_out = row_hash_split(as_table(rows), 0.33, 7)
    assert len(test_rows) == held_out.sum() and len(read_split(train)) == len(rows) - held_out.sum()


@pytest.mark.slow
def test_both_tree_boosters_train_on_dask(tmp_path, two_workers):
    from flyte.distributed import fit_on_workers
    from flyte.hyperparameters import DISTRIBUTED_BOOSTERS, Hyperparameters

    folder = write_shards(tmp_path / "shards", synthetic_rows(900, seed=13), 3)
    train, test = str(tmp_path / "train"), str(tmp_path / "test")
    split_shards(two_workers, find_shards(str(folder), {}), 0.33, 7, train, test, {})
    models = {
        booster: fit_on_workers(two_workers, train, Hyperparameters(booster=booster, n_estimators=10), 7, {})
        for booster in DISTRIBUTED_BOOSTERS
    }
    test_rows = read_split(test)
    for booster, model in models.items():  # each learned something: it beats always predicting the majority class
        assert model.get_params()["booster"] == booster
        accuracy = (classify(model, test_rows)["predicted"] == test_rows[LABEL]).mean()
        assert accuracy > max(test_rows[LABEL].mean(), 1 - test_rows[LABEL].mean())


def test_the_linear_booster_is_refused_before_any_cluster_starts(tmp_path, monkeypatch):
    import flyte.distributed
    from flyte.hyperparameters import Hyperparameters
    from flyte.workflows.distributed import diabetes_xgboost_model_distributed

    def never_called(*args, **kwargs):
        raise AssertionError("a Dask cluster was started")

    monkeypatch.setattr(flyte.distributed, "dask_client", never_called)
    folder = write_shards(tmp_path / "shards", synthetic_rows(60), 2)
    with pytest.raises(Exception, match="booster 'gblinear' cannot be trained on Dask"):
        diabetes_xgboost_model_distributed(
            dataset=FlyteDirectory(str(folder)), hyperparameters=Hyperparameters(booster="gblinear")
        )


def test_the_worker_count_is_bounded_before_any_cluster_starts():
    from flyte.workflows.distributed import MAX_WORKERS, dask_cluster

    for workers in (0, MAX_WORKERS + 1):
        with pytest.raises(ValueError, match=f"workers must be a whole number from 1 to {MAX_WORKERS}, got {workers}"):
            dask_cluster(workers)
    assert dask_cluster(MAX_WORKERS).workers.number_of_workers == MAX_WORKERS
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"), dask_client(0, "1GiB"):
        pass  # the local cluster's own check, before it starts any process
