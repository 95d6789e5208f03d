"""What `pyflyte run` prints when the user got something wrong: the project's message last, the whole output on one
screen (under 40 lines of an 80-column terminal), no library traceback. Files come from a local HTTP server on
127.0.0.1; nothing reaches a real host."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flyte.schema import COLUMNS
from tests.conftest import REAL_DATASET, REPO_ROOT, closed_port, own_environment, synthetic_rows, write_csv

PYFLYTE = Path(sys.executable).with_name("pyflyte")
SCREEN_LINES = 40

pytestmark = pytest.mark.slow  # each test runs pyflyte in a subprocess


def pyflyte_run(
    tmp_path: Path, workflow: str, *args: str, pythonpath: Path | None = None, unprivileged: bool = False
) -> tuple[int, list[str]]:
    """pyflyte run as a user's terminal shows it (80 columns), with its own HOME; the exit status and the lines.
    unprivileged: as root, without the capabilities that let root read any file (so chmod 000 holds)."""
    env = own_environment(tmp_path / "home", COLUMNS="80")
    if pythonpath:  # a sitecustomize folder; the project too, which it imports before pyflyte adds it
        env["PYTHONPATH"] = f"{pythonpath}{os.pathsep}{REPO_ROOT}"
    module, name = workflow.split(":")
    command = [str(PYFLYTE), "run", f"flyte/workflows/{module}.py", name, *args]
    if unprivileged and os.geteuid() == 0:
        command = [shutil.which("setpriv") or "setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, (done.stdout + done.stderr).rstrip().splitlines()


def assert_reads_on_one_screen(status: int, lines: list[str], *message: str) -> str:
    """Failed, fits on one screen, no traceback, and the last lines are the project's message; returns the text."""
    text = "\n".join(lines)
    assert status != 0, text
    assert len(lines) < SCREEN_LINES, text
    assert "Traceback" not in text and "site-packages" not in text, text
    # The message ends the output: the error box's last text line holds the message's last words.
    last_words = " ".join(line.strip("│╭╮╰╯─ ") for line in lines[-4:])
    assert message[-1] in " ".join(last_words.split()), text
    flat = " ".join(" ".join(line.strip("│ ") for line in lines).split())
    for part in message:
        assert part in flat, text
    return flat


def test_bad_data(tmp_path):
    csv = write_csv(tmp_path / "patients.csv", [row[:3] for row in synthetic_rows(5)])
    status, lines = pyflyte_run(tmp_path, "example:diabetes_xgboost_model", "--dataset", str(csv))
    assert_reads_on_one_screen(status, lines, f"{csv}: row 1 has 3 columns, expected {len(COLUMNS)}")


def test_bad_split_setting(tmp_path):
    status, lines = pyflyte_run(tmp_path, "example:diabetes_xgboost_model", "--test_split_ratio", "1.5")
    assert_reads_on_one_screen(status, lines, "test_split_ratio must be strictly between 0 and 1, got 1.5")


def assert_refused_while_read(status: int, lines: list[str], option: str, *message: str) -> str:
    """Refused while pyflyte reads the option, before any task runs: click's message alone, at most 15 lines."""
    flat = assert_reads_on_one_screen(status, lines, f"Invalid value for '{option}':", *message)
    assert len(lines) <= 15 and "Running Execution" not in flat, "\n".join(lines)
    return flat


SINGLE_NODE, DISTRIBUTED = "example:diabetes_xgboost_model", "distributed:diabetes_xgboost_model_distributed"


@pytest.mark.parametrize(
    "workflow, location",
    [(SINGLE_NODE, "missing"), (SINGLE_NODE, "folder"), (SINGLE_NODE, "unreadable file"),
     (DISTRIBUTED, "missing"), (DISTRIBUTED, "unreadable folder")],
)  # fmt: skip
def test_a_dataset_location_that_cannot_be_used(tmp_path, workflow, location):
    """flytekit itself would take a missing path or a folder given to the Optional dataset as text and fail
    converting it (TypeTransformerFailedError naming neither); an unreadable file would fail inside a task. Run as
    root, pyflyte runs without the capabilities that let root read a chmod 000 file. Each kind of location once:
    "missing" tells the two workflows' input types apart, the rest is the same check whichever workflow asks."""
    distributed = workflow == DISTRIBUTED
    path = tmp_path / ("data" if location.endswith("folder") else "data.csv")
    if location != "missing":
        path.mkdir() if location.endswith("folder") else write_csv(path, synthetic_rows(20))
        path.chmod(0)
    status, lines = pyflyte_run(tmp_path, workflow, "--dataset", str(path), unprivileged=True)
    if path.exists():
        path.chmod(0o700)  # for pytest to clean up
    expected = {
        "missing": f"no such file{' or folder' if distributed else ''}; check the path, or leave the option out to "
        "train on the data set bundled with the code",
        "folder": "is a folder; this workflow trains on one CSV file (the distributed workflow, "
        "diabetes_xgboost_model_distributed, trains on a folder of CSV shards)",
        "unreadable file": "cannot be read (Permission denied); make it readable or pass a copy",
        "unreadable folder": "cannot be read (Permission denied); make it readable or pass a copy",
    }[location]
    flat = assert_refused_while_read(status, lines, "--dataset", expected)
    assert str(path) in flat.replace(" ", ""), flat  # a long path wraps at the screen's edge


LONG = "x" * 100_000


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--seed", str(2**65), f"{2**65} is out of range: give a whole number from -2**63 to 2**63 - 1"),
        ("--hyperparameters", '{"max_depth": {"value": 3}}',
         "hyperparameters.max_depth must be a whole number, got {'value': 3} (dict)"),
        ("--hyperparameters", f'{{"objective": "{LONG}"}}',
         f"objective must be one of binary:logistic, got '{LONG[:39]}... (100002 characters)"),
    ],
    ids=["seed beyond int64", "wrong shape", "100 kB string"],
)  # fmt: skip
def test_a_setting_refused_while_read(tmp_path, option, value, message):
    """flytekit's own int, and the Hyperparameters check while the JSON is decoded and once it is made: every other
    bad setting is the same InvalidSettingsError on the same way out (its messages: tests/test_hardening.py)."""
    status, lines = pyflyte_run(tmp_path, "example:diabetes_xgboost_model", option, value)
    flat = assert_refused_while_read(status, lines, option, message)
    assert len(flat) < 2_000, flat  # a long value is cut, not echoed


def test_unresolvable_host(tmp_path):
    url = "https://no-such-host.invalid/pima.csv"  # .invalid never resolves (RFC 2606)
    status, lines = pyflyte_run(tmp_path, "example:diabetes_xgboost_model", "--dataset", url)
    assert_reads_on_one_screen(
        status, lines, f"could not read the dataset {url}", "the host no-such-host.invalid could not be found",
        "leaving out --dataset, or pass a local copy: --dataset path/to/pima-indians-diabetes.data.csv",
    )  # fmt: skip


def test_closed_port(tmp_path):
    port = closed_port()
    url = f"http://127.0.0.1:{port}/pima.csv"
    status, lines = pyflyte_run(tmp_path, "example:diabetes_xgboost_model", "--dataset", url)
    assert_reads_on_one_screen(
        status, lines, f"the host 127.0.0.1 refused the connection on port {port}",
        "--dataset path/to/pima-indians-diabetes.data.csv",
    )  # fmt: skip


def test_tampered_canonical_download(tmp_path, http_folder):
    """The canonical URL re-pointed (in the subprocess only) at a local copy with one value changed."""
    folder, url = http_folder
    (folder / "pima.csv").write_text(REAL_DATASET.read_text().replace("6,148,72", "6,149,72", 1))
    startup = tmp_path / "startup"
    startup.mkdir()
    repoint = f"import flyte.dataset\nflyte.dataset.CANONICAL_DATASET_URL = '{url}/pima.csv'\n"
    (startup / "sitecustomize.py").write_text(repoint)
    status, lines = pyflyte_run(
        tmp_path, "example:diabetes_xgboost_model", "--dataset", f"{url}/pima.csv", pythonpath=startup
    )
    assert_reads_on_one_screen(
        status, lines, "downloaded file has sha256", "expected 6bfe5d0f",
        "Pass a verified local copy with --dataset PATH.",
    )  # fmt: skip


def test_bad_model_file(tmp_path):
    model = tmp_path / "model.json"
    model.write_bytes(b"not a model")
    patients = write_csv(tmp_path / "patients.csv", [row[:-1] for row in synthetic_rows(3)])
    status, lines = pyflyte_run(
        tmp_path, "inference:diabetes_xgboost_batch_inference", "--model", str(model), "--patients", str(patients)
    )
    assert_reads_on_one_screen(status, lines, f"{model}: not a model file (not a JSON document")


def test_distributed_bad_shard(tmp_path):
    """A bad shard, found by a Dask worker of the local cluster: its file, line, column and value, on one screen."""
    shards = tmp_path / "shards"
    shards.mkdir()
    write_csv(shards / "part-00000.csv", synthetic_rows(20, seed=1))
    rows = synthetic_rows(20, seed=2)
    rows[6][5] = "heavy"
    bad = write_csv(shards / "part-00001.csv", rows)
    status, lines = pyflyte_run(
        tmp_path, "distributed:diabetes_xgboost_model_distributed", "--dataset", str(shards), "--workers", "1"
    )
    flat = assert_reads_on_one_screen(
        status, lines, "row 7, column 'bmi': value 'heavy' is not a number", "or 0 (not measured)"
    )
    assert str(bad) in flat.replace(" ", ""), flat  # the long path wraps at the screen's edge


def test_distributed_booster_dask_cannot_train(tmp_path):
    status, lines = pyflyte_run(
        tmp_path, "distributed:diabetes_xgboost_model_distributed", "--hyperparameters", '{"booster": "gblinear"}'
    )
    assert_reads_on_one_screen(status, lines, "booster 'gblinear' cannot be trained on Dask")


@pytest.mark.parametrize(
    "module, line, run",
    [
        ("workflows/example.py", "    use_releasing_memory_pool()", ["example.py", "diabetes_xgboost_model"]),
        # Raised on a Dask worker of a local cluster, whose logs this process quiets (flyte.distributed.dask_client);
        # one CSV, as pyflyte's file conversion then gives the root logger a handler.
        ("shards.py", "    with local_copy(uri, storage_options) as path:", [
            "distributed.py", "diabetes_xgboost_model_distributed", "--dataset",
            "flyte/data/pima-indians-diabetes.data.csv", "--workers", "2",
        ]),
    ],
)  # fmt: skip
def test_a_bug_keeps_its_traceback(tmp_path, module, line, run):
    """Only the user's errors lose the traceback: a failure of the code itself (here a division by zero in a copy of
    the split) still shows where it happened."""
    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "flyte", project / "flyte", ignore=shutil.ignore_patterns("__pycache__"))
    source = project / "flyte" / module
    assert source.read_text().count(line) == 1
    source.write_text(source.read_text().replace(line, "    1 / 0\n" + line))
    env = own_environment(tmp_path / "home", COLUMNS="80")
    workflow, *args = run
    command = [str(PYFLYTE), "run", f"flyte/workflows/{workflow}", *args]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "Traceback" in done.stdout + done.stderr and "ZeroDivisionError" in done.stdout + done.stderr


def test_distributed_one_class_csv(tmp_path):
    """One CSV (not a folder: pyflyte's file conversion gives the root logger a handler, which the local cluster's
    logs then reached) whose rows are all of one class: the split's message alone, not the logs of the workers
    that start and stop around it."""
    rows = synthetic_rows(40)
    for row in rows:
        row[-1] = 0
    csv = write_csv(tmp_path / "one-class.csv", rows)
    status, lines = pyflyte_run(
        tmp_path, "distributed:diabetes_xgboost_model_distributed", "--dataset", str(csv), "--workers", "2"
    )
    assert_reads_on_one_screen(
        status, lines, "the training split (", "holds only label [0]", "use more data, another seed or another ratio"
    )
    text = "\n".join(lines)
    assert len(lines) <= 15 and "INFO:" not in text and "WARNING:" not in text and "CommClosedError" not in text, text
