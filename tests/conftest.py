"""Shared fixtures: an isolated HOME (so flytekit's local cache is never the user's), the real CSV (the one bundled in
the package), synthetic CSVs."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import sys
import tempfile
import threading
import weakref
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from flyte.bundled import BUNDLED_DATASET
from flyte.model_file import Provenance
from flyte.schema import COLUMN_TYPES, LABEL, PLAUSIBLE_RANGES

REPO_ROOT = Path(__file__).resolve().parent.parent
# The verified 768-row Pima CSV, as shipped in the package (tests/test_bundled.py checks its SHA-256).
REAL_DATASET = BUNDLED_DATASET


SESSION_FOLDER = pytest.StashKey[Path]()


def pytest_configure(config):
    """Give the session a folder of its own: its HOME, set before flytekit is imported (flytekit's local cache lives
    in ~/.flyte), and the TMPDIR of the processes it starts (flytekit's run folders, Dask's scratch space), the
    pytest-xdist workers included. This process keeps its temporary folder, where pytest keeps the tests' tmp_path."""
    tempfile.gettempdir()  # fixed for this process before TMPDIR changes
    folder = Path(tempfile.mkdtemp(prefix="diabetes-tests-"))
    config.stash[SESSION_FOLDER] = folder
    for name in ("home", "tmp"):
        (folder / name).mkdir()
    os.environ["HOME"], os.environ["TMPDIR"] = str(folder / "home"), str(folder / "tmp")


def pytest_unconfigure(config):
    """Remove the session's folder: nothing the session's processes wrote outside tmp_path is left behind."""
    shutil.rmtree(config.stash[SESSION_FOLDER], ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """How pytest-xdist (`-n 2`, pyproject.toml) shares the tests between its workers: a module's tests on one worker,
    so that its module fixtures run once, and the modules of the image (test_container*.py) on one worker together,
    so that the session's image is built once."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "the image's modules" if Path(module).name.startswith("test_container") else module

    return ModuleScheduling(config, log)


@pytest.fixture(autouse=True)
def own_model_registry(tmp_path_factory, monkeypatch) -> Path:
    """Every test starts with an empty model registry of its own: a champion never leaks from one test to another."""
    from flyte.registry import REGISTRY_ENVIRONMENT_VARIABLE

    folder = tmp_path_factory.mktemp("model-registry")
    monkeypatch.setenv(REGISTRY_ENVIRONMENT_VARIABLE, str(folder))
    return folder


@pytest.fixture(autouse=True)
def empty_local_cache():
    """Every test starts with an empty flytekit local cache (inside the temporary HOME)."""
    from flytekit.core.local_cache import LocalTaskCache

    LocalTaskCache.clear()


@pytest.fixture(scope="session")
def task_checkpoints():
    """Every SyncCheckpoint flytekit makes while the tests run (one per locally executed task)."""
    from flytekit.core.checkpointer import SyncCheckpoint

    made = weakref.WeakSet()
    original_init = SyncCheckpoint.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        made.add(self)

    SyncCheckpoint.__init__ = init
    yield made
    SyncCheckpoint.__init__ = original_init


@pytest.fixture(autouse=True)
def clean_task_checkpoints(task_checkpoints):
    """Remove the temporary folder of every task checkpoint once the test is done.

    flytekit (1.16) gives each local task a SyncCheckpoint holding a TemporaryDirectory that only its __del__
    removes. When a task fails, the exception's traceback keeps the checkpoint in a reference cycle; the garbage
    collector then finalizes the folder before __del__ runs, and `-W default` shows "ResourceWarning: Implicitly
    cleaning up <TemporaryDirectory ...>". Removing it explicitly is what __del__ would have done.
    """
    yield
    for checkpoint in list(task_checkpoints):
        checkpoint._td.cleanup()
    task_checkpoints.clear()


@pytest.fixture
def real_dataset() -> Path:
    return REAL_DATASET


def synthetic_rows(count: int, seed: int = 0) -> list[list]:
    """Pima-shaped rows of flyte.schema's columns: the features in the real file's value ranges, then a 0/1 label
    that glucose and BMI predict; a column the real file has not is drawn uniformly from its plausible range."""
    rng = np.random.default_rng(seed)
    glucose = rng.integers(60, 200, count)
    bmi = np.round(rng.uniform(18, 50, count), 1)
    diabetic = ((glucose > 130) | (bmi > 42)).astype(int)
    draws = {
        "pregnancies": lambda row: int(rng.integers(0, 15)),
        "glucose": lambda row: int(glucose[row]),
        "blood_pressure": lambda row: int(rng.integers(40, 110)),
        "skin_thickness": lambda row: int(rng.integers(0, 60)),
        "insulin": lambda row: int(rng.integers(0, 400)),
        "bmi": lambda row: float(bmi[row]),
        "diabetes_pedigree": lambda row: round(float(rng.uniform(0.08, 2.4)), 3),
        "age": lambda row: int(rng.integers(21, 80)),
        LABEL: lambda row: int(diabetic[row]),
    }

    def plausible(name: str):
        low, high = PLAUSIBLE_RANGES[name].low, PLAUSIBLE_RANGES[name].high
        if COLUMN_TYPES[name] is int:
            return lambda row: int(rng.integers(low, high, endpoint=True))
        return lambda row: round(float(rng.uniform(low, high)), 3)

    column_draws = [draws.get(name) or plausible(name) for name in COLUMN_TYPES]
    return [[draw(row) for draw in column_draws] for row in range(count)]


def own_environment(home: Path, **variables: str) -> dict[str, str]:
    """The whole environment of a subprocess a test starts: `home` (made here) as its HOME and its TMPDIR, so that
    flytekit's cache and its run folders, and Dask's scratch space, stay in the test's folder, not in the user's
    ~/.flyte or /tmp; this venv's commands on PATH; then `variables`."""
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "TMPDIR": str(home), "PATH": str(Path(sys.executable).parent), "LANG": "C.UTF-8",
            **variables}  # fmt: skip


def write_csv(path: Path, rows: list[list], header: str | None = None) -> Path:
    lines = ([header] if header else []) + [",".join(str(cell) for cell in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def provenance(**changes) -> Provenance:
    """The provenance a fit task would record, for models the tests save themselves."""
    facts = dict(
        dataset_source="synthetic rows", training_rows=80, hyperparameters={"max_depth": 2}, seed=4,
        trained_at="2026-01-01T00:00:00+00:00", execution_id="local",
    )  # fmt: skip
    return Provenance(**{**facts, **changes})


@pytest.fixture
def synthetic_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "patients.csv", synthetic_rows(200))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def http_folder(tmp_path):
    """Serve tmp_path/www over HTTP on loopback; yields (folder, base URL)."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def pytest_collection_modifyitems(items):
    """A test that uses the object store is `slow` (the store is a server process), whether or not it says so."""
    for item in items:
        if "object_store" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def object_store(tmp_path_factory):
    """One S3-compatible object store (SeaweedFS, tests/object_store.py) for the whole session, with a bucket; it
    starts a server process, so a test that uses it is `slow`. Tests put their objects under keys of their own."""
    from tests.object_store import running_object_store

    with running_object_store(tmp_path_factory.mktemp("object-store")) as store:
        yield store
