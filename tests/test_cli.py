"""`pyflyte run` as a user runs it, in a subprocess with its own HOME (and so its own local cache). Its messages for
bad input: tests/test_error_output.py; in-place edits and deleted outputs: in-process, tests/test_workflow.py."""

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from flyte.model_file import load_model
from tests.conftest import REPO_ROOT, own_environment
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

    @property
    def report(self) -> Path:
        return Path(re.search(r"report=([^,)\s]+)", self.output).group(1))


def pyflyte_run(home: Path, *args: str, project: Path = REPO_ROOT, env: dict[str, str] | None = None) -> Run:
    env = own_environment(home, COLUMNS="1000", **(env or {}))
    command = [str(PYFLYTE), "run", "flyte/workflows/example.py", "diabetes_xgboost_model", *args]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    return Run(done.returncode, done.stdout + done.stderr)


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.mark.slow
def test_a_dataset_url_trains_as_the_plain_libraries_and_a_rerun_is_a_cache_hit(home, real_dataset, http_folder):
    """pyflyte run as a user runs it, on a URL: whole numbers written as floats are taken as integers, the duplicate
    rows are warned about in the log, the model is the plain libraries' and a second run reuses its outputs."""
    folder, url = http_folder
    rows = real_dataset.read_text().splitlines()
    csv = folder / "pima.csv"
    csv.write_text("\n".join([*rows, *rows[:7]]) + "\n")
    settings = ("--hyperparameters", '{"max_depth": 2.0, "n_estimators": 5.0}')
    cold = pyflyte_run(home, "--dataset", f"{url}/pima.csv", *settings)
    assert cold.returncode == 0, cold.output
    assert f"DuplicateRowsWarning: {url}/pima.csv: 7 of 775 rows are exact duplicates of an earlier row" in cold.output
    saved = load_model(cold.model)
    assert (saved.provenance.hyperparameters["max_depth"], saved.provenance.hyperparameters["n_estimators"]) == (2, 5)
    assert saved.classifier.get_booster().num_boosted_rounds() == 5
    assert cold.accuracy == pytest.approx(plain_accuracy(csv, max_depth=2, n_estimators=5), abs=1e-12)
    hit = pyflyte_run(home, "--dataset", f"{url}/pima.csv", *settings)
    assert hit.returncode == 0, hit.output
    # The same stored outputs: cache hits, the report's too (the rerun's champion is its own model: the comparison
    # the report shows is the one that promoted it).
    assert (hit.model, hit.accuracy, hit.report) == (cold.model, cold.accuracy, cold.report)
    assert "promoted=False" in hit.output and "promoted=True" in cold.output


@pytest.mark.slow
def test_a_code_change_never_reuses_old_outputs(home, synthetic_csv, tmp_path):
    """flytekit's cache ignores the function body: the project's cache version follows every byte of the code
    (a comment too: tests/test_caching.py), so a changed task computes afresh."""
    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "flyte", project / "flyte", ignore=shutil.ignore_patterns("__pycache__"))
    first = pyflyte_run(home, "--dataset", str(synthetic_csv), project=project)
    assert first.returncode == 0, first.output
    with open(project / "flyte" / "evaluation.py", "a") as source:  # the score task's log loss, redefined
        source.write("\n\ndef log_loss(labels, probability):\n    return 0.25\n")
    changed = pyflyte_run(home, "--dataset", str(synthetic_csv), project=project)
    assert changed.returncode == 0, changed.output
    assert changed.model != first.model
    assert re.search(r"log_loss=([0-9.]+)", changed.output).group(1) == "0.25"


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
