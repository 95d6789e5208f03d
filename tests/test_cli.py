"""`pyflyte run` as a user runs it, in a subprocess with its own HOME (and so its own local cache)."""

import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from flyte.model_file import load_model
from tests.conftest import REAL_DATASET, REPO_ROOT, closed_port, synthetic_rows, write_csv
from tests.offline import without_network
from tests.reference import plain_accuracy

PYFLYTE = Path(sys.executable).with_name("pyflyte")


@dataclass
class Run:
    returncode: int
    output: str

    @property
    def accuracy(self) -> float:
        return float(re.search(r"accuracy=([0-9.]+)", self.output).group(1))

    @property
    def model(self) -> Path:
        return Path(re.search(r"model=([^,)\s]+)", self.output).group(1))


def pyflyte_run(home: Path, *args: str, project: Path = REPO_ROOT, env: dict[str, str] | None = None) -> Run:
    env = {"HOME": str(home), "PATH": str(PYFLYTE.parent), "COLUMNS": "1000", "LANG": "C.UTF-8", **(env or {})}
    command = [str(PYFLYTE), "run", "flyte/workflows/example.py", "diabetes_xgboost_model", *args]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    return Run(done.returncode, done.stdout + done.stderr)


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.mark.slow
def test_cold_run_then_cache_hit_on_the_real_file(home, real_dataset):
    cold = pyflyte_run(home, "--dataset", str(real_dataset))
    assert cold.returncode == 0, cold.output
    assert cold.accuracy == pytest.approx(plain_accuracy(real_dataset), abs=1e-12)
    assert cold.model.is_file()
    hit = pyflyte_run(home, "--dataset", str(real_dataset))
    assert hit.returncode == 0, hit.output
    assert (hit.model, hit.accuracy) == (cold.model, cold.accuracy)  # the same stored outputs: a cache hit


@pytest.mark.slow
def test_without_a_dataset_the_bundled_file_trains_offline(home, tmp_path):
    run = pyflyte_run(home, env=without_network(tmp_path / "offline"))
    assert run.returncode == 0, run.output
    assert run.accuracy == pytest.approx(plain_accuracy(REAL_DATASET), abs=1e-12)
    assert load_model(run.model).training_data_sha256 == hashlib.sha256(REAL_DATASET.read_bytes()).hexdigest()


@pytest.mark.slow
def test_editing_the_csv_in_place_is_not_a_stale_hit(home, real_dataset, tmp_path):
    csv = shutil.copy(real_dataset, tmp_path / "pima.csv")
    first = pyflyte_run(home, "--dataset", str(csv))
    lines = Path(csv).read_text().splitlines()
    Path(csv).write_text("\n".join(lines[:500]) + "\n")
    second = pyflyte_run(home, "--dataset", str(csv))
    assert second.returncode == 0, second.output
    assert second.accuracy == pytest.approx(plain_accuracy(csv), abs=1e-12)
    assert second.accuracy != first.accuracy


@pytest.mark.slow
def test_deleted_cached_outputs_are_recomputed(home, synthetic_csv):
    first = pyflyte_run(home, "--dataset", str(synthetic_csv))
    run_folder = next(parent for parent in first.model.parents if parent.parent == Path("/tmp"))
    shutil.rmtree(run_folder)
    again = pyflyte_run(home, "--dataset", str(synthetic_csv))
    assert again.returncode == 0, again.output
    assert again.model.is_file() and again.model != first.model
    assert again.accuracy == first.accuracy == pytest.approx(plain_accuracy(synthetic_csv), abs=1e-12)


@pytest.mark.slow
def test_code_changes_never_reuse_old_outputs(home, synthetic_csv, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "flyte", project / "flyte", ignore=shutil.ignore_patterns("__pycache__"))
    first = pyflyte_run(home, "--dataset", str(synthetic_csv), project=project)
    assert first.returncode == 0, first.output

    with open(project / "flyte" / "dataset.py", "a") as source:
        source.write("\n# a comment is a code change too: the cache version follows every byte of the source\n")
    commented = pyflyte_run(home, "--dataset", str(synthetic_csv), project=project)
    assert commented.model != first.model and commented.accuracy == first.accuracy

    with open(project / "flyte" / "evaluation.py", "a") as source:  # the score task's log loss, redefined
        source.write("\n\ndef log_loss(labels, probability):\n    return 0.25\n")
    changed = pyflyte_run(home, "--dataset", str(synthetic_csv), project=project)
    assert changed.returncode == 0, changed.output
    assert re.search(r"log_loss=([0-9.]+)", changed.output).group(1) == "0.25"


@pytest.mark.slow
def test_bad_csv_is_reported_with_file_row_and_column(home, tmp_path):
    rows = synthetic_rows(50)
    rows[20][1] = "high"
    csv = write_csv(tmp_path / "bad.csv", rows)
    run = pyflyte_run(home, "--dataset", str(csv))
    assert run.returncode != 0
    expected = "value 'high' is not a whole number; expected a whole number from 10 to 3000 mg/dL"
    assert f"{csv}: row 21, column 'glucose': {expected}" in run.output


@pytest.mark.slow
def test_bad_hyperparameters_are_refused_before_any_task(home, synthetic_csv):
    run = pyflyte_run(home, "--dataset", str(synthetic_csv), "--hyperparameters", '{"max_depth": 0, "booster": "x"}')
    assert run.returncode != 0
    assert "invalid hyperparameters: max_depth must be between 1 and 32, got 0; booster must be one of" in run.output


@pytest.mark.slow
def test_unreachable_dataset_url_says_how_to_pass_a_local_file(home):
    run = pyflyte_run(home, "--dataset", f"http://127.0.0.1:{closed_port()}/pima.csv")
    assert run.returncode != 0
    assert "could not read the dataset" in run.output
    assert "refused the connection" in run.output
    assert "pass a local copy: --dataset path/to/pima-indians-diabetes.data.csv" in run.output


@pytest.mark.slow
def test_the_canonical_url_offline_explains_how_to_pass_a_local_copy(home, tmp_path):
    """Always offline (a guard refuses the network), so the outcome never depends on this machine's network."""
    url = "https://raw.githubusercontent.com/jbrownlee/Datasets/master/pima-indians-diabetes.data.csv"
    run = pyflyte_run(home, "--dataset", url, env=without_network(tmp_path / "offline"))
    assert run.returncode != 0
    assert url in run.output
    assert "the host raw.githubusercontent.com could not be found" in run.output
    assert "leaving out --dataset, or pass a local copy" in run.output


@pytest.mark.slow
def test_dataset_from_a_url(home, real_dataset, http_folder):
    folder, url = http_folder
    shutil.copy(real_dataset, folder / "pima.csv")
    run = pyflyte_run(home, "--dataset", f"{url}/pima.csv")
    assert run.returncode == 0, run.output
    assert run.accuracy == pytest.approx(plain_accuracy(real_dataset), abs=1e-12)


def test_tampered_canonical_download_is_refused(http_folder, real_dataset, monkeypatch):
    from flytekit.types.file import FlyteFile

    import flyte.dataset
    from flyte.workflows.example import split_traintest_dataset

    folder, url = http_folder
    (folder / "pima.csv").write_text(real_dataset.read_text().replace("6,148,72", "6,149,72", 1))
    monkeypatch.setattr(flyte.dataset, "CANONICAL_DATASET_URL", f"{url}/pima.csv")
    with pytest.raises(Exception, match=r"downloaded file has sha256 [0-9a-f]{64}, expected 6bfe5d0f") as error:
        split_traintest_dataset(dataset=FlyteFile(f"{url}/pima.csv"), test_split_ratio=0.33, seed=7)
    assert "--dataset PATH" in str(error.value)
