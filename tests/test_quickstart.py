"""The README's quick start, as a new user runs it: its commands exactly as printed, in a fresh copy of the
repository with nothing beside it and no network.

What this runs and what it does not:
- The run command of the quick start block runs verbatim (bash, in the copy's root), with a HOME and TMPDIR of
  its own and every Python process cut off the network (tests/offline.py). It must print a trained model and its
  evaluation report, both files that exist: the model loads, was trained on the copy's bundled data set (its
  recorded SHA-256) and scores what the plain libraries score on it; the report is the evaluation page.
- The install command is not run: it needs a package index and minutes. The copy's `.venv` links to the venv
  running this test instead, and the test checks that this venv stands in for the install: the command makes
  `.venv` and installs `requirements.txt` in hash-checking mode, the lock and the mode of the Dockerfile (and of
  `.ci/run`, whose requirements-dev.txt locks the same versions), and this venv holds exactly those versions.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flyte.model_file import load_model
from flyte.schema import FEATURES
from tests.conftest import REPO_ROOT
from tests.lock import installed_versions, locked_versions
from tests.offline import without_network
from tests.reference import plain_accuracy

README = REPO_ROOT / "README.md"
# The README marks its quick start with this comment on the line before the fenced block.
MARKER = "<!-- quick-start"
BUNDLED_DATASET = Path("flyte/data/pima-indians-diabetes.data.csv")


def quick_start_commands() -> list[str]:
    """The lines of the first fenced block after the marker, exactly as the README prints them."""
    text = README.read_text()
    assert MARKER in text, f"README.md has no {MARKER} ... --> line before its quick start block"
    block = re.search(r"```\w*\n(.*?)```", text[text.index(MARKER) :], re.S)
    return [line for line in block.group(1).splitlines() if line.strip()]


def fresh_copy(destination: Path) -> Path:
    """The repository's tracked files, as a clone has them: no venv, no caches, nothing beside it."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        source = REPO_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def test_the_quick_start_is_an_install_then_a_run():
    install, *runs = quick_start_commands()
    assert len(runs) == 1, runs
    make_venv, pip_install = (shlex.split(part) for part in install.split("&&"))
    assert make_venv == ["python3", "-m", "venv", ".venv"]
    assert pip_install[:2] == [".venv/bin/pip", "install"] and "--require-hashes" in pip_install
    assert pip_install[pip_install.index("-r") + 1] == "requirements.txt"
    assert runs[0].startswith(".venv/bin/pyflyte run ")


def test_the_install_installs_the_lock_the_image_and_ci_install():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "COPY requirements.txt /tmp/requirements.txt" in dockerfile
    assert re.search(r"pip install [^\n]*--require-hashes -r /tmp/requirements\.txt", dockerfile)
    ci = (REPO_ROOT / ".ci/run").read_text()
    assert re.search(r"pip install [^\n]*--require-hashes -r requirements-dev\.txt", ci)
    runtime = locked_versions(REPO_ROOT / "requirements.txt")
    development = locked_versions(REPO_ROOT / "requirements-dev.txt")
    assert {name: development.get(name) for name in runtime} == runtime


def test_this_venv_holds_exactly_the_locked_versions():
    """What lets the quick start test below reuse this venv for the copy's `.venv`."""
    runtime = locked_versions(REPO_ROOT / "requirements.txt")
    installed = installed_versions()
    assert {name: installed.get(name) for name in runtime} == runtime


@pytest.mark.slow
def test_the_quick_start_trains_a_model_and_writes_its_report_offline_in_a_fresh_copy(tmp_path):
    clone = fresh_copy(tmp_path / "clone")
    assert not (tmp_path / "shared").exists()
    (clone / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)  # stands in for the install
    (tmp_path / "home").mkdir()
    (tmp_path / "tmp").mkdir()
    env = {
        "HOME": str(tmp_path / "home"),
        "TMPDIR": str(tmp_path / "tmp"),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        **without_network(tmp_path / "offline"),
    }
    _, run = quick_start_commands()
    done = subprocess.run(["bash", "-c", run], cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output

    model = Path(re.search(r"\bmodel=([^,\s)]+)", output).group(1))
    dataset = clone / BUNDLED_DATASET
    saved = load_model(model)
    assert saved.features == FEATURES
    assert saved.training_data_sha256 == hashlib.sha256(dataset.read_bytes()).hexdigest()
    accuracy = float(re.search(r"\baccuracy=([0-9.]+)", output).group(1))
    assert accuracy == pytest.approx(plain_accuracy(dataset), abs=1e-12)

    report = re.search(r"\breport=([^,\s)]+)", output)
    assert report, f"no report among the printed outputs: {output}"
    page = Path(report.group(1)).read_text()
    for section in ("metrics", "confusion-matrix", "roc-curve", "precision-recall-curve", "feature-importances"):
        assert f'id="{section}"' in page, section
    assert page.count("data:image/svg+xml;base64,") == 4
