"""Cache versions follow the code and cache keys follow the data."""

import hashlib
import shutil

from flytekit.core.base_task import PythonTask
from flytekit.types.file import FlyteFile

from flyte.workflows import caching, example
from flyte.workflows.caching import PACKAGE_DIR, project_digest
from flyte.workflows.files import file_cache_key
from tests.conftest import synthetic_rows, write_csv


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


def test_digest_follows_the_bundled_data(tmp_path):
    """A run without --dataset passes None, keyed by the None literal alone: the bundled CSV's bytes must be part of
    the cache version, or an edited bundled file would be a stale hit."""
    copy = tmp_path / "flyte"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    bundled = copy / "data" / "pima-indians-diabetes.data.csv"
    bundled.write_bytes(bundled.read_bytes().replace(b"6,148,72", b"6,149,72", 1))
    assert project_digest(copy) != project_digest(PACKAGE_DIR)
    (copy / "data" / "README.md").write_text("provenance, reworded\n")  # not data: no new cache version
    bundled.write_bytes((PACKAGE_DIR / "data" / "pima-indians-diabetes.data.csv").read_bytes())
    assert project_digest(copy) == project_digest(PACKAGE_DIR)


def test_digest_follows_the_versions_of_the_libraries_results_depend_on(monkeypatch):
    installed = caching.installed_versions(caching.RESULT_LIBRARIES)
    assert set(installed) == set(caching.RESULT_LIBRARIES)  # each one found (XGBoost as its CPU build)
    before = project_digest()
    for library in ("xgboost", "flytekit"):
        upgraded = {**installed, library: "99.0"}
        monkeypatch.setattr(caching, "installed_versions", lambda libraries, versions=upgraded: versions)
        assert project_digest() != before, library


def cached_tasks() -> list:
    """Every task of the single-node workflow modules (tests/test_distributed.py checks the Dask ones)."""
    from flyte.workflows import inference, tuning

    modules = (example, tuning, inference)
    return [value for module in modules for value in vars(module).values() if isinstance(value, PythonTask)]


# Tasks that read or change the model registry: a cache hit would compare with an old champion or skip a promotion.
UNCACHED = {"compare_with_champion", "promote", "model_or_champion"}


def test_every_task_is_cached_under_the_one_project_version():
    """The version follows the digest above; tests/test_cli.py shows a code change reach a local run's cache."""
    tasks = cached_tasks()
    assert {task.name.rsplit(".", 1)[-1] for task in tasks} >= {"split_traintest_dataset", "fit", "classify_patients"}
    cached = [task for task in tasks if task.name.rsplit(".", 1)[-1] not in UNCACHED]
    assert all(task.metadata.cache for task in cached)
    assert len({task.metadata.cache_version for task in cached}) == 1
    assert {task.name.rsplit(".", 1)[-1] for task in tasks if not task.metadata.cache} == UNCACHED & {
        task.name.rsplit(".", 1)[-1] for task in tasks
    }


def test_file_cache_key_is_the_content_hash(tmp_path):
    csv = write_csv(tmp_path / "a.csv", synthetic_rows(10))
    key = file_cache_key(FlyteFile(str(csv)))
    assert key == hashlib.sha256(csv.read_bytes()).hexdigest() == file_cache_key(str(csv))
    moved = shutil.copy(csv, tmp_path / "b.csv")
    assert file_cache_key(FlyteFile(str(moved))) == key
    write_csv(csv, synthetic_rows(10, seed=1))
    assert file_cache_key(FlyteFile(str(csv))) != key


def test_a_remote_file_is_keyed_by_its_uri_alone_where_its_server_cannot_be_asked():
    unreachable = "http://127.0.0.1:9/pima.csv"
    key = file_cache_key(FlyteFile(unreachable))
    assert key == "uri-sha256:" + hashlib.sha256(unreachable.encode()).hexdigest()
    assert file_cache_key(FlyteFile("s3://bucket/other.csv")) != key


def test_a_remote_file_replaced_at_its_url_gets_a_new_key(http_folder):
    folder, base_url = http_folder
    url = f"{base_url}/pima.csv"
    write_csv(folder / "pima.csv", synthetic_rows(10))
    key = file_cache_key(FlyteFile(url))
    assert key == file_cache_key(FlyteFile(url)) != "uri-sha256:" + hashlib.sha256(url.encode()).hexdigest()
    write_csv(folder / "pima.csv", synthetic_rows(12, seed=1))
    assert file_cache_key(FlyteFile(url)) != key  # the size and Last-Modified the server reports changed
