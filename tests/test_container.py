"""The real image, built by docker_build_and_tag.sh, running the packaged workflows exactly as Flyte would:
training, tuning (its map task through `pyflyte-map-execute`) and batch inference.

Each task runs as `docker run IMAGE <command and args of its serialized TaskSpec>`, its CPU and memory
capped at the task's limits, with local folders as the input, output and raw-data prefixes (the training run: an
object store's, as on the sandbox); the inputs come from the serialized workflow's bindings, each task's outputs
feeding the next. The results are checked against the bare libraries (tests/reference.py, scikit-learn's
cross-validation).
Skipped, with the reason and the fix, where `docker info` fails or the base image is missing (a failure instead when
REQUIRE_DOCKER=1, as in CI).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flyteidl.core.literals_pb2 import Literal
from sklearn.model_selection import train_test_split

from flyte.hyperparameters import HyperparameterGrid, Hyperparameters
from flyte.model_file import load_model
from flyte.schema import FEATURES, LABEL
from flyte.tuning import CrossValidationScore
from tests import pods
from tests.conftest import REAL_DATASET, REPO_ROOT
from tests.lock import canonical, locked_versions
from tests.reference import plain_accuracy, plain_model, plain_split
from tests.registration import WORKFLOW, Package, file_input, package, read_package
from tests.test_deploy_scripts import BUILD_INPUTS
from tests.test_imports import assert_pods_load_only_what_their_tasks_use
from tests.test_tuning import sklearn_mean_roc_auc

BASE_IMAGE = os.environ.get("BASE_IMAGE", "local/python:3.11-bookworm")
# A tag of this test session's own, so that test runs in other checkouts on the same engine never swap images.
APP, VERSION = "flyte-xgboost", f"container-test-{os.getpid()}"
IMAGE = f"{APP}:{VERSION}"
MOUNT = Path("/work")  # where the test's folder appears inside the task containers
BUILD_TIMEOUT = 1800

# Every test here builds or runs the image: Docker, and subprocesses.
pytestmark = [pytest.mark.docker, pytest.mark.slow]


def docker(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def build(project: Path, version: str) -> subprocess.CompletedProcess:
    """Build through the project's own script, on the base image this machine has."""
    command = ["./docker_build_and_tag.sh", "-f", "-a", APP, "-v", version, "-b", BASE_IMAGE]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=BUILD_TIMEOUT)


def why_the_image_cannot_be_built() -> str | None:
    """What this machine lacks to build the image, and the fix; None when nothing."""
    if shutil.which("docker") is None or docker("info", timeout=60).returncode != 0:
        lacking = "Docker is not available here (`docker info` failed)"
    elif docker("image", "inspect", BASE_IMAGE).returncode != 0:
        lacking = f"no base image {BASE_IMAGE} (or set BASE_IMAGE to a Python 3.11 image)"
    else:
        return None
    return f"{lacking}: `bash .ci/docker_up.sh` installs and starts Docker and builds the base image"


CANNOT_BUILD = why_the_image_cannot_be_built()
if CANNOT_BUILD and os.environ.get("REQUIRE_DOCKER") != "1":
    # At collection, so that -ra says it in one line for all the image's tests, test_container_dask.py's included
    # (it imports this module); with REQUIRE_DOCKER=1 (as in CI) the image fixture fails them instead.
    pytest.skip(CANNOT_BUILD, allow_module_level=True)


def remove_image(tag: str) -> None:
    """Remove the tag only: `--no-prune` keeps its untagged parent layers, which another build on the same engine
    (a concurrent test run, a benchmark) may be building on, and the next build reuses."""
    docker("image", "rm", "--no-prune", tag)


@contextmanager
def built_image(project: Path, version: str) -> Iterator[str]:
    """The project's image, built with the project's own script under a tag of this session's own, removed at the
    end whatever happens."""
    try:
        built = build(project, version)
        assert built.returncode == 0, built.stdout[-5000:] + built.stderr[-5000:]
        yield f"{APP}:{version}"
    finally:
        remove_image(f"{APP}:{version}")


@pytest.fixture(scope="session")
def image() -> Iterator[str]:
    """Built once for the session, for test_container_dask.py's tests too."""
    if CANNOT_BUILD:
        pytest.fail(CANNOT_BUILD)
    with built_image(REPO_ROOT, VERSION) as tag:
        yield tag


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


def test_image_installs_exactly_the_pins_and_no_gpu_libraries(image):
    listing = run_in(image, "pip list --format json 2>/dev/null")
    installed = {canonical(entry["name"]): entry["version"] for entry in json.loads(listing)}
    pins = locked_versions(REPO_ROOT / "requirements.txt")
    # Exactly the lock: every pin at its version, and nothing else but the venv's own installer.
    assert {name: version for name, version in installed.items() if name not in {"pip", "setuptools"}} == pins
    assert "xgboost-cpu" in pins
    assert not [name for name in installed if name.startswith("nvidia") or name == "xgboost"]


def test_a_code_change_rebuilds_only_the_code_layer(image, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in (*BUILD_INPUTS, "docker_build_and_tag.sh"):
        shutil.copy2(REPO_ROOT / name, project / name)
    shutil.copytree(REPO_ROOT / "flyte", project / "flyte", ignore=shutil.ignore_patterns("__pycache__"))
    with (project / "flyte" / "model.py").open("a") as source:
        source.write("\n# a code change\n")
    with built_image(project, f"{VERSION}-code-change") as rebuilt:
        before, after = (image_metadata(name)["RootFS"]["Layers"] for name in (image, rebuilt))
    assert len(before) == len(after)
    assert before[:-1] == after[:-1]  # base, user and virtualenv layers reused from the cache
    assert before[-1] != after[-1]  # the code layer


# What a task's process runs on: it loads its workflow module (which sizes pyarrow's pools), then reports the CPUs
# flyte.cpus allows it, pyarrow's pools, the cores it sees, and the threads XGBoost trains on when no n_jobs is given
# (counted: OpenMP starts a training's extra threads on its first parallel loop and keeps them).
THREADS_REPORT = """
import json, os
import flyte.workflows.example
import numpy, pyarrow, xgboost
from flyte.cpus import usable_cpus

threads = lambda: len(os.listdir("/proc/self/task"))
before = threads()
rows = numpy.random.default_rng(0).normal(size=(20000, 8))
xgboost.XGBClassifier(n_estimators=5).fit(rows, rows[:, 0] > 0)
print(json.dumps({"usable_cpus": usable_cpus(), "arrow_cpu_threads": pyarrow.cpu_count(),
                  "arrow_io_threads": pyarrow.io_thread_count(), "xgboost_threads": threads() - before + 1,
                  "cores_seen": os.cpu_count()}))
"""


@pytest.mark.parametrize("cpus", [1, 2])
def test_a_task_sizes_its_threads_to_the_containers_cpu_limit(image, cpus):
    """Under `docker run --cpus=N` (a pod's CPU limit: a CFS quota, every core still visible) each pool has N
    threads; XGBoost reads the quota itself."""
    if cpus > os.cpu_count():
        pytest.skip(f"--cpus={cpus} needs {cpus} CPUs; this machine has {os.cpu_count()}")
    report = json.loads(run_in(image, f"python -c '{THREADS_REPORT}'", f"--cpus={cpus}").splitlines()[-1])
    assert report == {"usable_cpus": cpus, "arrow_cpu_threads": cpus, "arrow_io_threads": cpus,
                      "xgboost_threads": cpus, "cores_seen": os.cpu_count()}


def run_workflow(
    registered: Package, name: str, inputs: dict[str, Literal], work: Path, skip: tuple[str, ...] = ()
) -> pods.WorkflowRun:
    """The workflow run node by node as Flyte's propeller would, each task in its own container (tests/pods.py): its
    command and args from the package, CPU and memory capped at its limits, the probe reporting what it loaded; the
    tasks in `skip`, and those after them, left out."""
    return pods.run_workflow(registered, name, inputs, work, pods.docker_launch(work, MOUNT, probe=True), skip)


def launch_inputs(registered: Package, workflow: str, **files: str) -> dict[str, Literal]:
    """The default launch plan's inputs, as a cluster would launch them, with the named file inputs replaced by
    files of the work folder (paths as the containers see them)."""
    defaults = registered.launch_plans[workflow].spec.default_inputs.parameters
    inputs = {name: parameter.default for name, parameter in defaults.items() if parameter.HasField("default")}
    variables = registered.workflows[workflow].template.interface.inputs.variables
    for name, relative_path in files.items():
        inputs[name] = file_input(variables[name], str(MOUNT / relative_path))
    return inputs


def python_value(literal: Literal, python_type: type):
    """A workflow output read back into Python by flytekit's type engine."""
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine
    from flytekit.models.literals import Literal as LiteralModel

    context = FlyteContextManager.current_context()
    return TypeEngine.to_python_value(context, LiteralModel.from_flyte_idl(literal), python_type)


def literal_of(value, python_type: type) -> Literal:
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine

    context = FlyteContextManager.current_context()
    literal_type = TypeEngine.to_literal_type(python_type)
    return TypeEngine.to_literal(context, value, python_type, literal_type).to_flyte_idl()


def on_host(work: Path, literal: Literal) -> Path:
    """The host path of a file output written under the work folder's mount."""
    return work / Path(literal.scalar.blob.uri).relative_to(MOUNT)


@pytest.fixture(scope="session")
def registered(image, tmp_path_factory) -> Package:
    """The workflows packaged with the session's image, for test_container_dask.py's tests too."""
    return read_package(package(image, tmp_path_factory.mktemp("package")))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """The folder every task container sees at MOUNT."""
    work = tmp_path_factory.mktemp("work")
    work.chmod(0o777)  # the image's user is not root
    return work


@pytest.fixture(scope="module")
def trained_in_image(registered, work, object_store) -> pods.WorkflowRun:
    """diabetes_xgboost_model run in the image as on the sandbox: the dataset, every pod's inputs, outputs and raw
    data in the object store (MinIO there), which the pods reach with the endpoint and keys flytekit reads from
    FLYTE_AWS_*; the default launch plan's other inputs. Its model registry is one of its own in the store (the
    bucket's, where a run would keep it, holds the champions of the session's other runs: the pods would compare)."""
    from flyte.registry import REGISTRY_ENVIRONMENT_VARIABLE

    dataset = object_store.url(f"test-container/{work.name}/pima.csv")
    object_store.filesystem().put(str(REAL_DATASET), dataset)
    inputs = launch_inputs(registered, WORKFLOW)
    variables = registered.workflows[WORKFLOW].template.interface.inputs.variables
    inputs["dataset"] = file_input(variables["dataset"], dataset)
    registry = f"--env={REGISTRY_ENVIRONMENT_VARIABLE}={object_store.url(f'test-container/{work.name}/model-registry')}"
    launch = pods.docker_launch(work, MOUNT, probe=True, options=[registry], store=object_store)
    return pods.run_workflow(registered, WORKFLOW, inputs, work, launch)


TUNING = "flyte.workflows.tuning.diabetes_xgboost_tuning"
TUNING_GRID = HyperparameterGrid(max_depth=[1, 3], learning_rate=[0.3], n_estimators=[20])


@pytest.fixture(scope="module")
def tuned_in_image(registered, work) -> pods.WorkflowRun:
    """diabetes_xgboost_tuning on a grid of two points, three folds (its map task runs two elements), with local
    folders as the prefixes and no dataset: the split task reads the copy of the bundled CSV the image carries. It
    stops after the fit on the chosen settings: the evaluation's pods after it are the training run's
    (trained_in_image)."""
    inputs = launch_inputs(registered, TUNING)
    inputs.update(grid=literal_of(TUNING_GRID, HyperparameterGrid), folds=literal_of(3, int))
    return run_workflow(registered, TUNING, inputs, work, skip=("predict",))


INFERENCE = "flyte.workflows.inference.diabetes_xgboost_batch_inference"


def first_patients() -> pd.DataFrame:
    """The feature columns of the bundled data set's first 50 rows."""
    return pd.read_csv(REAL_DATASET, header=None).iloc[:50, :-1]


@pytest.fixture(scope="module")
def classified_in_image(registered, work, trained_in_image, object_store) -> pods.WorkflowRun:
    """diabetes_xgboost_batch_inference on 50 patients with the model trained in the image (fetched from the store),
    local folders as the prefixes."""
    first_patients().to_csv(work / "patients.csv", header=False, index=False)
    object_store.filesystem().get(trained_in_image.outputs["model"].scalar.blob.uri, str(work / "model.json"))
    inputs = launch_inputs(registered, INFERENCE, model="model.json", patients="patients.csv")
    return run_workflow(registered, INFERENCE, inputs, work)


def test_the_training_workflow_runs_in_the_image_against_an_object_store(trained_in_image, work, object_store):
    outputs = trained_in_image.outputs
    assert outputs["accuracy"].scalar.primitive.float_value == plain_accuracy(REAL_DATASET)
    model = outputs["model"].scalar.blob.uri
    assert model.startswith(f"s3://{object_store.bucket}/pods/{work.name}/")
    object_store.filesystem().get(model, str(work / "model-from-the-store.json"))
    saved = load_model(work / "model-from-the-store.json")
    assert saved.training_data_sha256 == hashlib.sha256(REAL_DATASET.read_bytes()).hexdigest()
    assert outputs["report"].scalar.blob.uri.startswith(f"s3://{object_store.bucket}/")


def test_the_tuning_workflow_and_its_map_task_run_in_the_image(tuned_in_image, work):
    outputs, grid = tuned_in_image.outputs, TUNING_GRID

    scores = python_value(outputs["cross_validation"], list[CrossValidationScore])
    train, _ = train_test_split(pd.read_csv(REAL_DATASET, header=None, names=[*FEATURES, LABEL]), test_size=0.33,
                                random_state=7)
    expected = [sklearn_mean_roc_auc(train, point, folds=3, seed=7) for point in grid.points()]
    assert [score.hyperparameters for score in scores] == grid.points()
    assert [score.mean_roc_auc for score in scores] == pytest.approx(expected)
    chosen = python_value(outputs["hyperparameters"], Hyperparameters)
    assert chosen == grid.points()[expected.index(max(expected))]
    # The chosen settings reached the training pod: its model is the plain libraries' with those settings.
    model = load_model(on_host(work, outputs["model"]))
    assert model.provenance.hyperparameters == vars(chosen)
    _, x_test, _, y_test = plain_split(REAL_DATASET)
    predicted = model.classifier.predict(x_test.set_axis(list(FEATURES), axis=1))
    assert (predicted == y_test.to_numpy()).mean() == plain_accuracy(REAL_DATASET, **vars(chosen))


def test_batch_inference_runs_in_the_image_with_the_trained_model(classified_in_image, work):
    outputs, patients = classified_in_image.outputs, first_patients()
    predictions = pd.read_csv(on_host(work, outputs["predictions_csv"]))
    assert list(predictions.columns) == [*FEATURES, "predicted", "probability"]
    np.testing.assert_array_equal(predictions[list(FEATURES)].to_numpy(), patients.to_numpy())
    reference = plain_model(REAL_DATASET)
    np.testing.assert_array_equal(predictions["predicted"], reference.predict(patients.to_numpy()))
    np.testing.assert_allclose(predictions["probability"], reference.predict_proba(patients.to_numpy())[:, 1],
                               rtol=1e-6)


def test_each_task_pod_loads_only_the_heavy_libraries_its_task_uses(trained_in_image, tuned_in_image,
                                                                    classified_in_image):
    runs = (trained_in_image, tuned_in_image, classified_in_image)
    assert_pods_load_only_what_their_tasks_use([pod for run in runs for pod in run.pods])


@pytest.mark.parametrize("require_docker", ["", "1"])
def test_without_the_base_image_the_image_tests_skip_in_one_line_or_fail_in_ci(tmp_path, require_docker):
    """The suite on a machine without the base image: one line with the reason and the fix for all the image's
    tests; REQUIRE_DOCKER=1 fails them."""
    env = {**os.environ, "BASE_IMAGE": "local/no-such-base-image:0", "REQUIRE_DOCKER": require_docker}
    command = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-k", "not skip_in_one_line_or_fail_in_ci",
        "tests/test_container.py", "tests/test_container_dask.py",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    reason = r"(no base image local/no-such-base-image:0|Docker is not available).*`bash \.ci/docker_up\.sh`"
    if require_docker:
        assert done.returncode == 1 and re.search(rf"^E +Failed: {reason}", done.stdout, re.M), done.stdout
        summary = done.stdout.splitlines()[-1]
        assert re.search(r"\d+ errors?", summary) and "passed" not in summary and "skipped" not in summary, summary
    else:
        skipped = re.findall(r"^SKIPPED .*", done.stdout, re.M)
        assert len(skipped) == 1 and re.match(rf"SKIPPED \[\d\] tests/test_container\.py:\d+: {reason}", skipped[0])
