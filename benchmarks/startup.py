"""Start-up of each task in the image, as a pod runs it: the seconds from the process's start to the task body.

Used by benchmarks/run.py. For each image (this work tree's, and a baseline commit's when given) it packages that
code with `pyflyte --pkgs flyte.workflows package --image TAG`, then runs tasks one by one, each as
`docker run TAG <its serialized command>` with its CPU and memory limits, its inputs written as a literal map file
(tests/pods.py, as the container and import tests do): the training workflow's four tasks, and the tuning
workflow's split, expand_grid, one group of grid points (cross_validate_grid_group, a map task element run by
pyflyte-map-execute) and choose_hyperparameters. A probe mounted into the container (tests/pod_probe, on
PYTHONPATH; never part of the image) records when the task body starts. After one run of the tasks per image
(each task's outputs feeding the next), every pod runs again in each round, the two images' runs of the same task
back to back.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from flyteidl.core.literals_pb2 import Literal
from flytekit import FlyteContextManager
from flytekit.core.type_engine import TypeEngine

from flyte.hyperparameters import HyperparameterGrid
from tests.pods import Pod, docker_launch, run_workflow
from tests.registration import Package, file_input, package, read_package

REPO = Path(__file__).resolve().parent.parent
MOUNT = Path("/work")  # where a round's folder appears inside the containers
APP = "flyte-xgboost"
TRAINING = "flyte.workflows.example.diabetes_xgboost_model"
TUNING = "flyte.workflows.tuning.diabetes_xgboost_tuning"
# In pod order; the split task runs in both workflows, so it has twice the samples.
TASKS = (
    "split_traintest_dataset", "fit", "predict", "score",
    "expand_grid", "cross_validate_grid_group", "choose_hyperparameters",
)  # fmt: skip
# Issue #12: these tasks' start-up drops by at least a third.
TARGET_TASKS = ("split_traintest_dataset", "predict", "cross_validate_grid_group")


@dataclass
class Image:
    label: str  # "before" or "after", as the table shows it
    tag: str
    code: Path  # the source tree the image was built from (packaged with the same tag)
    registered: Package | None = None  # its code packaged with its tag
    to_body: dict[str, list[float]] = field(default_factory=dict)  # task -> seconds from process start to its body
    cpu_to_body: dict[str, list[float]] = field(default_factory=dict)  # task -> CPU seconds by then
    pod: dict[str, list[float]] = field(default_factory=dict)  # task -> seconds of the whole `docker run`
    load: list[float] = field(default_factory=list)  # 1-minute load average after each round


def docker_available() -> str | None:
    """None if Docker answers, else why the start-up section is left out."""
    if shutil.which("docker") is None:
        return "no docker command"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
        return "Docker is not running (`docker info` failed)"
    return None


def build(code: Path, version: str, base_image: str) -> str:
    """Build `code`'s image with the project's own script; returns its tag."""
    command = ["./docker_build_and_tag.sh", "-f", "-a", APP, "-v", version, "-b", base_image]
    done = subprocess.run(command, cwd=code, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"image build failed in {code}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return f"{APP}:{version}"


def baseline_tree(reference: str, workdir: Path) -> tuple[Path, str]:
    """The files of commit `reference` (git archive) in a folder under workdir, and the commit's short id."""
    commit = subprocess.run(["git", "rev-parse", "--short", reference], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.strip()
    tree = workdir / f"baseline-{commit}"
    if not tree.is_dir():
        archive = workdir / f"baseline-{commit}.tar"
        subprocess.run(["git", "archive", "-o", str(archive), commit], cwd=REPO, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(tree, filter="data")
        archive.unlink()
    return tree, commit


def images(baseline: str | None, workdir: Path, base_image: str) -> list[Image]:
    """The baseline commit's image ("before", if asked for; kept, tagged by commit, for the next run) and this work
    tree's ("after")."""
    found = []
    if baseline:
        tree, commit = baseline_tree(baseline, workdir)
        found.append(Image("before", build(tree, f"startup-{commit}", base_image), tree))
    # A tag of this run's own (removed afterwards), so that runs in other checkouts on the same engine never swap it.
    found.append(Image("after", build(REPO, f"startup-worktree-{os.getpid()}", base_image), REPO))
    return found


def walk(image: Image, csv: Path, folder: Path) -> list[Pod]:
    """Run the tasks once in `image`, each task's outputs feeding the next: the pods (folders with their inputs)
    that the measured rounds run again."""
    folder.mkdir(parents=True)
    folder.chmod(0o777)  # the image's user is not root
    shutil.copy(csv, folder / "data.csv")
    registered = image.registered
    launch = docker_launch(folder, MOUNT, probe=True)

    def inputs(workflow: str, **values) -> dict[str, Literal]:
        parameters = registered.launch_plans[workflow].spec.default_inputs.parameters
        defaults = {name: parameter.default for name, parameter in parameters.items() if parameter.HasField("default")}
        variable = registered.workflows[workflow].template.interface.inputs.variables["dataset"]
        return {**defaults, "dataset": file_input(variable, str(MOUNT / "data.csv")), **values}

    one_point = HyperparameterGrid(max_depth=[4], learning_rate=[0.1], n_estimators=[100])  # the defaults
    context = FlyteContextManager.current_context()
    grid = TypeEngine.to_literal(context, one_point, HyperparameterGrid, TypeEngine.to_literal_type(HyperparameterGrid))
    return [
        *run_workflow(registered, TRAINING, inputs(TRAINING), folder, launch).pods,
        *run_workflow(registered, TUNING, inputs(TUNING, grid=grid.to_flyte_idl()), folder, launch,
                      skip=("fit", "predict", "score")).pods,
    ]  # fmt: skip


def measure(csv: Path, baseline: str | None, repeats: int, workdir: Path, base_image: str) -> list[Image]:
    """Build the images, package each one's code, run the tasks once in each, then run every pod again `repeats`
    times, the images' runs of a task back to back (which goes first alternates), so that the other load on the
    machine hits before and after alike."""
    os.environ["HOME"] = tempfile.mkdtemp(prefix="home-", dir=workdir)  # pyflyte package: never the user's ~/.flyte
    built = images(baseline, workdir, base_image)
    try:
        scratch = Path(tempfile.mkdtemp(prefix="startup-", dir=workdir))
        pods = {}
        for image in built:
            out = Path(tempfile.mkdtemp(prefix="package-", dir=workdir))
            image.registered = read_package(package(image.tag, out, project=image.code))
            shutil.rmtree(out)
            pods[image.label] = walk(image, csv, scratch / image.label)
        for round_ in range(repeats):
            for pods_of_a_task in zip(*(pods[image.label] for image in built), strict=True):
                assert len({pod.task for pod in pods_of_a_task}) == 1, [pod.name for pod in pods_of_a_task]
                ordered = list(zip(built, pods_of_a_task, strict=True))
                for image, pod in ordered if round_ % 2 == 0 else reversed(ordered):
                    start = time.perf_counter()
                    docker_launch(scratch / image.label, MOUNT, probe=True)(pod)
                    image.pod.setdefault(pod.task, []).append(time.perf_counter() - start)
                    probe = pod.probe()
                    image.to_body.setdefault(pod.task, []).append(probe["seconds_to_task_body"])
                    image.cpu_to_body.setdefault(pod.task, []).append(probe["cpu_seconds_to_task_body"])
            for image in built:
                image.load.append(os.getloadavg()[0])
                summary = ", ".join(f"{task} {image.to_body[task][-1]:.2f} s" for task in TASKS)
                print(f"  start-up round {round_ + 1}/{repeats} {image.label}: {summary}", file=sys.stderr, flush=True)
        shutil.rmtree(scratch, ignore_errors=True)
    finally:  # the work tree's image only (the baseline's is kept for the next run); --no-prune: its layers
        # stay cached, and another build on the same engine may be building on them
        subprocess.run(["docker", "image", "rm", "--no-prune", built[-1].tag], capture_output=True)
    return built


def table(built: list[Image], repeats: int) -> tuple[str, list[tuple[str, bool]]]:
    """The Markdown table of medians per task and image, and the start-up targets (with a baseline only)."""
    by_label = {image.label: image for image in built}
    shown = [by_label[label] for label in ("before", "after") if label in by_label]
    measures = (("start-up", "to_body"), ("CPU to body", "cpu_to_body"), ("pod", "pod"))
    columns = [f"{measure} {image.label}" for measure, _ in measures for image in shown]
    lines = [
        f"#### Start-up in the image ({repeats} round{'s' if repeats > 1 else ''}, medians)",
        "",
        "Start-up: wall seconds from the process's start to the task body (the task module loaded, the inputs read);"
        " CPU to body: the CPU seconds the process used by then; pod: the whole `docker run` of the task's serialized"
        " command, container creation and the task's own work included. "
        + (f"Before: {by_label['before'].tag}; after: this work tree." if "before" in by_label else ""),
        "",
        "| task | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    targets = []
    for task in TASKS:
        medians = {(image.label, attribute): statistics.median(getattr(image, attribute)[task])
                   for image in shown for _, attribute in measures}  # fmt: skip
        cells = [f"{medians[image.label, attribute]:.2f} s" for _, attribute in measures for image in shown]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
        if "before" in by_label and task in TARGET_TASKS:
            was, now = medians["before", "to_body"], medians["after", "to_body"]
            text = f"{task} start-up drops by a third or more ({was:.2f} -> {now:.2f} s, {now / was - 1:+.0%})"
            targets.append((text, now <= was * 2 / 3))
    loads = [load for image in built for load in image.load]
    lines += ["", f"1-minute load average after the start-up rounds: median {statistics.median(loads):.1f}, "
              f"max {max(loads):.1f} ({os.cpu_count()} CPUs)."]
    if targets:
        lines += [""] + [f"- {'met' if ok else '**not met**'}: {text}" for text, ok in targets]
    return "\n".join(lines), targets
