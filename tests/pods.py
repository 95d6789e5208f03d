"""Run a packaged workflow node by node, each task alone as Flyte's propeller runs it in a pod: the task's serialized
command (`pyflyte-execute ... --resolver ... -- task-module M task-name T`; `pyflyte-map-execute` and an array index
for each element of a map task), its inputs written as a literal map file, its outputs read back and bound to the
nodes that take them; a sub-workflow node runs its sub-workflow; a dynamic workflow's pod writes the nodes it compiled
(futures.pb, a DynamicJobSpec with their task templates), which then run in turn. Where a command runs is the
caller's `launch`: `docker_launch` (the image, as the container test and the start-up benchmark run it). The
benchmarks import this module and tests/registration.py from a venv that may have no pytest: neither imports it.

The probe in tests/pod_probe (its folder on PYTHONPATH, POD_PROBE_REPORT set) reports what a run loaded and the
seconds from its start to the task body.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flyteidl.core.dynamic_job_pb2 import DynamicJobSpec
from flyteidl.core.literals_pb2 import Binding, Literal, LiteralCollection, LiteralMap
from flytekit.core.constants import GLOBAL_INPUT_NODE_ID

from tests.object_store import ObjectStore
from tests.registration import Package

PROBE = Path(__file__).resolve().parent / "pod_probe"
PROBE_MOUNT = "/pod-probe"  # where docker_launch mounts it


@dataclass(frozen=True)
class Pod:
    """One task run: the task's short name (`task[i]` for element i of a map task), its serialized template, its
    folder (inputs.pb, outputs/, probe.json) and the environment it runs with beyond its container's own."""

    name: str
    template: object  # flyteidl.core.tasks_pb2.TaskTemplate
    folder: Path
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.name.split("[")[0]

    @property
    def container(self):
        return self.template.container

    @property
    def task_module(self) -> str:
        """The module the command loads the task from (`... task-module M task-name T`)."""
        arguments = list(self.container.args)
        return arguments[arguments.index("task-module") + 1]

    def command(self, folder_seen_by_the_pod: Path | str) -> list[str]:
        """The container's command and args, the propeller templates filled in with folders under the pod's own (a
        path, or a prefix in an object store)."""
        templates = {
            "{{.input}}": f"{folder_seen_by_the_pod}/inputs.pb",
            "{{.outputPrefix}}": f"{folder_seen_by_the_pod}/outputs",
            "{{.rawOutputDataPrefix}}": f"{folder_seen_by_the_pod}/raw",
            "{{.checkpointOutputPrefix}}": f"{folder_seen_by_the_pod}/checkpoint",
            "{{.prevCheckpointPrefix}}": "",
        }
        return [templates.get(arg, arg) for arg in [*self.container.command, *self.container.args]]

    @property
    def dynamic_job(self) -> DynamicJobSpec | None:
        """The nodes a dynamic workflow's run compiled (its futures.pb), or None for any other task."""
        futures = self.folder / "outputs" / "futures.pb"
        return DynamicJobSpec.FromString(futures.read_bytes()) if futures.is_file() else None

    def outputs(self) -> dict[str, Literal]:
        """The literals the run wrote to outputs/outputs.pb, by output name."""
        outputs = self.folder / "outputs" / "outputs.pb"
        assert outputs.is_file(), f"{self.name} wrote no {outputs}"
        return dict(LiteralMap.FromString(outputs.read_bytes()).literals)

    def probe(self) -> dict:
        """The probe's report of this run (tests/pod_probe): seconds and CPU seconds to the task body, the modules
        loaded when the body started and at exit."""
        return json.loads((self.folder / "probe.json").read_text())


Launch = Callable[[Pod], None]  # runs the pod's command; fails unless it succeeded


@dataclass
class WorkflowRun:
    outputs: dict[str, Literal]  # the workflow's outputs (those its run produced, when tasks were skipped)
    pods: list[Pod]  # every task run, in order


def run_workflow(
    registered: Package, name: str, inputs: dict[str, Literal], work: Path, launch: Launch, skip: Iterable[str] = ()
) -> WorkflowRun:
    """Run a packaged workflow node by node, as Flyte's propeller would: each task node as its own pod, a
    sub-workflow node by running the sub-workflow, an array node (map task) one pod per element. The tasks named
    in `skip` (short names) do not run, nor do the nodes that take their outputs."""
    spec = registered.workflows[name]
    sub_workflows = {sub_workflow.id.name: sub_workflow for sub_workflow in spec.sub_workflows}
    skip = set(skip)
    pods: list[Pod] = []

    def run(workflow, inputs: dict[str, Literal], prefix: str, templates=None) -> dict[str, Literal]:
        outputs_by_node: dict[str, dict[str, Literal]] = {GLOBAL_INPUT_NODE_ID: inputs}

        def bindings(node) -> list[Binding]:
            return list(node.array_node.node.inputs if node.HasField("array_node") else node.inputs)

        def is_ready(node) -> bool:
            return all(_is_available(b, outputs_by_node) for b in bindings(node))

        pending = list(workflow.nodes)
        while pending:
            ready = [node for node in pending if is_ready(node)]
            if not ready:
                assert skip, f"nodes waiting on each other: {[node.id for node in pending]}"
                break  # the rest needs a skipped task's outputs
            for node in ready:
                pending.remove(node)
                node_id, kind = prefix + node.id, node.WhichOneof("target")
                node_inputs = {b.var: _resolve(b, outputs_by_node) for b in bindings(node)}
                if kind == "workflow_node":
                    sub_workflow = sub_workflows[node.workflow_node.sub_workflow_ref.name]
                    outputs_by_node[node.id] = run(sub_workflow, node_inputs, prefix=f"{node_id}-")
                    continue
                task_node = node.array_node.node.task_node if kind == "array_node" else node.task_node
                name = task_node.reference_id.name
                template = templates[name] if templates and name in templates else registered.tasks[name].template
                if _short_name(template.id.name) in skip:
                    continue
                if kind == "array_node":
                    run_pods = _run_map_task(node, template, node_inputs, work / node_id, launch)
                    outputs = {
                        var: Literal(collection=LiteralCollection(literals=[pod.outputs()[var] for pod in run_pods]))
                        for var in template.interface.outputs.variables
                    }
                else:
                    assert kind == "task_node", node
                    run_pods = [_run_pod(_short_name(template.id.name), template, node_inputs, work / node_id, launch)]
                    dynamic_job = run_pods[0].dynamic_job
                    if dynamic_job is not None:  # propeller runs the nodes the dynamic workflow compiled
                        pods.extend(run_pods)
                        compiled = {task.id.name: task for task in dynamic_job.tasks}
                        outputs_by_node[node.id] = run(dynamic_job, {}, f"{node_id}-", compiled)
                        continue
                    outputs = run_pods[0].outputs()
                pods.extend(run_pods)
                outputs_by_node[node.id] = outputs
        return {b.var: _resolve(b, outputs_by_node) for b in workflow.outputs if _is_available(b, outputs_by_node)}

    outputs = run(spec.template, inputs, prefix=f"{name.rsplit('.', 1)[-1]}-")  # a folder per node of each run
    return WorkflowRun(outputs, pods)


def _run_map_task(node, template, inputs: dict[str, Literal], folder: Path, launch: Launch) -> list[Pod]:
    """One pod per element of the mapped list, as Flyte's ArrayNode runs a map task: each runs the serialized
    `pyflyte-map-execute` command on the whole inputs, told its element's index by the environment variables flytekit
    reads (BATCH_JOB_ARRAY_INDEX_VAR_NAME names the variable holding it)."""
    assert template.container.args[0] == "pyflyte-map-execute"
    (mapped,) = set(inputs) - set(node.array_node.bound_inputs)
    name = _short_name(template.id.name)
    return [
        _run_pod(f"{name}[{index}]", template, inputs, Path(f"{folder}-{index}"), launch,
                 {"BATCH_JOB_ARRAY_INDEX_VAR_NAME": "FLYTE_K8S_ARRAY_INDEX", "FLYTE_K8S_ARRAY_INDEX": str(index)})
        for index in range(len(inputs[mapped].collection.literals))
    ]  # fmt: skip


def _run_pod(name: str, template, inputs: dict[str, Literal], folder: Path, launch: Launch, environment=None) -> Pod:
    folder.mkdir(parents=True)
    folder.chmod(0o777)  # a container's user need not be ours
    (folder / "inputs.pb").write_bytes(LiteralMap(literals=inputs).SerializeToString())
    pod = Pod(name, template, folder, environment or {})
    launch(pod)
    return pod


def _short_name(task_name: str) -> str:
    """flyte.workflows.tuning.map_cross_validate_grid_group_<hash>-arraynode -> cross_validate_grid_group."""
    name = task_name.rsplit(".", 1)[-1]
    if name.endswith("-arraynode"):
        name = name.removeprefix("map_").removesuffix("-arraynode").rsplit("_", 1)[0]
    return name


def _is_available(binding: Binding, outputs_by_node: dict[str, dict[str, Literal]]) -> bool:
    if binding.binding.WhichOneof("value") == "scalar":
        return True
    promise = binding.binding.promise
    return promise.var in outputs_by_node.get(promise.node_id, {})


def _resolve(binding: Binding, outputs_by_node: dict[str, dict[str, Literal]]) -> Literal:
    if binding.binding.WhichOneof("value") == "scalar":
        return Literal(scalar=binding.binding.scalar)
    assert binding.binding.WhichOneof("value") == "promise", binding
    promise = binding.binding.promise
    return outputs_by_node[promise.node_id][promise.var]


def docker_quantity(kubernetes_memory: str) -> str:
    """A Kubernetes memory quantity in Docker's units: "2Gi" -> "2g"."""
    number, unit = re.fullmatch(r"([0-9]+)([KMGT]i)?", kubernetes_memory).groups()
    return number + (unit[0].lower() if unit else "b")


def docker_cpus(kubernetes_cpu: str) -> str:
    """A Kubernetes CPU quantity in Docker's units: "500m" -> "0.5", "2" -> "2"."""
    return str(int(kubernetes_cpu[:-1]) / 1000) if kubernetes_cpu.endswith("m") else kubernetes_cpu


def docker_launch(
    work: Path,
    mount: Path,
    probe: bool = False,
    timeout: float = 900,
    options: Iterable[str] = (),
    store: ObjectStore | None = None,
) -> Launch:
    """Run each pod as `docker run IMAGE <its command>`, CPU and memory capped at its task's limits, with `work`
    (holding the pods' folders) mounted at `mount`; with `probe`, the probe mounted and on PYTHONPATH; `options`
    are further `docker run` options (a network, for instance).

    With an object `store` (tests/object_store.py), the pods' input, output and raw data prefixes are in its bucket
    instead, as on the sandbox: each pod's inputs.pb is put there and its outputs fetched back to its folder, and
    the pod reaches the store on the host's loopback (`--network=host`) with the endpoint and keys in the
    FLYTE_AWS_* variables, as the sandbox's pods reach MinIO."""
    options = list(options) + (["--network=host"] if store else [])

    def launch(pod: Pod) -> None:
        mounted = mount / pod.folder.relative_to(work)
        resources = pod.container.resources
        limits = {entry.name: entry.value for entry in resources.limits}
        variables = {**{pair.key: pair.value for pair in pod.container.env}, **pod.environment}
        prefix = store.url(f"pods/{work.name}/{pod.folder.relative_to(work)}") if store else mounted  # its I/O
        if store:
            store.filesystem().put(str(pod.folder / "inputs.pb"), f"{prefix}/inputs.pb")
            variables.update(store.environment())
        volumes = [f"--volume={work}:{mount}"]
        if probe:  # its report in the pod's folder on the mount, with a store too
            volumes.append(f"--volume={PROBE}:{PROBE_MOUNT}:ro")
            variables.update(PYTHONPATH=PROBE_MOUNT, POD_PROBE_REPORT=f"{mounted}/probe.json")
        command = [
            "docker", "run", "--rm", *options, *volumes, *(f"--env={key}={value}" for key, value in variables.items()),
            f"--cpus={docker_cpus(limits[resources.CPU])}", f"--memory={docker_quantity(limits[resources.MEMORY])}",
            pod.container.image, *pod.command(prefix),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if store and store.filesystem().exists(f"{prefix}/outputs"):
            store.filesystem().get(f"{prefix}/outputs/", str(pod.folder / "outputs"), recursive=True)
        written = [pod.folder / "outputs" / name for name in ("outputs.pb", "futures.pb")]
        logs = f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        assert done.returncode == 0 and any(path.is_file() for path in written), (
            f"{pod.name} failed in {pod.container.image}:\n{logs}"
        )

    return launch
