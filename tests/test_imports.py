"""What loading each workflow module, and running each task alone as its pod would, brings into sys.modules.

The heavy libraries (XGBoost, scikit-learn, SciPy, matplotlib: seconds of imports) are loaded by the tasks that use
them, when they run: never by loading a workflow module (pyflyte run, pyflyte package, every pod), never before a
task's body starts, and never by a task that does not use them. pandas too is loaded only once a task body reads a
table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flyteidl.core.literals_pb2 import Literal
from flytekit import FlyteContextManager
from flytekit.core.type_engine import TypeEngine

from flyte.hyperparameters import HyperparameterGrid
from flyte.schema import FEATURES
from tests.conftest import REPO_ROOT, synthetic_rows, write_csv
from tests.pods import PROBE, Pod, run_workflow
from tests.registration import file_input, package, read_package

pytestmark = pytest.mark.slow  # every test here starts Python processes: pyflyte package, a pod per task

HEAVY = frozenset({"xgboost", "sklearn", "scipy", "matplotlib"})
# pandas is read by the tasks that read tables, never needed to load a module. flytekit puts a lazy `pandas` module
# into sys.modules; pandas.core appears there only once pandas is really imported.
PANDAS = "pandas.core"
WORKFLOWS = REPO_ROOT / "flyte" / "workflows"
WORKFLOW_MODULES = ["flyte.workflows"] + sorted(
    f"flyte.workflows.{path.stem}" for path in WORKFLOWS.glob("*.py") if path.stem != "__init__"
)
XGBOOST = frozenset({"xgboost", "sklearn", "scipy"})  # XGBoost's scikit-learn interface loads scikit-learn and SciPy
# The heavy libraries each task's pod loads, all because its body uses them.
TASK_IMPORTS = {
    "split_traintest_dataset": set(),
    "fit": XGBOOST,
    "predict": XGBOOST,
    "score": XGBOOST | {"matplotlib"},  # the model's feature importances and the report's charts
    "expand_grid": set(),
    "cross_validate_grid_group": XGBOOST,
    "choose_hyperparameters": set(),  # its deck is a table, no chart
    "classify_patients": XGBOOST,
}
BIN = Path(sys.executable).parent


def top_level(modules) -> set[str]:
    return {module.split(".")[0] for module in modules}


@pytest.mark.parametrize("module", WORKFLOW_MODULES)
def test_loading_a_workflow_module_loads_no_heavy_library(module, tmp_path):
    script = f"import importlib, json, sys; importlib.import_module({module!r}); print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert module in loaded  # the package and user_errors.py import no flytekit: importing them patches nothing
    assert top_level(loaded) & HEAVY == set()
    assert PANDAS not in loaded


def launch_locally(home: Path):
    """Run a pod's command as a local process: the venv's pyflyte-execute, the probe on PYTHONPATH."""

    def launch(pod: Pod) -> None:
        program, *arguments = pod.command(pod.folder)
        environment = {
            **os.environ,
            **{pair.key: pair.value for pair in pod.container.env},
            **pod.environment,
            "HOME": str(home),
            "MPLCONFIGDIR": str(home / "matplotlib"),
            "PYTHONPATH": f"{PROBE}{os.pathsep}{REPO_ROOT}",
            "POD_PROBE_REPORT": str(pod.folder / "probe.json"),
        }
        done = subprocess.run(
            [str(BIN / program), *arguments], cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, f"{pod.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"

    return launch


def to_literal(value) -> Literal:
    context = FlyteContextManager.current_context()
    python_type = type(value)
    return TypeEngine.to_literal(context, value, python_type, TypeEngine.to_literal_type(python_type)).to_flyte_idl()


@pytest.fixture(scope="module")
def pods(tmp_path_factory) -> list[Pod]:
    """Every task of the training, tuning and batch inference workflows, each run alone as its pod would run it."""
    work = tmp_path_factory.mktemp("pods")
    home = work / "home"
    home.mkdir()
    registered = read_package(package("local-image:imports", work))
    dataset = write_csv(work / "patients.csv", synthetic_rows(200))
    launch = launch_locally(home)

    def defaults(workflow: str) -> dict[str, Literal]:
        parameters = registered.launch_plans[workflow].spec.default_inputs.parameters
        return {name: parameter.default for name, parameter in parameters.items() if parameter.HasField("default")}

    def variable(workflow: str, name: str):
        return registered.workflows[workflow].template.interface.inputs.variables[name]

    training = "flyte.workflows.example.diabetes_xgboost_model"
    inputs = {**defaults(training), "dataset": file_input(variable(training, "dataset"), str(dataset))}
    trained = run_workflow(registered, training, inputs, work, launch)

    # Two grid points, so that the map task runs two elements and choose_hyperparameters chooses between them.
    tuning = "flyte.workflows.tuning.diabetes_xgboost_tuning"
    grid = HyperparameterGrid(max_depth=[2, 3], learning_rate=[0.1], n_estimators=[10])
    inputs = {
        **defaults(tuning), "dataset": file_input(variable(tuning, "dataset"), str(dataset)), "grid": to_literal(grid)
    }
    tuned = run_workflow(registered, tuning, inputs, work, launch, skip=("fit", "predict", "score"))

    inference = "flyte.workflows.inference.diabetes_xgboost_batch_inference"
    patients = write_csv(work / "new-patients.csv", [row[: len(FEATURES)] for row in synthetic_rows(20, seed=1)])
    inputs = {
        "model": trained.outputs["model"], "patients": file_input(variable(inference, "patients"), str(patients))
    }
    classified = run_workflow(registered, inference, inputs, work, launch)
    return [pod for run in (trained, tuned, classified) for pod in run.pods]


def test_every_task_of_the_workflows_ran_as_a_pod(pods):
    assert {pod.task for pod in pods} == set(TASK_IMPORTS)
    assert {"cross_validate_grid_group[0]", "cross_validate_grid_group[1]"} <= {pod.name for pod in pods}


@pytest.mark.parametrize("task", TASK_IMPORTS)
def test_a_task_pod_loads_only_the_heavy_libraries_its_task_uses(pods, task):
    for pod in [pod for pod in pods if pod.task == task]:
        probe = pod.probe()
        assert pod.task_module in probe["modules_at_task_body"]
        assert top_level(probe["modules_at_task_body"]) & HEAVY == set(), f"{pod.name}: loaded before its body started"
        assert PANDAS not in probe["modules_at_task_body"], pod.name
        assert top_level(probe["modules_at_exit"]) & HEAVY == TASK_IMPORTS[task], pod.name
