"""The layering, checked: plain modules (flyte/*.py) never import flytekit, and the Flyte layer (flyte/workflows/)
imports its own modules only in the directions the layout allows.

- Support modules, those that define no task or workflow (types and defaults, cache policy, file keys, the fenced
  flytekit patches, ...), import no module that does.
- example.py, home of the four tasks, imports only support modules.
- The other workflow modules (tuning, inference, the distributed workflow, ...) take types and defaults from the
  support modules and, of example.py, only its tasks and workflows; they do not import each other.
- launch_plans.py schedules workflows: it may import any of them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "flyte"
PLAIN_MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")
WORKFLOW_MODULES = sorted(path.stem for path in (PACKAGE / "workflows").glob("*.py") if path.stem != "__init__")
TASK_MODULE = "example"
SCHEDULING_MODULE = "launch_plans"
# Decorators and calls that make Flyte entities: a workflow module using none of them is a support module.
ENTITY_MAKERS = {"task", "workflow", "dynamic", "map_task", "LaunchPlan"}


def defines_entities(path: Path) -> bool:
    """Whether a module defines tasks or workflows (a decorator, or a call such as map_task or LaunchPlan...)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        callee = node.func if isinstance(node, ast.Call) else node
        name = callee.id if isinstance(callee, ast.Name) else callee.attr if isinstance(callee, ast.Attribute) else None
        if name in ENTITY_MAKERS:
            return True
    return False


SUPPORT_MODULES = {
    module for module in WORKFLOW_MODULES if not defines_entities(PACKAGE / "workflows" / f"{module}.py")
}


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, at any depth (lazy imports inside functions count too)."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; the layering test reads absolute ones"
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def names_imported_from(path: Path, module: str) -> set[str]:
    return {
        alias.name
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == module
        for alias in node.names
    }


def workflow_modules_imported_by(path: Path) -> set[str]:
    prefix = "flyte.workflows."
    return {
        module.removeprefix(prefix).split(".")[0]
        for module in imported_modules(path)
        if module.startswith(prefix) and module.removeprefix(prefix).split(".")[0] in WORKFLOW_MODULES
    }


def test_the_layout_is_what_this_test_knows():
    assert {"dataset", "model", "schema", "split"} <= set(PLAIN_MODULES)
    assert {"caching", "datatypes", "files", "flytekit_workarounds"} <= SUPPORT_MODULES
    assert {TASK_MODULE, SCHEDULING_MODULE, "tuning", "inference"} <= set(WORKFLOW_MODULES) - SUPPORT_MODULES


def test_plain_modules_import_neither_flytekit_nor_the_flyte_layer():
    offending = {
        f"flyte/{module}.py": sorted(
            name for name in imported_modules(PACKAGE / f"{module}.py")
            if name.split(".")[0] == "flytekit" or name.startswith("flyte.workflows")
        )
        for module in ["__init__", *PLAIN_MODULES]
    }
    offending = {module: names for module, names in offending.items() if names}
    assert not offending, f"Flyte code belongs in flyte/workflows/: {offending}"


# Imports each plain module in turn, then the Flyte layer; prints the modules that brought flytekit in, in order.
RUN_TIME_PROBE = """
import importlib, json, sys
loaded_flytekit = []
for module in sys.argv[1:]:
    importlib.import_module(module)
    if "flytekit" in sys.modules and not loaded_flytekit:
        loaded_flytekit.append(module)
print(json.dumps(loaded_flytekit))
"""


@pytest.mark.slow
def test_importing_the_plain_modules_loads_no_flytekit():
    """At run time too, through whatever the modules' own imports import (a fresh interpreter); the Flyte layer,
    imported last, shows that the probe does see flytekit."""
    modules = [f"flyte.{module}" for module in PLAIN_MODULES] + ["flyte.workflows.datatypes"]
    done = subprocess.run(
        [sys.executable, "-c", RUN_TIME_PROBE, *modules], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["flyte.workflows.datatypes"], "this plain module loads flytekit"


def test_support_modules_import_only_support_modules():
    offending = {
        f"flyte/workflows/{module}.py": sorted(imported - SUPPORT_MODULES)
        for module in SUPPORT_MODULES
        if (imported := workflow_modules_imported_by(PACKAGE / "workflows" / f"{module}.py")) - SUPPORT_MODULES
    }
    assert not offending


def test_workflow_modules_share_types_through_support_modules_and_only_tasks_through_example():
    from flytekit.core.base_task import PythonTask
    from flytekit.core.workflow import WorkflowBase

    import flyte.workflows.example as example

    for module in sorted(set(WORKFLOW_MODULES) - SUPPORT_MODULES - {SCHEDULING_MODULE}):
        path = PACKAGE / "workflows" / f"{module}.py"
        allowed = SUPPORT_MODULES if module == TASK_MODULE else SUPPORT_MODULES | {TASK_MODULE}
        imported = workflow_modules_imported_by(path)
        assert imported <= allowed, f"flyte/workflows/{module}.py imports {sorted(imported - allowed)}"
        for name in names_imported_from(path, f"flyte.workflows.{TASK_MODULE}"):
            assert isinstance(getattr(example, name), PythonTask | WorkflowBase), (
                f"flyte/workflows/{module}.py takes {name} from example.py; shared types and defaults live in "
                "datatypes.py"
            )
