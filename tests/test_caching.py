"""Cache versions follow the code and cache keys follow the data."""

import hashlib
import shutil
from importlib import metadata

from flytekit.core.python_function_task import PythonFunctionTask
from flytekit.types.file import FlyteFile

from flyte.workflows import example
from flyte.workflows.caching import PACKAGE_DIR, project_digest
from flyte.workflows.files import file_cache_key
from tests.conftest import REPO_ROOT, synthetic_rows, write_csv


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


# The libraries a cached result depends on, each by the distribution installed here (XGBoost as its CPU build).
RESULT_DISTRIBUTIONS = {
    "xgboost": "xgboost-cpu",
    "scikit-learn": "scikit-learn",
    "pandas": "pandas",
    "numpy": "numpy",
    "pyarrow": "pyarrow",
    "matplotlib": "matplotlib",
    "joblib": "joblib",
    "flytekit": "flytekit",
    "dask": "dask",
    "distributed": "distributed",
}


def expected_cache_version() -> str:
    """The cache version recomputed from the checkout: SHA-256 over each .py file and bundled CSV of the package (its
    path and its bytes, in path order) and the library versions; then the project's cache policy (salt "") and
    flytekit's Cache (one policy) each hash the hex digest once more."""
    package = REPO_ROOT / "flyte"
    digest = hashlib.sha256()
    for path in sorted([*package.rglob("*.py"), *package.glob("data/*.csv")]):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes().replace(b"\r\n", b"\n"))
    for library, distribution in RESULT_DISTRIBUTIONS.items():
        digest.update(f"{library}=={metadata.version(distribution)}".encode())
    policy_version = hashlib.sha256(digest.hexdigest().encode()).hexdigest()
    return hashlib.sha256(policy_version.encode()).hexdigest()


def cached_tasks() -> list:
    """Every task of the workflow modules."""
    from flyte.workflows import inference, tuning

    modules = (example, tuning, inference)
    return [value for module in modules for value in vars(module).values() if isinstance(value, PythonFunctionTask)]


def test_every_task_is_cached_under_the_version_recomputed_from_the_sources():
    tasks = cached_tasks()
    assert {task.name.rsplit(".", 1)[-1] for task in tasks} >= {"split_traintest_dataset", "fit", "classify_patients"}
    expected = expected_cache_version()
    for task in tasks:
        assert task.metadata.cache, task.name
        assert task.metadata.cache_version == expected, task.name


def test_every_task_declares_cpu_and_memory_requests_and_limits():
    for task in cached_tasks():
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
