"""Run a packaged workflow's tasks one by one, each alone as its pod would run it: the task's serialized command
(`pyflyte-execute ... --resolver ... -- task-module M task-name T`; `pyflyte-map-execute` and an array index for
each element of a map task), its inputs written as a literal map file, its outputs read back and bound to the
tasks that take them. Where the command runs (a local process, a container) is the caller's `launch`.

The probe in tests/pod_probe (put on PYTHONPATH with POD_PROBE_REPORT set) reports what each run loaded and the
seconds from its start to the task body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from flyteidl.core.literals_pb2 import Binding, Literal, LiteralCollection, LiteralMap
from flytekit.core.constants import GLOBAL_INPUT_NODE_ID

from tests.registration import Package

PROBE = Path(__file__).resolve().parent / "pod_probe"
# The variable holding a map task element's index, named in BATCH_JOB_ARRAY_INDEX_VAR_NAME (as propeller does).
ARRAY_INDEX = "POD_ARRAY_INDEX"


@dataclass(frozen=True)
class Pod:
    """One task run: the task's short name, its container spec, its folder (inputs.pb, outputs/, probe.json) and the
    environment it runs with beyond the container's own."""

    task: str
    container: object  # flyteidl.core.tasks_pb2.Container
    folder: Path
    environment: dict[str, str]

    def command(self, folder_seen_by_the_pod: Path) -> list[str]:
        """The container's command and args, the propeller templates filled in with folders under the pod's own."""
        templates = {
            "{{.input}}": f"{folder_seen_by_the_pod}/inputs.pb",
            "{{.outputPrefix}}": f"{folder_seen_by_the_pod}/outputs",
            "{{.rawOutputDataPrefix}}": f"{folder_seen_by_the_pod}/raw",
            "{{.checkpointOutputPrefix}}": f"{folder_seen_by_the_pod}/checkpoint",
            "{{.prevCheckpointPrefix}}": "",
        }
        return [templates.get(arg, arg) for arg in [*self.container.command, *self.container.args]]

    @property
    def task_module(self) -> str:
        """The module the command loads the task from (`... task-module M task-name T`)."""
        arguments = list(self.container.args)
        return arguments[arguments.index("task-module") + 1]

    def outputs(self) -> dict[str, Literal]:
        """The literals the run wrote to outputs/outputs.pb, by output name."""
        outputs = self.folder / "outputs" / "outputs.pb"
        assert outputs.is_file(), f"{self.task} wrote no {outputs}"
        return dict(LiteralMap.FromString(outputs.read_bytes()).literals)

    def probe(self) -> dict:
        """The probe's report of this run: seconds_to_task_body, modules_at_task_body, modules_at_exit."""
        return json.loads((self.folder / "probe.json").read_text())


Launch = Callable[[Pod], None]  # runs the pod's command; must leave outputs/outputs.pb in its folder


def run_as_pods(
    registered: Package, workflow_name: str, inputs: dict[str, Literal], work: Path, launch: Launch,
    skip: Iterable[str] = (),
) -> dict[str, Pod]:
    """Run the workflow's nodes in dependency order, each task as its own pods, and return its pods by name
    (`task`, or `task[i]` for element i of a map task). The tasks named in `skip` (short names) do not run, nor
    do the nodes that take their outputs."""
    workflow = registered.workflows[workflow_name].template
    outputs_by_node: dict[str, dict[str, Literal]] = {GLOBAL_INPUT_NODE_ID: inputs}
    pods: dict[str, Pod] = {}
    pending = list(workflow.nodes)
    while True:
        ready = [node for node in pending if all(_source(b) in outputs_by_node for b in node.inputs)]
        if not ready:
            return pods
        for node in ready:
            pending.remove(node)
            task_node = node.array_node.node.task_node if node.HasField("array_node") else node.task_node
            template = registered.tasks[task_node.reference_id.name].template
            name = _short_name(template.id.name)
            if name in skip:
                continue
            node_inputs = {b.var: _resolve(b, outputs_by_node) for b in node.inputs}
            folder = work / node.id
            if node.HasField("array_node"):
                elements = _map_task_elements(node, node_inputs)
                results = []
                for index in range(elements):
                    environment = {"BATCH_JOB_ARRAY_INDEX_VAR_NAME": ARRAY_INDEX, ARRAY_INDEX: str(index)}
                    pod = _run(f"{name}[{index}]", template, node_inputs, folder / str(index), launch, environment)
                    pods[pod.task] = pod
                    results.append(pod.outputs())
                outputs_by_node[node.id] = {
                    var: Literal(collection=LiteralCollection(literals=[result[var] for result in results]))
                    for var in template.interface.outputs.variables
                }
            else:
                pod = _run(name, template, node_inputs, folder, launch, {})
                pods[name] = pod
                outputs_by_node[node.id] = pod.outputs()


def _run(name: str, template, inputs: dict[str, Literal], folder: Path, launch: Launch, environment) -> Pod:
    folder.mkdir(parents=True)
    folder.chmod(0o777)  # a container's user need not be ours
    (folder / "inputs.pb").write_bytes(LiteralMap(literals=inputs).SerializeToString())
    pod = Pod(name, template.container, folder, environment)
    launch(pod)
    return pod


def _short_name(task_name: str) -> str:
    """flyte.workflows.tuning.map_cross_validate_grid_point_<hash>-arraynode -> cross_validate_grid_point."""
    name = task_name.rsplit(".", 1)[-1]
    if name.endswith("-arraynode"):
        name = name.removeprefix("map_").removesuffix("-arraynode").rsplit("_", 1)[0]
    return name


def _map_task_elements(node, inputs: dict[str, Literal]) -> int:
    """How many elements the map task runs: the length of its mapped (not bound) list inputs."""
    bound = set(node.array_node.bound_inputs)
    lengths = {len(literal.collection.literals) for var, literal in inputs.items() if var not in bound}
    assert len(lengths) == 1, f"map task {node.id}: mapped inputs of lengths {lengths}"
    return lengths.pop()


def _source(binding: Binding) -> str:
    assert binding.binding.WhichOneof("value") == "promise", binding
    return binding.binding.promise.node_id


def _resolve(binding: Binding, outputs_by_node: dict[str, dict[str, Literal]]) -> Literal:
    promise = binding.binding.promise
    return outputs_by_node[promise.node_id][promise.var]
