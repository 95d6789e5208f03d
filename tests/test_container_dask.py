"""The image as the pods of a Flyte Dask task run it: a scheduler, N workers and the job runner, as Docker containers.

On Kubernetes, Flyte's Dask plugin (flyteorg/flyte v1.16, flyteplugins/go/tasks/plugins/k8s/dask/dask.go) turns
a `dask` task into a DaskJob; the Dask operator (dask/dask-kubernetes, operator/controller/controller.py) then
starts the scheduler pod with the arguments `dask-scheduler`, each worker pod with `dask-worker --name
$(DASK_WORKER_NAME) [--nthreads <CPU limit, rounded up>] [--memory-limit <memory limit>]`, and the job runner pod
with the task's own command; workers and job runner find the scheduler through DASK_SCHEDULER_ADDRESS. Here each
pod is a container on one Docker network, with the same arguments, environment and CPU and memory limits.
"""

from __future__ import annotations

import json
import math
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.pods import docker_quantity
from tests.test_container import docker, image  # noqa: F401  (the module-scoped image fixture)

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
def dask_cluster(image_tag: str, workers: int, scheduler: PodResources, worker: PodResources, *volumes: str):
    """Start the scheduler and worker containers of a DaskJob; remove them and their network afterwards."""
    prefix = f"dask-{uuid.uuid4().hex[:8]}"
    network, containers = prefix, []
    created = docker("network", "create", network)
    assert created.returncode == 0, created.stderr
    try:
        scheduler_name = f"{prefix}-scheduler"
        address = f"tcp://{scheduler_name}:{SCHEDULER_PORT}"
        started = docker(
            "run", "--detach", f"--name={scheduler_name}", f"--network={network}", *scheduler.docker_options(),
            image_tag, "dask-scheduler",
        )  # fmt: skip
        containers.append(scheduler_name)
        assert started.returncode == 0, started.stderr
        names = tuple(f"{prefix}-default-worker-{index}" for index in range(workers))
        for name in names:
            started = docker(
                "run", "--detach", f"--name={name}", f"--network={network}", *worker.docker_options(),
                f"--env=DASK_WORKER_NAME={name}", f"--env=DASK_SCHEDULER_ADDRESS={address}",
                *(f"--volume={volume}" for volume in volumes), image_tag, *worker_args(name, worker),
            )  # fmt: skip
            containers.append(name)
            assert started.returncode == 0, started.stderr
        yield DaskCluster(network, address, names)
    finally:
        logs = {name: docker("logs", "--tail", "30", name).stderr for name in containers}
        docker("rm", "--force", *containers)
        docker("network", "rm", network)
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
    with dask_cluster(image, 2, PodResources(cpu="1", memory="1Gi"), limits) as cluster:
        done = docker("run", "--rm", *cluster.environment(), image, "python", "-c", CLIENT_SCRIPT, "2", timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # 1500m rounds up to 2 threads, as Kubernetes' Quantity.Value() does; 1Gi is 2**30 bytes.
    assert report["workers"] == {name: [2, 2**30] for name in cluster.worker_names}
    assert report["sum"] == 5050
