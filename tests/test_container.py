"""The real image, built by docker_build_and_tag.sh, running the packaged tasks exactly as Flyte would.

Each task runs as `docker run IMAGE <command and args of its serialized TaskSpec>`, its CPU and memory
capped at the task's limits, with local folders as the input, output and raw-data prefixes; the
inputs come from the serialized workflow's bindings, each task's outputs feeding the next.
Skipped, with the reason, only where `docker info` fails (a failure instead when REQUIRE_DOCKER=1, as in CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flyteidl.core.literals_pb2 import Binding, Blob, BlobMetadata, Literal, LiteralMap, Scalar
from flytekit.core.constants import GLOBAL_INPUT_NODE_ID

from tests.conftest import REPO_ROOT
from tests.registration import WORKFLOW, package, read_package
from tests.test_cli import pyflyte_run

BASE_IMAGE = os.environ.get("BASE_IMAGE", "local/python:3.11-bookworm")
APP, VERSION = "flyte-xgboost", "container-test"
IMAGE = f"{APP}:{VERSION}"
MOUNT = Path("/work")  # where the test's folder appears inside the task containers
BUILD_TIMEOUT = 1800


def docker(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def build(project: Path, version: str) -> subprocess.CompletedProcess:
    """Build through the project's own script, on the base image this machine has."""
    command = ["./docker_build_and_tag.sh", "-f", "-a", APP, "-v", version, "-b", BASE_IMAGE]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=BUILD_TIMEOUT)


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("docker") is None or docker("info", timeout=60).returncode != 0:
        reason = "Docker is not available here (`docker info` failed); .ci/docker_up.sh starts it"
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    if docker("image", "inspect", BASE_IMAGE).returncode != 0:
        pytest.fail(f"no base image {BASE_IMAGE}: run .ci/docker_up.sh, or set BASE_IMAGE to a Python 3.11 image")
    built = build(REPO_ROOT, VERSION)
    assert built.returncode == 0, built.stdout[-5000:] + built.stderr[-5000:]
    assert f"pyflyte --pkgs flyte.workflows package --image {IMAGE} --force" in built.stdout
    return IMAGE


def image_metadata(tag: str) -> dict:
    return json.loads(docker("image", "inspect", tag).stdout)[0]


def run_in(tag: str, script: str, *options: str) -> str:
    done = docker("run", "--rm", *options, tag, "sh", "-c", script)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_image_runs_as_a_non_root_user_and_knows_its_own_name(image):
    config = image_metadata(image)["Config"]
    assert f"FLYTE_INTERNAL_IMAGE={image}" in config["Env"]
    assert run_in(image, "id -u").strip() != "0"


def test_image_has_no_compilers_pip_caches_or_tests(image):
    found = run_in(
        image,
        "for tool in gcc cc g++ c++ make; do command -v $tool; done;"
        "ls -d /root/.cache/pip /home/*/.cache/pip /tests 2>/dev/null; find /app /opt/venv -name tests",
        "--user",
        "0",
    )
    assert found == ""
    assert run_in(image, "ls /app").split() == ["flyte"]


def pinned_requirements() -> dict[str, str]:
    lines = (REPO_ROOT / "requirements.txt").read_text().splitlines()
    pins = [re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line) for line in lines]
    return {pin.group(1).lower(): pin.group(2) for pin in pins if pin}


def test_image_installs_exactly_the_pins_and_no_gpu_libraries(image):
    listing = run_in(image, "pip list --format json 2>/dev/null")
    installed = {entry["name"].lower(): entry["version"] for entry in json.loads(listing)}
    pins = pinned_requirements()
    assert {name: installed.get(name) for name in pins} == pins
    assert "xgboost-cpu" in pins
    assert not [name for name in installed if name.startswith("nvidia") or name == "xgboost"]


def test_a_code_change_rebuilds_only_the_code_layer(image, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Dockerfile", ".dockerignore", "requirements.txt", "docker_build_and_tag.sh"):
        shutil.copy2(REPO_ROOT / name, project / name)
    shutil.copytree(REPO_ROOT / "flyte", project / "flyte", ignore=shutil.ignore_patterns("__pycache__"))
    with (project / "flyte" / "model.py").open("a") as source:
        source.write("\n# a code change\n")
    rebuilt = build(project, "code-change")
    assert rebuilt.returncode == 0, rebuilt.stdout[-5000:] + rebuilt.stderr[-5000:]

    before, after = (image_metadata(name)["RootFS"]["Layers"] for name in (image, f"{APP}:code-change"))
    assert len(before) == len(after)
    assert before[:-1] == after[:-1]  # base, user and virtualenv layers reused from the cache
    assert before[-1] != after[-1]  # the code layer
    docker("image", "rm", f"{APP}:code-change")


def docker_quantity(kubernetes_memory: str) -> str:
    """A Kubernetes memory quantity in Docker's units: "2Gi" -> "2g"."""
    number, unit = re.fullmatch(r"([0-9]+)([KMGT]i)?", kubernetes_memory).groups()
    return number + (unit[0].lower() if unit else "b")


def run_task(task, inputs: LiteralMap, work: Path, node_id: str) -> LiteralMap:
    """Run one serialized task in its own container as Flyte's propeller would, and read its outputs.pb."""
    folder = work / node_id
    folder.mkdir()
    folder.chmod(0o777)  # the image's user is not root
    (folder / "inputs.pb").write_bytes(inputs.SerializeToString())
    inside = MOUNT / node_id
    templates = {
        "{{.input}}": f"{inside}/inputs.pb",
        "{{.outputPrefix}}": f"{inside}/outputs",
        "{{.rawOutputDataPrefix}}": f"{inside}/raw",
        "{{.checkpointOutputPrefix}}": f"{inside}/checkpoint",
        "{{.prevCheckpointPrefix}}": "",
    }
    container = task.container
    limits = {entry.name: entry.value for entry in container.resources.limits}
    environment = [f"--env={pair.key}={pair.value}" for pair in container.env]
    command = [templates.get(arg, arg) for arg in [*container.command, *container.args]]
    done = docker(
        "run", "--rm", f"--volume={work}:{MOUNT}", *environment,
        f"--cpus={limits[container.resources.CPU]}", f"--memory={docker_quantity(limits[container.resources.MEMORY])}",
        container.image, *command,
    )  # fmt: skip
    outputs = folder / "outputs" / "outputs.pb"
    logs = f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    assert done.returncode == 0 and outputs.is_file(), f"{task.id.name} failed:\n{logs}"
    return LiteralMap.FromString(outputs.read_bytes())


def resolve(binding: Binding, outputs_by_node: dict[str, dict[str, Literal]]) -> Literal:
    assert binding.binding.WhichOneof("value") == "promise", binding
    promise = binding.binding.promise
    return outputs_by_node[promise.node_id][promise.var]


def test_packaged_tasks_run_in_the_image_as_flyte_runs_them(image, tmp_path, real_dataset):
    registered = read_package(package(image, tmp_path))
    workflow = registered.workflows[WORKFLOW].template
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o777)
    shutil.copy(real_dataset, work / "pima.csv")

    # The default launch plan's inputs, as a cluster would launch them, but the CSV from a local folder.
    defaults = registered.launch_plans[WORKFLOW].spec.default_inputs.parameters
    inputs = {name: parameter.default for name, parameter in defaults.items()}
    dataset_type = BlobMetadata(type=workflow.interface.inputs.variables["dataset"].type.blob)
    inputs["dataset"] = Literal(scalar=Scalar(blob=Blob(uri=str(MOUNT / "pima.csv"), metadata=dataset_type)))
    outputs_by_node: dict[str, dict[str, Literal]] = {GLOBAL_INPUT_NODE_ID: inputs}

    pending = list(workflow.nodes)
    while pending:
        ready = [node for node in pending if all(b.binding.promise.node_id in outputs_by_node for b in node.inputs)]
        assert ready, f"nodes waiting on each other: {[node.id for node in pending]}"
        for node in ready:
            task = registered.tasks[node.task_node.reference_id.name].template
            node_inputs = LiteralMap(literals={b.var: resolve(b, outputs_by_node) for b in node.inputs})
            outputs_by_node[node.id] = dict(run_task(task, node_inputs, work, node.id).literals)
            pending.remove(node)

    results = {b.var: resolve(b, outputs_by_node) for b in workflow.outputs}
    container_accuracy = results["accuracy"].scalar.primitive.float_value
    model_file = Path(results["model"].scalar.blob.uri)
    assert (work / model_file.relative_to(MOUNT)).is_file()

    home = tmp_path / "home"
    home.mkdir()
    local = pyflyte_run(home, "--dataset", str(real_dataset))
    assert local.returncode == 0, local.output
    assert container_accuracy == local.accuracy
