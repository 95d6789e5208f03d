"""What loading each workflow module, and running each task alone as its pod does, brings into sys.modules.

The heavy libraries (XGBoost, scikit-learn, SciPy, matplotlib: seconds of imports) are loaded by the tasks that use
them, when they run: never by loading a workflow module (pyflyte run, pyflyte package, every pod), never before a
task's body starts, and never by a task that does not use them. pandas too is loaded only once a task body reads a
table. The pods are those the container test runs in the image (tests/test_container.py, with tests/pod_probe
reporting what each loaded); the modules are loaded here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, own_environment
from tests.pods import Pod

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
    "compare_with_champion": set(),  # XGBoost only to score a champion other than the new model: none in this run
    "score": XGBOOST | {"matplotlib"},  # the model's feature importances and the report's charts
    "promote": set(),  # reads the facts of the model it records, not its booster
    "expand_grid": set(),
    "cross_validate_grid_group": XGBOOST,
    "choose_hyperparameters": set(),  # its deck is a table, no chart
    "model_or_champion": set(),  # only reads the registry
    "classify_patients": XGBOOST,
}

# Loads each module in turn in one interpreter and prints, per module, what its loading added: a module that loads
# a heavy library shows it, whatever was loaded before it.
LOAD_EACH = """
import importlib, json, sys
added = {}
for module in sys.argv[1:]:
    before = set(sys.modules)
    importlib.import_module(module)
    added[module] = sorted(set(sys.modules) - before)
print(json.dumps(added))
"""


def top_level(modules) -> set[str]:
    return {module.split(".")[0] for module in modules}


@pytest.mark.slow
def test_loading_a_workflow_module_loads_no_heavy_library(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", LOAD_EACH, *WORKFLOW_MODULES], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=300, env=own_environment(tmp_path, PYTHONPATH=str(REPO_ROOT)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout)
    assert "flytekit" in top_level(module for loaded in added.values() for module in loaded)  # the probe sees
    heavy = {module: sorted(top_level(loaded) & HEAVY | {PANDAS} & set(loaded)) for module, loaded in added.items()}
    assert {module: found for module, found in heavy.items() if found} == {}


def assert_pods_load_only_what_their_tasks_use(pods: list[Pod]) -> None:
    """Every task of the workflows ran as a pod, a map task's elements included, and each pod loaded no heavy library
    before its task body started and, by its exit, only those its task uses (the probe's report)."""
    assert {pod.task for pod in pods} == set(TASK_IMPORTS)
    assert {"cross_validate_grid_group[0]", "cross_validate_grid_group[1]"} <= {pod.name for pod in pods}
    for pod in pods:
        probe = pod.probe()
        assert pod.task_module in probe["modules_at_task_body"], pod.name
        assert top_level(probe["modules_at_task_body"]) & HEAVY == set(), f"{pod.name}: loaded before its body started"
        assert PANDAS not in probe["modules_at_task_body"], pod.name
        assert top_level(probe["modules_at_exit"]) & HEAVY == TASK_IMPORTS[pod.task], pod.name
