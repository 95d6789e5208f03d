"""The README's quick start, as a new user runs it: its commands exactly as printed, in a fresh copy of the
repository with nothing beside it and no network; then docs/batch-inference.md's commands the same way.

What this runs and what it does not:
- The run command of the quick start block runs verbatim (bash, in the copy's root), with a HOME and TMPDIR of
  its own and every Python process cut off the network (tests/offline.py). It must print a trained model and its
  evaluation report, both files that exist: the model loads, was trained on the copy's bundled data set (its
  recorded SHA-256) and scores what the plain libraries score on it; the report is the evaluation page.
- docs/batch-inference.md's commands then run as printed in the same clone, on the model that run trained (one
  run of the quick start for both tests): the champion of the user's own registry in that HOME, by default; a
  pickle planted in TMPDIR, where old versions found the default model, is never loaded.
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
from dataclasses import dataclass
from pathlib import Path

import pytest

from flyte.model_file import load_model
from flyte.schema import FEATURES
from tests.conftest import REPO_ROOT
from tests.lock import installed_versions, locked_versions
from tests.offline import without_network
from tests.reference import plain_accuracy
from tests.test_champion_default import planted_pickle

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
    instructions = dockerfile.replace("\\\n", " ")  # one line per instruction
    assert re.search(r"^COPY requirements\.txt .*/tmp/", instructions, re.MULTILINE)
    assert re.search(r"uv pip install [^\n]*--require-hashes [^\n]*-r /tmp/requirements\.txt", instructions)
    ci = (REPO_ROOT / ".ci/run").read_text()
    assert re.search(r"pip install [^\n]*--require-hashes -r requirements-dev\.txt", ci)
    runtime = locked_versions(REPO_ROOT / "requirements.txt")
    development = locked_versions(REPO_ROOT / "requirements-dev.txt")
    assert {name: development.get(name) for name in runtime} == runtime
    installer = locked_versions(REPO_ROOT / "requirements-build.txt")  # the image's uv: the one that locks
    assert {name: development.get(name) for name in installer} == installer == {"uv": installer["uv"]}


def test_this_venv_holds_exactly_the_locked_versions():
    """What lets the quick start test below reuse this venv for the copy's `.venv`."""
    runtime = locked_versions(REPO_ROOT / "requirements.txt")
    installed = installed_versions()
    assert {name: installed.get(name) for name in runtime} == runtime


@dataclass(frozen=True)
class QuickStart:
    """A fresh clone (committed, so that git lists what a run leaves) after the quick start's run command."""

    clone: Path
    env: dict[str, str]  # a HOME and TMPDIR of its own (flytekit's run folders: this clone's alone), no network
    output: str  # what the run printed
    planted: Path  # the file a pickle planted in TMPDIR, where old versions found the default model, writes if loaded

    @property
    def model(self) -> Path:
        """The model file the run printed."""
        return Path(re.search(r"\bmodel=([^,\s)]+)", self.output).group(1))

    def run(self, command: str) -> subprocess.CompletedProcess:
        """A command in the clone's root, as the docs print it."""
        return subprocess.run(
            ["bash", "-c", command], cwd=self.clone, env=self.env, capture_output=True, text=True, timeout=600
        )


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory) -> QuickStart:
    """One run of the quick start for this module's tests: it trains the model the docs' next commands use."""
    folder = tmp_path_factory.mktemp("quick-start")
    clone = fresh_copy(folder / "clone")
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    for git in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "-m", "clone"]):
        subprocess.run(["git", *identity, *git], cwd=clone, check=True, capture_output=True)
    (clone / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)  # stands in for the install
    (folder / "home").mkdir()
    (folder / "tmp").mkdir()
    planted = planted_pickle(folder / "tmp")
    env = {
        "HOME": str(folder / "home"),
        "TMPDIR": str(folder / "tmp"),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        **without_network(folder / "offline"),
    }
    _, command = quick_start_commands()
    done = QuickStart(clone, env, "", planted).run(command)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return QuickStart(clone, env, output, planted)


@pytest.mark.slow
def test_the_quick_start_trains_a_model_and_writes_its_report_offline_in_a_fresh_copy(quick_start):
    clone, output, model = quick_start.clone, quick_start.output, quick_start.model
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


def fenced_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(language, lines) of every fenced code block, in order."""
    return [(language, body.splitlines()) for language, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)]


def console_session(lines: list[str]) -> list[tuple[str, list[str]]]:
    """A console block's commands (`$ ` lines, with their `\\` continuations) and the output printed under each."""
    session: list[tuple[str, list[str]]] = []
    continued = False
    for line in lines:
        if line.startswith("$ ") or continued:
            command = line.removeprefix("$ ")
            if continued:
                session[-1] = (session[-1][0] + "\n" + command, [])
            else:
                session.append((command, []))
            continued = line.endswith("\\")
        elif line.strip():
            session[-1][1].append(line)
    return session


@pytest.mark.slow
def test_the_batch_inference_page_runs_as_printed_after_the_quick_start_and_leaves_the_clone_clean(quick_start):
    """docs/batch-inference.md in a fresh clone, after the quick start's run: its commands verbatim, their outputs as
    printed (the CSV of predictions and every console line but the champion's, whose digest and times change), and
    no file left that git would list."""
    clone, run = quick_start.clone, quick_start.run
    blocks = fenced_blocks((clone / "docs" / "batch-inference.md").read_text())
    (_, workflow), (_, printed_csv), (_, console) = blocks
    done = run("\n".join(workflow))
    assert done.returncode == 0 and "predictions_csv=" in done.stdout, done.stdout + done.stderr
    model_line = re.compile(
        r"model: the champion \(#1\) of the model registry: SHA-256 [0-9a-f.]+, trained \S+, promoted \S+ by local; "
        r"on its test rows roc_auc [0-9.]+, accuracy [0-9.]+"
    )
    for command, printed in console_session(console):
        done = run(command)
        # The model's line (on stderr; the page shows it once) names the champion's digest and times: its form only.
        models = [line for line in printed + done.stderr.splitlines() if line.startswith("model: ")]
        assert all(model_line.fullmatch(line) for line in models), models
        shown = [line for line in (done.stdout + done.stderr).splitlines() if not line.startswith("model: ")]
        assert shown == [line for line in printed if not line.startswith("model: ")], command
    assert (clone / "generated" / "predictions.csv").read_text().splitlines() == printed_csv
    # The champion they used: the quick start's model, in the user's own registry; the planted pickle never loaded.
    which = run(".venv/bin/python -m flyte.cli --which-model")
    assert which.returncode == 0, which.stderr
    champion = Path(which.stdout.strip())
    assert champion.read_bytes() == quick_start.model.read_bytes()
    home = Path(quick_start.env["HOME"])
    assert champion.parent == home / ".local" / "share" / "diabetes-xgboost" / "model-registry" / "models"
    assert not quick_start.planted.exists()
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone, capture_output=True, text=True
    ).stdout.splitlines()
    assert status == []  # .gitignore's .venv covers the stand-in link as well as the folder the install makes
