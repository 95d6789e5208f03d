"""The model registry (flyte/registry.py) and the promotion gate (flyte/promotion.py): a folder of the user's own,
create-only keys so that concurrent runs lose no entry and never tear the champion (locally and on an S3 store), and
a champion that only gets better on the challenger's own test rows."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from flyte.hyperparameters import Hyperparameters
from flyte.model import train_model
from flyte.model_file import save_model
from flyte.promotion import compare_with_champion, promote_if_better, scorer_on_rows
from flyte.registry import (
    REGISTRY_ENVIRONMENT_VARIABLE,
    Champion,
    ModelRegistry,
    RegistryError,
    blob_store_location,
    default_local_location,
)
from flyte.schema import COLUMNS, FEATURES, LABEL
from tests.conftest import provenance

PROCESSES = 4
ROUNDS = 5


def test_the_local_default_is_under_the_users_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_local_location() == tmp_path / "data" / "diabetes-xgboost" / "model-registry"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_local_location() == Path.home() / ".local" / "share" / "diabetes-xgboost" / "model-registry"


def test_on_a_cluster_the_registry_is_a_prefix_of_the_blob_store():
    assert blob_store_location("s3://my-s3-bucket/data/ab/cd-ef/") == "s3://my-s3-bucket/model-registry"
    assert blob_store_location("gs://bucket") == "gs://bucket/model-registry"
    assert blob_store_location("/tmp/flyte-x/raw") is None
    assert blob_store_location("file:///tmp/flyte-x/raw") is None


def test_a_new_local_registry_is_private(tmp_path):
    ModelRegistry(tmp_path / "new" / "registry")
    assert stat.S_IMODE((tmp_path / "new" / "registry").stat().st_mode) == 0o700


def test_a_registry_in_a_store_keeps_a_model_once_and_hands_out_a_local_copy(tmp_path):
    """fsspec's in-memory filesystem stands in for an object store."""
    registry = ModelRegistry(f"memory://{tmp_path.name}/model-registry")
    data = b'{"a model file": 1}'
    try:
        sha256 = registry.store_model(data)
        assert sha256 == hashlib.sha256(data).hexdigest()
        assert registry.store_model(data) == sha256  # the same bytes: kept once, not an error
        local = registry.model_local_path(sha256, tmp_path)
        assert local == tmp_path / f"{sha256}.json" and local.read_bytes() == data
    finally:
        registry.fs.rm(f"/{tmp_path.name}", recursive=True)


def test_a_world_writable_registry_folder_is_refused(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(RegistryError) as refused:
        ModelRegistry(folder)
    assert str(refused.value) == (
        f"model registry {folder}: writable by every user (mode drwxrwxrwx); refused, since anyone could replace the "
        f"champion. Run `chmod o-w {folder}` or set {REGISTRY_ENVIRONMENT_VARIABLE} to a folder of your own"
    )


def test_a_registry_folder_owned_by_someone_else_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(os, "getuid", lambda: folder.stat().st_uid + 1)  # as another user sees it
    with pytest.raises(RegistryError, match=rf"^model registry {folder}: owned by another user \(uid "):
        ModelRegistry(folder)


def take_turns(location: str, storage_options: dict, worker: int) -> None:
    """Record ROUNDS entries and promote ROUNDS champions, each on top of the champion just read (compare and swap)."""
    from flyte.registry import Champion, Entry, ModelRegistry

    registry = ModelRegistry(location, storage_options)
    for round_ in range(ROUNDS):
        digest = f"{worker:02d}{round_:02d}".ljust(64, "0")
        registry.record(Entry(
            model_sha256=digest, metrics={}, dataset_sha256="", dataset_source="", hyperparameters={}, seed=None,
            library_versions={}, features=[], trained_at="", trained_by="", recorded_at="2026-01-01T00:00:00+00:00",
            recorded_by=f"worker {worker}", promoted=True, comparison={},
        ))  # fmt: skip
        while True:
            current = registry.champion()
            number = current.number + 1 if current else 1
            if registry.try_promote(Champion(number=number, model_sha256=digest, metric="roc_auc", score=0.5)):
                break


def assert_nothing_lost_or_torn(registry: ModelRegistry) -> None:
    expected = {f"{worker:02d}{round_:02d}".ljust(64, "0") for worker in range(PROCESSES) for round_ in range(ROUNDS)}
    assert sorted(entry.model_sha256 for entry in registry.entries()) == sorted(expected)
    champions = registry.champions()  # every record parses whole
    assert [champion.number for champion in champions] == list(range(1, len(expected) + 1))
    assert {champion.model_sha256 for champion in champions} == expected  # no promotion overwritten by another


@pytest.mark.slow
def test_concurrent_local_processes_lose_no_entry_and_never_tear_the_champion(tmp_path):
    location = str(tmp_path / "registry")
    ModelRegistry(location)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=take_turns, args=(location, {}, worker)) for worker in range(PROCESSES)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=300)
        assert process.exitcode == 0
    assert_nothing_lost_or_torn(ModelRegistry(location))
    assert not [path for path in Path(location).rglob("*") if path.name.endswith(".partial")]


@pytest.mark.slow
def test_concurrent_writers_on_an_s3_store_lose_no_entry_and_never_tear_the_champion(object_store):
    location = object_store.url("registry-concurrency")
    options = {"s3": {
        "key": object_store.access_key, "secret": object_store.secret_key, "skip_instance_cache": True,
        "client_kwargs": {"endpoint_url": object_store.endpoint},
    }}  # fmt: skip
    with ThreadPoolExecutor(PROCESSES) as pool:
        list(pool.map(lambda worker: take_turns(location, options, worker), range(PROCESSES)))
    assert_nothing_lost_or_torn(ModelRegistry(location, options))
    registry = ModelRegistry(location, options)
    assert registry.store_model(b"model bytes") == registry.store_model(b"model bytes")  # content-addressed, once
    assert not registry.try_promote(Champion(number=1, model_sha256="f" * 64, metric="roc_auc", score=1.0))


@pytest.fixture
def rows(real_dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and test rows of the real data set: models of different sizes score differently on them."""
    data = pd.read_csv(real_dataset, header=None, names=list(COLUMNS))
    return data.iloc[:500].reset_index(drop=True), data.iloc[500:].reset_index(drop=True)


def model_file(folder: Path, train: pd.DataFrame, name: str, **settings) -> Path:
    path = folder / f"{name}.json"
    save_model(train_model(train, Hyperparameters(**settings), seed=1), "0" * 64, path, provenance())
    return path


def metrics_on(path: Path, test: pd.DataFrame):
    from flyte.model_file import load_model

    return scorer_on_rows(lambda: test)(load_model(path).classifier)


def run_gate(registry: ModelRegistry, path: Path, test: pd.DataFrame) -> tuple[bool, object]:
    """What compare_with_champion and promote do in a training workflow."""
    from flyte.model_file import load_model

    metrics = metrics_on(path, test)
    comparison = compare_with_champion(registry, load_model(path), lambda: metrics, scorer_on_rows(lambda: test))
    return promote_if_better(registry, path, metrics, comparison, scorer_on_rows(lambda: test), "test-run")


def test_the_first_model_is_promoted_a_worse_one_not_a_better_one_replaces_it(tmp_path, rows):
    train, test = rows
    registry = ModelRegistry(tmp_path / "registry")
    weak = model_file(tmp_path, train, "weak", n_estimators=1, max_depth=1)
    strong = model_file(tmp_path, train, "strong", n_estimators=50, max_depth=3)
    auc = {path: roc_auc_score(test[LABEL], scores(path, test)) for path in (weak, strong)}
    assert auc[strong] > auc[weak]

    promoted, comparison = run_gate(registry, weak, test)
    assert promoted and comparison.champion is None
    assert comparison.reason == "no champion yet: the first model is promoted"
    promoted, promoting = run_gate(registry, strong, test)
    assert promoted and promoting.better
    assert (promoting.champion, promoting.challenger) == (pytest.approx(auc[weak]), pytest.approx(auc[strong]))
    promoted, comparison = run_gate(registry, weak, test)
    assert not promoted and comparison.reason.endswith(f"is below the champion's {auc[strong]:.4f}: the champion stays")
    # The champion itself again (a rerun, its model a cache hit): the comparison that made it champion, so that the
    # rerun's report, which shows it, is a cache hit too; and no second promotion.
    promoted, comparison = run_gate(registry, strong, test)
    assert not promoted and comparison == promoting
    champion = registry.champion()
    assert (champion.number, Path(registry.model_key(champion.model_sha256)).read_bytes()) == (2, strong.read_bytes())
    entries = registry.entries()
    assert [entry.promoted for entry in entries] == [True, True, False, False]
    assert [entry.comparison["champion_digest"] for entry in entries] == [
        None, entries[0].model_sha256, champion.model_sha256, entries[0].model_sha256
    ]


def test_a_champion_recorded_without_its_comparison_is_compared_with_itself(tmp_path, rows):
    """A champion record written before the records kept the comparison that decided them."""
    from flyte.model_file import load_model

    train, test = rows
    registry = ModelRegistry(tmp_path / "registry")
    path = model_file(tmp_path, train, "first")
    model = load_model(path)
    digest = registry.store_model(path.read_bytes())
    assert digest == model.sha256
    assert registry.try_promote(Champion(number=1, model_sha256=digest, metric="roc_auc", score=0.8,
                                         features=list(FEATURES)))  # fmt: skip
    promoted, comparison = run_gate(registry, path, test)
    assert not promoted and not comparison.better and comparison.champion == comparison.challenger
    assert comparison.reason == "the challenger is the champion itself (the same model file): nothing to do"
    assert registry.champion().number == 1


def scores(path: Path, test: pd.DataFrame):
    from flyte.model import classify
    from flyte.model_file import load_model

    return classify(load_model(path).classifier, test[list(FEATURES)])["probability"]


def test_a_champion_trained_on_other_columns_is_not_compared(tmp_path, rows):
    train, test = rows
    registry = ModelRegistry(tmp_path / "registry")
    first = model_file(tmp_path, train, "first")
    run_gate(registry, first, test)
    champion = registry.champion()
    reordered = [FEATURES[1], FEATURES[0], *FEATURES[2:]]
    assert registry.try_promote(Champion(**{**asdict(champion), "number": 2, "features": reordered}))
    promoted, comparison = run_gate(registry, model_file(tmp_path, train, "second", n_estimators=50), test)
    assert not promoted and comparison.champion is None
    assert comparison.reason.startswith("trained on other columns (pregnancies, glucose, ")


def test_a_champion_file_changed_in_the_registry_is_refused(tmp_path, rows):
    from flyte.model_file import IncompatibleModelError

    train, test = rows
    registry = ModelRegistry(tmp_path / "registry")
    run_gate(registry, model_file(tmp_path, train, "first"), test)
    kept = Path(registry.model_key(registry.champion().model_sha256))
    content = json.loads(kept.read_text())
    content["provenance"]["seed"] = 99
    kept.write_text(json.dumps(content))
    with pytest.raises(IncompatibleModelError, match=rf"^{kept}: its SHA-256 is .*, but the model registry recorded"):
        run_gate(registry, model_file(tmp_path, train, "second", n_estimators=50), test)


def promote_concurrently(location: str, path: str, test_csv: str, queue) -> None:
    registry = ModelRegistry(location)
    test = pd.read_csv(test_csv)
    queue.put((path, run_gate(registry, Path(path), test)[0]))


@pytest.mark.slow
def test_concurrent_runs_leave_the_best_model_champion(tmp_path, rows):
    """Runs that finish at once: whatever the order, each is recorded and the best of them ends up champion."""
    train, test = rows
    location = str(tmp_path / "registry")
    ModelRegistry(location)
    test_csv = tmp_path / "test.csv"
    test.to_csv(test_csv, index=False)
    paths = [model_file(tmp_path, train, f"model{trees}", n_estimators=trees, max_depth=2) for trees in (1, 3, 10, 40)]
    auc = [roc_auc_score(test[LABEL], scores(path, test)) for path in paths]
    assert len(set(auc)) == len(paths)  # one best
    best = paths[auc.index(max(auc))]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    runs = [context.Process(target=promote_concurrently, args=(location, str(path), str(test_csv), queue))
            for path in paths]  # fmt: skip
    for process in runs:
        process.start()
    results = dict(queue.get(timeout=300) for _ in runs)
    for process in runs:
        process.join(timeout=60)
        assert process.exitcode == 0
    registry = ModelRegistry(location)
    assert Path(registry.model_key(registry.champion().model_sha256)).read_bytes() == best.read_bytes()
    assert results[str(best)] is True
    assert len(registry.entries()) == len(paths)
    scores_in_order = [champion.score for champion in registry.champions()]
    assert scores_in_order == sorted(scores_in_order) and len(set(scores_in_order)) == len(scores_in_order)


def test_a_run_writing_to_a_blob_store_records_in_its_bucket(monkeypatch):
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.data_persistence import FileAccessProvider

    from flyte.workflows.model_registry import registry_location

    monkeypatch.delenv(REGISTRY_ENVIRONMENT_VARIABLE)
    access = FileAccessProvider(local_sandbox_dir="/tmp", raw_output_prefix="s3://my-s3-bucket/data/ab/cd")
    context = FlyteContextManager.current_context().with_file_access(access)
    with FlyteContextManager.with_context(context):
        assert registry_location() == "s3://my-s3-bucket/model-registry"
    monkeypatch.setenv(REGISTRY_ENVIRONMENT_VARIABLE, "s3://elsewhere/registry")
    with FlyteContextManager.with_context(context):
        assert registry_location() == "s3://elsewhere/registry"
