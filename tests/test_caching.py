"""Cache versions follow the code and cache keys follow the data."""

import hashlib
import shutil

from flytekit.types.file import FlyteFile

from flyte.workflows import example
from flyte.workflows.caching import PACKAGE_DIR, project_digest
from flyte.workflows.files import file_cache_key
from tests.conftest import synthetic_rows, write_csv

TASKS = (example.split_traintest_dataset, example.fit, example.predict, example.score)


def test_digest_follows_every_source_file(tmp_path):
    copy = tmp_path / "flyte"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert project_digest(copy) == project_digest(PACKAGE_DIR)
    for source in (copy / "model.py", copy / "workflows" / "example.py"):
        original = source.read_bytes()
        source.write_bytes(original + b"\n# edited\n")
        assert project_digest(copy) != project_digest(PACKAGE_DIR), source
        source.write_bytes(original)
    (copy / "new_module.py").write_text("X = 1\n")
    assert project_digest(copy) != project_digest(PACKAGE_DIR)


def test_every_task_is_cached_with_a_version_derived_from_the_digest():
    versions = {task.metadata.cache_version for task in TASKS}
    assert all(task.metadata.cache for task in TASKS)
    assert len(versions) == 1 and len(next(iter(versions))) == 64


def test_every_task_declares_cpu_and_memory_requests_and_limits():
    for task in TASKS:
        for resources in (task.resources.requests, task.resources.limits):
            assert resources.cpu and resources.mem, task.name


def test_file_cache_key_is_the_content_hash(tmp_path):
    csv = write_csv(tmp_path / "a.csv", synthetic_rows(10))
    key = file_cache_key(FlyteFile(str(csv)))
    assert key == hashlib.sha256(csv.read_bytes()).hexdigest() == file_cache_key(str(csv))
    moved = shutil.copy(csv, tmp_path / "b.csv")
    assert file_cache_key(FlyteFile(str(moved))) == key
    write_csv(csv, synthetic_rows(10, seed=1))
    assert file_cache_key(FlyteFile(str(csv))) != key


def test_remote_datasets_are_keyed_by_uri_without_downloading():
    unreachable = "http://127.0.0.1:9/pima.csv"
    key = file_cache_key(FlyteFile(unreachable))
    assert key == "uri-sha256:" + hashlib.sha256(unreachable.encode()).hexdigest()
    assert file_cache_key(FlyteFile("s3://bucket/other.csv")) != key
