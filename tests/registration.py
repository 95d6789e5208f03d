"""Package the workflows as a user does (`pyflyte package`) and read back, with flyteidl, what would be registered.

Shared with the benchmarks (benchmarks/startup.py), like tests/pods.py: neither needs pytest.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from flyteidl.admin.launch_plan_pb2 import LaunchPlan
from flyteidl.admin.task_pb2 import TaskSpec
from flyteidl.admin.workflow_pb2 import WorkflowSpec
from flyteidl.core.literals_pb2 import Blob, BlobMetadata, Literal, Scalar, Union
from flyteidl.plugins.dask_pb2 import DaskJob
from google.protobuf.json_format import MessageToDict, ParseDict

REPO_ROOT = Path(__file__).resolve().parent.parent
PYFLYTE = Path(sys.executable).with_name("pyflyte")
WORKFLOW_MODULE = "flyte.workflows.example"
WORKFLOW = f"{WORKFLOW_MODULE}.diabetes_xgboost_model"
TASKS = tuple(f"{WORKFLOW_MODULE}.{name}" for name in ("split_traintest_dataset", "fit", "predict", "score"))
DISTRIBUTED_MODULE = "flyte.workflows.distributed"
DISTRIBUTED_WORKFLOW = f"{DISTRIBUTED_MODULE}.diabetes_xgboost_model_distributed"


@dataclass(frozen=True)
class Package:
    """The entities of a `flyte-package.tgz`, by full name."""

    tasks: dict[str, TaskSpec]
    workflows: dict[str, WorkflowSpec]
    launch_plans: dict[str, LaunchPlan]


def pyflyte(*args: str, project: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """Run pyflyte in `project` (HOME is the test session's temporary one), capturing its output."""
    return subprocess.run([str(PYFLYTE), *args], cwd=project, capture_output=True, text=True, timeout=300)


def package(image: str, out_dir: Path, project: Path = REPO_ROOT) -> Path:
    """`pyflyte --pkgs flyte.workflows package --image IMAGE` into out_dir; returns the archive."""
    archive = out_dir / "flyte-package.tgz"
    done = pyflyte(
        "--pkgs", "flyte.workflows", "package", "--image", image, "--output", str(archive), "--force", project=project
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return archive


def read_package(archive: Path) -> Package:
    """Parse every .pb of the archive by its suffix: _1 TaskSpec, _2 WorkflowSpec, _3 LaunchPlan."""
    kinds = {"1": (TaskSpec, {}), "2": (WorkflowSpec, {}), "3": (LaunchPlan, {})}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.name.endswith(".pb"):
                continue
            message_type, by_name = kinds[member.name.removesuffix(".pb").rsplit("_", 1)[1]]
            entity = message_type.FromString(tar.extractfile(member).read())
            template = getattr(entity, "template", entity)  # a LaunchPlan has its id at top level
            by_name[template.id.name] = entity
    return Package(tasks=kinds["1"][1], workflows=kinds["2"][1], launch_plans=kinds["3"][1])


def file_input(variable, uri: str) -> Literal:
    """A file given to a file input of a registered interface, as Flyte passes it: a blob of the input's type; for an
    optional input (a union with none, such as the training workflows' dataset) the blob wrapped in the union."""
    if not variable.type.HasField("union_type"):
        return Literal(scalar=Scalar(blob=Blob(uri=uri, metadata=BlobMetadata(type=variable.type.blob))))
    (file_type,) = [variant for variant in variable.type.union_type.variants if variant.HasField("blob")]
    blob = Literal(scalar=Scalar(blob=Blob(uri=uri, metadata=BlobMetadata(type=file_type.blob))))
    return Literal(scalar=Scalar(union=Union(value=blob, type=file_type)))


def dask_job(template) -> DaskJob:
    """The cluster a `dask` task template asks for: its custom field parsed back into the plugin's DaskJob message,
    as Flyte's Dask backend plugin reads it (utils.UnmarshalStructToPb in flyteplugins' dask.go)."""
    return ParseDict(MessageToDict(template.custom), DaskJob())
