"""The image as the pods of a Flyte Dask task run it: a scheduler, N workers and the job runner, as Docker containers.

On Kubernetes, Flyte's Dask plugin (flyteorg/flyte v1.16, flyteplugins/go/tasks/plugins/k8s/dask/dask.go) turns
a `dask` task into a DaskJob; the Dask operator (dask/dask-kubernetes, operator/controller/controller.py) then
starts the scheduler pod with the arguments `dask-scheduler`, each worker pod with `dask-worker --name
$(DASK_WORKER_NAME) [--nthreads <CPU limit, rounded up>] [--memory-limit <memory limit>]`, and the job runner pod
with the task's own command; workers and job runner find the scheduler through DASK_SCHEDULER_ADDRESS. Here each
pod is a container on one Docker network, with the same arguments, environment and CPU and memory limits, and the
distributed workflow runs node by node (tests/pods.py) with each Dask task on such a cluster of its own.
"""

from __future__ import annotations

import json
import math
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pytest
from flyteidl.core.literals_pb2 import Literal, Primitive, Scalar
from flytekit.types.directory import FlyteDirectory

from flyte.dataset import load_table
from flyte.model import classify
from flyte.model_file import load_model
from flyte.schema import LABEL
from flyte.shards import row_hash_split
from flyte.workflows.distributed import DatasetLocation
from tests import pods
from tests.conftest import REPO_ROOT
from tests.pods import docker_quantity
from tests.registration import DISTRIBUTED_WORKFLOW, dask_job
from tests.test_container import MOUNT, docker, image, literal_of, on_host, registered  # noqa: F401  (fixtures)

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from synthetic import write_shards  # noqa: E402

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SCHEDULER_PORT = 8786


@dataclass(frozen=True)
class PodResources:
    """A pod's CPU and memory limits as Kubernetes quantities ("2", "500m"; "2Gi"), or None when not set."""

    cpu: str | None
    memory: str | None

    def docker_options(self) -> list[str]:
        options = [f"--cpus={cpu_count(self.cpu)}"] if self.cpu else []
        return options + ([f"--memory={docker_quantity(self.memory)}"] if self.memory else [])


def pod_limits(resources) -> PodResources:
    """A flyteidl Resources message's limits."""
    limits = {entry.name: entry.value for entry in resources.limits}
    return PodResources(limits.get(resources.CPU), limits.get(resources.MEMORY))


def cpu_count(quantity: str) -> float:
    """A Kubernetes CPU quantity in cores: "500m" -> 0.5, "2" -> 2.0."""
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def worker_args(name: str, limits: PodResources) -> list[str]:
    """The worker container's arguments as dask.go's createWorkerSpec builds them (with $(DASK_WORKER_NAME) expanded
    by Kubernetes): --nthreads is the CPU limit rounded up to whole cores (resource.Quantity.Value()), --memory-limit
    the memory limit as written."""
    args = ["dask-worker", "--name", name]
    if limits.cpu:
        args += ["--nthreads", str(math.ceil(cpu_count(limits.cpu)))]
    if limits.memory:
        args += ["--memory-limit", limits.memory]
    return args


@dataclass(frozen=True)
class DaskCluster:
    network: str
    scheduler_address: str
    worker_names: tuple[str, ...]

    def environment(self) -> list[str]:
        """The docker options that put a container on the cluster's network, as the operator does for a pod."""
        return [f"--network={self.network}", f"--env=DASK_SCHEDULER_ADDRESS={self.scheduler_address}"]


@contextmanager
def docker_network() -> str:
    name = f"dask-{uuid.uuid4().hex[:8]}"
    created = docker("network", "create", name)
    assert created.returncode == 0, created.stderr
    try:
        yield name
    finally:
        docker("network", "rm", name)


@contextmanager
def dask_cluster(
    image_tag: str, network: str, workers: int, scheduler: PodResources, worker: PodResources,
    volumes: tuple[str, ...] = (), environment: dict[str, str] | None = None,
):  # fmt: skip
    """Start the scheduler and worker containers of a DaskJob on `network`; remove them afterwards."""
    prefix, containers = f"{network}-{uuid.uuid4().hex[:4]}", []
    variables = [f"--env={key}={value}" for key, value in (environment or {}).items()]
    try:
        scheduler_name = f"{prefix}-scheduler"
        address = f"tcp://{scheduler_name}:{SCHEDULER_PORT}"
        started = docker(
            "run", "--detach", f"--name={scheduler_name}", f"--network={network}", *scheduler.docker_options(),
            *variables, image_tag, "dask-scheduler",
        )  # fmt: skip
        containers.append(scheduler_name)
        assert started.returncode == 0, started.stderr
        names = tuple(f"{prefix}-default-worker-{index}" for index in range(workers))
        for name in names:
            started = docker(
                "run", "--detach", f"--name={name}", f"--network={network}", *worker.docker_options(),
                *variables, f"--env=DASK_WORKER_NAME={name}", f"--env=DASK_SCHEDULER_ADDRESS={address}",
                *(f"--volume={volume}" for volume in volumes), image_tag, *worker_args(name, worker),
            )  # fmt: skip
            containers.append(name)
            assert started.returncode == 0, started.stderr
        yield DaskCluster(network, address, names)
    finally:
        logs = {name: docker("logs", "--tail", "30", name).stderr for name in containers}
        docker("rm", "--force", *containers)
        if any("Traceback" in text for text in logs.values()):
            print(json.dumps(logs, indent=1))


CLIENT_SCRIPT = """
import json, sys
from distributed import Client
client = Client(timeout=60)  # the address comes from DASK_SCHEDULER_ADDRESS, as in the job runner pod
client.wait_for_workers(int(sys.argv[1]), timeout=120)
workers = client.scheduler_info(n_workers=-1)["workers"].values()
total = client.submit(sum, list(range(101))).result()
print(json.dumps({"workers": {w["name"]: [w["nthreads"], w["memory_limit"]] for w in workers}, "sum": total}))
"""


def test_the_scheduler_and_worker_pods_of_flytes_dask_plugin_start_in_the_image(image):  # noqa: F811
    limits = PodResources(cpu="1500m", memory="1Gi")
    with docker_network() as network, dask_cluster(image, network, 2, PodResources("1", "1Gi"), limits) as cluster:
        done = docker("run", "--rm", *cluster.environment(), image, "python", "-c", CLIENT_SCRIPT, "2", timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # 1500m rounds up to 2 threads, as Kubernetes' Quantity.Value() does; 1Gi is 2**30 bytes.
    assert report["workers"] == {name: [2, 2**30] for name in cluster.worker_names}
    assert report["sum"] == 5050


def dask_launch(image_launch: pods.Launch, network: str, work: Path, clusters: list) -> pods.Launch:
    """Run a `dask` task as its DaskJob: a cluster of the workers, scheduler and resources its template asks for
    (the task container's own resources where the DaskJob names none, as dask.go does), then the job runner with
    DASK_SCHEDULER_ADDRESS; any other task as a plain pod. `clusters` collects each Dask task's worker count."""

    def launch(pod: pods.Pod) -> None:
        if pod.template.type != "dask":
            image_launch(pod)
            return
        job, own = dask_job(pod.template), pod_limits(pod.container.resources)
        scheduler = pod_limits(job.scheduler.resources) if job.scheduler.resources.limits else own
        worker = pod_limits(job.workers.resources) if job.workers.resources.limits else own
        environment = {pair.key: pair.value for pair in pod.container.env}
        clusters.append((pod.task, job.workers.number_of_workers))
        with dask_cluster(
            pod.container.image, network, job.workers.number_of_workers, scheduler, worker,
            volumes=(f"{work}:{MOUNT}",), environment=environment,
        ) as cluster:  # fmt: skip
            scheduler_address = {"DASK_SCHEDULER_ADDRESS": cluster.scheduler_address}
            image_launch(replace(pod, environment={**pod.environment, **scheduler_address}))

    return launch


def test_the_distributed_workflow_runs_in_the_image_with_each_dask_task_on_its_own_cluster(registered, tmp_path):  # noqa: F811
    """diabetes_xgboost_model_distributed from its package, each pod a container, with 1 worker (the registered
    Dask tasks ask for 2: the run's `workers` input must reach the clusters)."""
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o777)  # the image's user is not root
    write_shards(3_000, 3, work / "shards", seed=8)
    defaults = registered.launch_plans[DISTRIBUTED_WORKFLOW].spec.default_inputs.parameters
    inputs = {name: parameter.default for name, parameter in defaults.items()}
    shards = FlyteDirectory(str(MOUNT / "shards"), remote_directory=False)  # a path as the containers see it
    inputs["dataset"] = literal_of(shards, DatasetLocation | None)
    inputs["workers"] = Literal(scalar=Scalar(primitive=Primitive(integer=1)))
    clusters: list[tuple[str, int]] = []
    with docker_network() as network:
        image_launch = pods.docker_launch(work, MOUNT, options=[f"--network={network}"])
        launch = dask_launch(image_launch, network, work, clusters)
        run = pods.run_workflow(registered, DISTRIBUTED_WORKFLOW, inputs, work, launch)
    dask_tasks = ["split_shards_on_dask", "fit_on_dask", "compare_on_dask", "evaluate_on_dask"]
    assert [task for task, _ in clusters] == dask_tasks
    assert {workers for _, workers in clusters} == {1}
    # The model it wrote, measured here on the rows the split rule holds out: the accuracy it reported.
    table = pa.concat_tables(load_table(path) for path in sorted((work / "shards").glob("*.csv")))
    ratio, seed = (defaults[name].default.scalar.primitive for name in ("test_split_ratio", "seed"))
    test = table.filter(pa.array(row_hash_split(table, ratio.float_value, seed.integer))).to_pandas()
    classifier = load_model(on_host(work, run.outputs["model"])).classifier
    accuracy = (classify(classifier, test)["predicted"] == test[LABEL]).mean()
    assert run.outputs["accuracy"].scalar.primitive.float_value == pytest.approx(accuracy, abs=1e-15)
    assert accuracy > max(test[LABEL].mean(), 1 - test[LABEL].mean())  # it learned more than the majority class
