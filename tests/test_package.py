"""What gets registered, checked offline: `pyflyte package` read back with flyteidl, and a dry-run registration."""

from __future__ import annotations

import re

import pytest
from flyteidl.core.literals_pb2 import Literal, LiteralCollection
from flyteidl.core.types_pb2 import SimpleType
from flytekit.core.constants import GLOBAL_INPUT_NODE_ID
from flytekitplugins.dask.task import DaskTask

import flyte.workflows.distributed as distributed
import flyte.workflows.example as example
from flyte.schema import COLUMN_TYPES, LABEL
from tests.conftest import REPO_ROOT
from tests.registration import (
    DISTRIBUTED_MODULE,
    DISTRIBUTED_WORKFLOW,
    TASKS,
    WORKFLOW,
    Package,
    dask_job,
    file_input,
    package,
    pyflyte,
    read_package,
)
from tests.test_docs import documented_text

IMAGE = "registry.example.com/flyte-xgboost:package-test"
NIGHTLY = "diabetes_xgboost_model_nightly_retrain"
TRAIN_AND_EVALUATE = "flyte.workflows.example.train_and_evaluate"
SIMPLE_TYPES = {int: SimpleType.INTEGER, float: SimpleType.FLOAT}

# Every test here reads what `pyflyte package` wrote, or runs `pyflyte register`: subprocesses.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def registered(tmp_path_factory) -> Package:
    return read_package(package(IMAGE, tmp_path_factory.mktemp("package")))


def short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def test_the_four_tasks_the_workflow_and_both_launch_plans_are_packaged(registered):
    assert set(TASKS) <= set(registered.tasks)
    assert WORKFLOW in registered.workflows
    # The default launch plan carries the workflow's name.
    assert {WORKFLOW, NIGHTLY} <= set(registered.launch_plans)
    for plan in (WORKFLOW, NIGHTLY):
        assert registered.launch_plans[plan].spec.workflow_id.name == WORKFLOW


def test_every_task_is_cached_under_the_version_its_code_has_here(registered):
    """The version `pyflyte package` computed, in its own process and folder, is the one the tasks have here."""
    versions = {name: spec.template.metadata.discovery_version
                for name, spec in registered.tasks.items() if spec.template.metadata.discoverable}
    assert set(TASKS) <= set(versions)
    assert set(versions.values()) == {example.fit.metadata.cache_version}


def quantity(value: str) -> float:
    """A Kubernetes CPU or memory quantity as a number: "500m" -> 0.5, "2Gi" -> 2 * 2**30."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 1e3, "M": 1e6, "G": 1e9}
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", value).groups()
    return float(number) * units.get(unit, 1)


def test_every_task_requests_and_limits_cpu_and_memory_and_runs_in_the_given_image(registered):
    """Kubernetes schedules a pod by its requests and caps it at its limits; flytekit's Resources(mem=...) alone
    would set only the request."""
    for name, spec in registered.tasks.items():
        container = spec.template.container
        assert container.image == IMAGE, name
        requests = {entry.name: entry.value for entry in container.resources.requests}
        limits = {entry.name: entry.value for entry in container.resources.limits}
        for kind in (container.resources.CPU, container.resources.MEMORY):
            assert 0 < quantity(requests[kind]) <= quantity(limits[kind]), (name, kind)


def dataframe_columns(variable) -> list[tuple[str, int]]:
    columns = variable.type.structured_dataset_type.columns
    return [(column.name, column.literal_type.simple) for column in columns]


def test_dataframes_are_typed_with_column_names_and_types(registered):
    patients = [(column, SIMPLE_TYPES[python_type]) for column, python_type in COLUMN_TYPES.items()]

    def interface(task: str, direction: str):
        return getattr(registered.tasks[f"flyte.workflows.example.{task}"].template.interface, direction).variables

    split = interface("split_traintest_dataset", "outputs")
    assert dataframe_columns(split["train"]) == patients
    assert dataframe_columns(split["test"]) == patients
    assert dataframe_columns(interface("fit", "inputs")["train"]) == patients
    assert dataframe_columns(interface("predict", "inputs")["test"]) == patients
    predictions = dataframe_columns(interface("predict", "outputs")[only_output(registered, "predict")])
    assert predictions == [("predicted", SimpleType.INTEGER), ("probability", SimpleType.FLOAT)]
    assert dataframe_columns(interface("score", "inputs")["predictions"]) == predictions
    assert dataframe_columns(interface("score", "inputs")["test"]) == [(LABEL, SimpleType.INTEGER)]


def test_no_task_value_falls_back_to_pickle(registered):
    """flytekit pickles values it has no type for; a registered interface must be fully typed."""
    for name in TASKS:
        interface = registered.tasks[name].template.interface
        for variable in [*interface.inputs.variables.values(), *interface.outputs.variables.values()]:
            # An optional input (the dataset) is a union of its type and none.
            types = variable.type.union_type.variants if variable.type.HasField("union_type") else [variable.type]
            for literal_type in types:
                assert literal_type.WhichOneof("type") in {"simple", "blob", "structured_dataset_type"}, name
                assert literal_type.blob.format != "PythonPickle", name


def only_output(registered: Package, task: str) -> str:
    (name,) = registered.tasks[f"flyte.workflows.example.{task}"].template.interface.outputs.variables
    return name


def wiring(template) -> tuple[dict, dict]:
    """A workflow template's bindings as {(consumer, input): (producer, output)} and {output: (producer, output)},
    every node named by the short name of its task or sub-workflow."""
    def entity(node) -> str:
        if node.HasField("workflow_node"):
            return short(node.workflow_node.sub_workflow_ref.name)
        return short(node.task_node.reference_id.name)

    name_of_node = {node.id: entity(node) for node in template.nodes}
    name_of_node[GLOBAL_INPUT_NODE_ID] = "inputs"

    def source(binding) -> tuple[str, str]:
        return name_of_node[binding.binding.promise.node_id], binding.binding.promise.var

    inputs = {(name_of_node[node.id], b.var): source(b) for node in template.nodes for b in node.inputs}
    return inputs, {b.var: source(b) for b in template.outputs}


def wired(**nodes: dict[str, str]) -> dict[tuple[str, str], tuple[str, str]]:
    """Expected bindings, written node=dict(input="producer.output"), in wiring()'s form."""
    return {(node, var): tuple(source.split(".")) for node, inputs in nodes.items() for var, source in inputs.items()}


def test_the_workflow_wires_split_then_train_and_evaluate(registered):
    inputs, outputs = wiring(registered.workflows[WORKFLOW].template)
    split = "split_traintest_dataset"
    assert inputs == wired(
        split_traintest_dataset={name: f"inputs.{name}" for name in ("dataset", "test_split_ratio", "seed")},
        train_and_evaluate={
            **{name: f"{split}.{name}" for name in ("train", "test", "dataset_sha256", "dataset_source")},
            **{name: f"inputs.{name}" for name in ("hyperparameters", "seed")},
        },
    )
    assert outputs == {
        name: ("train_and_evaluate", name) for name in ("model", "accuracy", "metrics", "report", "promoted")
    }


def test_train_and_evaluate_wires_fit_predict_compare_score_promote(registered):
    (sub_workflow,) = registered.workflows[WORKFLOW].sub_workflows
    assert sub_workflow.id.name == TRAIN_AND_EVALUATE
    inputs, outputs = wiring(sub_workflow)
    model, predictions = only_output(registered, "fit"), only_output(registered, "predict")
    assert inputs == wired(
        fit={
            name: f"inputs.{name}" for name in ("train", "hyperparameters", "seed", "dataset_sha256", "dataset_source")
        },
        predict={"test": "inputs.test", "model": f"fit.{model}"},
        compare_with_champion={"test": "inputs.test", "predictions": f"predict.{predictions}", "model": f"fit.{model}"},
        score={
            "test": "inputs.test", "predictions": f"predict.{predictions}", "model": f"fit.{model}",
            "comparison": f"compare_with_champion.{only_output(registered, 'compare_with_champion')}",
        },
        promote={
            "test": "inputs.test", "model": f"fit.{model}", "metrics": "score.metrics",
            "comparison": f"compare_with_champion.{only_output(registered, 'compare_with_champion')}",
        },
    )  # fmt: skip
    assert outputs == {
        "model": ("fit", model), **{name: ("score", name) for name in ("accuracy", "metrics", "report")},
        "promoted": ("promote", only_output(registered, "promote")),
    }  # fmt: skip
    for task in ("compare_with_champion", "promote"):  # never answered from a cache
        assert not registered.tasks[f"flyte.workflows.example.{task}"].template.metadata.discoverable


def test_the_tuning_workflow_trains_through_the_same_sub_workflow(registered):
    tuning = registered.workflows["flyte.workflows.tuning.diabetes_xgboost_tuning"]
    assert [sub_workflow.id.name for sub_workflow in tuning.sub_workflows] == [TRAIN_AND_EVALUATE]
    assert tuning.sub_workflows[0] == registered.workflows[WORKFLOW].sub_workflows[0]
    inputs, outputs = wiring(tuning.template)
    assert inputs[("train_and_evaluate", "hyperparameters")] == ("choose_hyperparameters", "hyperparameters")
    assert {name: outputs[name] for name in ("model", "accuracy", "metrics", "report", "promoted")} == {
        name: ("train_and_evaluate", name) for name in ("model", "accuracy", "metrics", "report", "promoted")
    }


@pytest.mark.parametrize("workflow", [WORKFLOW, "flyte.workflows.tuning.diabetes_xgboost_tuning", DISTRIBUTED_WORKFLOW])
def test_the_evaluation_report_is_an_html_file_output(registered, workflow):
    """An HTML blob output is what the console lists (and offers to download) among the execution's outputs."""
    report = registered.workflows[workflow].template.interface.outputs.variables["report"].type
    assert report.blob.format == "html"


def test_the_documented_entity_counts_are_the_packaged_ones(registered):
    text = (REPO_ROOT / "docs" / "deploy.md").read_text()
    documented = re.search(r"(\d+) entities, (\d+) tasks, (\d+) workflows and (\d+) launch plans", text)
    assert documented, "docs/deploy.md no longer says how many entities the package holds"
    kinds = (registered.tasks, registered.workflows, registered.launch_plans)
    assert [int(number) for number in documented.groups()] == [sum(map(len, kinds)), *map(len, kinds)]


def test_only_the_nightly_launch_plan_has_a_schedule_and_it_is_the_documented_one(registered):
    assert not registered.launch_plans[WORKFLOW].spec.entity_metadata.HasField("schedule")
    cron = registered.launch_plans[NIGHTLY].spec.entity_metadata.schedule.cron_schedule.schedule
    assert len(cron.split()) == 5
    assert f"`{cron}`" in documented_text()


@pytest.mark.parametrize("plan", [WORKFLOW, NIGHTLY])
def test_launch_plan_defaults_work_inside_a_cluster(registered, plan):
    """Every input has a default, and the dataset's is none (the task reads the data set bundled in the image), never
    a path: a local path as a default does not exist in the cluster."""
    parameters = registered.launch_plans[plan].spec.default_inputs.parameters
    assert set(parameters) == {"dataset", "test_split_ratio", "seed", "hyperparameters"}
    for name, parameter in parameters.items():
        assert parameter.HasField("default"), name
        assert not parameter.required, name
    assert parameters["dataset"].default.scalar.WhichOneof("value") == "none_type"
    serialized = str(registered.launch_plans[plan].spec)
    assert "/tmp" not in serialized and str(REPO_ROOT) not in serialized


# Timeouts: every task ends on a cluster after the documented time (docs/performance.md, Timeouts).

DOCUMENTED_TIMEOUTS = {  # seconds
    "flyte.workflows.example.split_traintest_dataset": 10 * 60,
    "flyte.workflows.example.fit": 60 * 60,
    "flyte.workflows.example.predict": 10 * 60,
    "flyte.workflows.example.score": 10 * 60,
    "flyte.workflows.tuning.expand_grid": 5 * 60,
    "flyte.workflows.tuning.cross_validate_grid_group": 2 * 60 * 60,
    "flyte.workflows.tuning.choose_hyperparameters": 5 * 60,
    "flyte.workflows.inference.classify_patients": 15 * 60,
}


def test_every_packaged_task_carries_its_documented_timeout(registered):
    timeouts = {name: spec.template.metadata.timeout.ToTimedelta().total_seconds()
                for name, spec in registered.tasks.items()}
    assert {name: timeouts.get(name) for name in DOCUMENTED_TIMEOUTS} == DOCUMENTED_TIMEOUTS
    assert all(seconds > 0 for seconds in timeouts.values()), timeouts  # no task without one, new ones included
    documented = (REPO_ROOT / "docs" / "performance.md").read_text()
    for name, seconds in DOCUMENTED_TIMEOUTS.items():
        row = next(line for line in documented.splitlines() if line.startswith(f"| `{name.rsplit('.', 1)[1]}` |"))
        assert f"| {seconds // 60} min |" in row, row


def test_dry_run_registration_with_the_sandbox_config_succeeds(registered):
    done = pyflyte(
        "--config", "flyte.config", "register", "--dry-run", "--copy", "none",
        "--project", "flytesnacks", "--domain", "development",
        "--image", IMAGE, "--version", "dry-run", "flyte/workflows",
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Registering against localhost:30080" in output
    entities = set(re.findall(r"\[✔\] (?:Task|Workflow|Launch Plan): (\S+) \(Dry run Mode\)", output))
    assert {*TASKS, WORKFLOW, NIGHTLY} <= entities


# The distributed workflow: Dask tasks, each registered with the cluster Flyte's Dask plugin starts for it.
DASK_TASKS = sorted(f"{DISTRIBUTED_MODULE}.{name}" for name, entity in vars(distributed).items()
                    if isinstance(entity, DaskTask))
URL = re.compile(r"(https?|s3|gs|abfss?)://")


def test_the_distributed_workflow_its_dask_tasks_and_its_launch_plan_are_packaged(registered):
    assert len(DASK_TASKS) >= 3  # split, fit and evaluate at least
    for name in DASK_TASKS:
        assert registered.tasks[name].template.type == "dask", name
    assert DISTRIBUTED_WORKFLOW in registered.workflows
    assert registered.launch_plans[DISTRIBUTED_WORKFLOW].spec.workflow_id.name == DISTRIBUTED_WORKFLOW
    # Every task the distributed module registers is either a Dask task or a light one (a job runner-sized pod).
    for name, spec in registered.tasks.items():
        if name.startswith(f"{DISTRIBUTED_MODULE}.") and name not in DASK_TASKS:
            assert spec.template.type == "python-task", name
            limits = {entry.name: entry.value for entry in spec.template.container.resources.limits}
            assert quantity(limits[spec.template.container.resources.MEMORY]) <= 2 * 2**30, name


def test_each_dask_task_asks_for_a_cluster_of_the_image_with_the_limits_its_workers_size_themselves_by(registered):
    """dask.go starts the scheduler and workers from the task's image when the DaskJob names none, and each worker
    with `--nthreads <CPU limit>` and `--memory-limit <memory limit>` only when the limits are set; without them a
    worker would size itself from the node, not from its pod."""
    for name in DASK_TASKS:
        template = registered.tasks[name].template
        job = dask_job(template)
        assert job.workers.number_of_workers >= 1, name
        assert (job.scheduler.image, job.workers.image, template.container.image) == ("", "", IMAGE), name
        for pod in (job.workers, job.scheduler):
            requests = {entry.name: entry.value for entry in pod.resources.requests}
            limits = {entry.name: entry.value for entry in pod.resources.limits}
            assert set(requests) == set(limits) == {pod.resources.CPU, pod.resources.MEMORY}, name
            for kind in requests:
                assert 0 < quantity(requests[kind]) <= quantity(limits[kind]), (name, kind)


def test_the_distributed_launch_plan_takes_the_worker_count_and_has_no_local_default(registered):
    parameters = registered.launch_plans[DISTRIBUTED_WORKFLOW].spec.default_inputs.parameters
    assert set(parameters) == {"dataset", "test_split_ratio", "seed", "hyperparameters", "workers"}
    assert parameters["workers"].default.scalar.WhichOneof("value") == "none_type"  # sized from the data
    interface = registered.workflows[DISTRIBUTED_WORKFLOW].template.interface
    assert set(interface.outputs.variables) == {"model", "accuracy", "metrics", "report", "promoted"}


def uris(literal: Literal) -> list[str]:
    """Every file, folder or data frame location in a literal, however deeply nested."""
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return [uri for item in literal.collection.literals for uri in uris(item)]
    if kind == "map":
        return [uri for item in literal.map.literals.values() for uri in uris(item)]
    if kind != "scalar":
        return []
    scalar = literal.scalar
    which = scalar.WhichOneof("value")
    if which == "blob":
        return [scalar.blob.uri]
    if which == "structured_dataset":
        return [scalar.structured_dataset.uri]
    if which == "union":
        return uris(scalar.union.value)
    return []


def test_no_launch_plan_default_is_a_local_path(registered):
    """A local path in a default exists only on the machine that packaged it (flytekit even copies it to a temporary
    path at packaging): every default location of every launch plan must be a URL."""
    for plan, spec in registered.launch_plans.items():
        for name, parameter in spec.spec.default_inputs.parameters.items():
            for uri in uris(parameter.default):
                assert URL.match(uri), f"{plan}: default of {name} is a local path: {uri}"
    # The walk finds a location however it is wrapped (here an optional file in a list).
    variable = registered.workflows[WORKFLOW].template.interface.inputs.variables["dataset"]
    wrapped = Literal(collection=LiteralCollection(literals=[file_input(variable, "/tmp/shards")]))
    assert uris(wrapped) == ["/tmp/shards"] and not URL.match("/tmp/shards")
