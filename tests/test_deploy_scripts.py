"""docker_build_and_tag.sh's and register.sh's choices and messages, with stand-ins that record their calls.

docker, pyflyte and flytectl are stand-ins here; the real build is tests/test_container.py's and the real
packaging tests/test_package.py's. These run anywhere, in a committed copy of the project.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SCRIPT = "docker_build_and_tag.sh"
BASH = shutil.which("bash")
# What the image is built from.
BUILD_INPUTS = ("Dockerfile", ".dockerignore", "requirements.txt", "requirements-build.txt")
PROJECT_FILES = (*BUILD_INPUTS, SCRIPT, "register.sh", "flyte.config", "flytectl.yaml")

# Every test runs the scripts (bash, git and the stand-ins) in subprocesses.
pytestmark = pytest.mark.slow


def git(project: Path, *args: str) -> str:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    return subprocess.run(["git", *identity, *args], cwd=project, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def project(tmp_path) -> Path:
    """A committed git repository holding what the image is built from, the scripts and the configs."""
    project = tmp_path / "project"
    project.mkdir()
    for name in PROJECT_FILES:
        shutil.copy2(REPO_ROOT / name, project / name)
    shutil.copytree(REPO_ROOT / "flyte", project / "flyte", ignore=shutil.ignore_patterns("__pycache__"))
    git(project, "init", "--quiet")
    git(project, "add", ".")
    git(project, "commit", "--quiet", "-m", "snapshot")
    return project


def stand_in(folder: Path, tool: str, body: str = "exit 0") -> None:
    """An executable `tool` that appends its arguments to folder/calls, then runs body."""
    script = folder / tool
    script.write_text(f'#!/bin/bash\necho "{tool} $*" >> "{folder}/calls"\n{body}\n')
    script.chmod(0o755)


@pytest.fixture
def tools(tmp_path) -> Path:
    """A folder of stand-ins for docker, pyflyte and flytectl, to put first on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("docker", "pyflyte", "flytectl"):
        stand_in(folder, tool)
    return folder


def run(project: Path, *args: str, path: str, script: str = SCRIPT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": path}
    return subprocess.run([BASH, script, *args], cwd=project, env=env, capture_output=True, text=True, timeout=60)


def calls(tools: Path) -> list[str]:
    log = tools / "calls"
    return log.read_text().splitlines() if log.exists() else []


def with_tools(tools: Path) -> str:
    return f"{tools}{os.pathsep}{os.environ['PATH']}"


def test_help_explains_every_flag(project, tools):
    done = run(project, "-h", path=with_tools(tools))
    assert done.returncode == 0
    for flag in ("-a APP", "-r REGISTRY", "-v VERSION", "-b BASE_IMAGE", "-p", "-s", "-f", "-h"):
        assert f"  {flag} " in done.stdout, flag
    assert calls(tools) == []


def test_version_defaults_to_the_head_sha_and_the_printed_commands_use_that_tag(project, tools):
    sha = git(project, "rev-parse", "--short", "HEAD").strip()
    image = f"localhost:30000/flyte-xgboost:{sha}"
    done = run(project, "-r", "localhost:30000/", "-p", path=with_tools(tools))
    assert done.returncode == 0, done.stderr
    assert calls(tools) == [
        "docker info",
        f"docker build --tag {image} --build-arg FLYTE_IMAGE={image} .",
        f"docker push {image}",
    ]
    assert f"pyflyte --pkgs flyte.workflows package --image {image} --force\n" in done.stdout
    assert (
        "flytectl --config flytectl.yaml register files --project flytesnacks --domain development"
        f" --archive flyte-package.tgz --version {sha}\n"
    ) in done.stdout
    assert f"./register.sh -i {image}\n" in done.stdout
    assert (
        "pyflyte --config flyte.config register --project flytesnacks --domain development"
        f" --image {image} --version {sha} --copy none flyte/workflows\n"
    ) in done.stdout


def test_app_version_and_base_image_are_passed_to_the_build(project, tools):
    done = run(project, "-a", "diabetes", "-v", "v7", "-b", "local/python:3.11", path=with_tools(tools))
    assert done.returncode == 0, done.stderr
    build_args = "--build-arg FLYTE_IMAGE=diabetes:v7 --build-arg BASE_IMAGE=local/python:3.11"
    assert calls(tools) == ["docker info", f"docker build --tag diabetes:v7 {build_args} ."]


def test_uncommitted_image_inputs_are_refused_unless_forced(project, tools):
    with (project / "flyte" / "model.py").open("a") as source:
        source.write("\n# not committed\n")
    refused = run(project, path=with_tools(tools))
    assert refused.returncode == 1
    assert "flyte/model.py" in refused.stderr
    assert "uncommitted changes" in refused.stderr and "-f" in refused.stderr
    assert calls(tools) == []
    forced = run(project, "-f", path=with_tools(tools))
    assert forced.returncode == 0, forced.stderr
    assert len(calls(tools)) == 2


def test_changes_outside_the_image_do_not_block_a_build(project, tools):
    (project / "notes.txt").write_text("not part of the image\n")
    done = run(project, path=with_tools(tools))
    assert done.returncode == 0, done.stderr


def test_sandbox_mode_builds_inside_the_sandbox_docker(project, tools):
    done = run(project, "-s", "-v", "v1", path=with_tools(tools))
    assert done.returncode == 0, done.stderr
    assert calls(tools) == [
        "flytectl demo exec -- docker build /root --tag flyte-xgboost:v1 --build-arg FLYTE_IMAGE=flyte-xgboost:v1"
    ]


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["-p"], "pass one with -r REGISTRY"), (["-p", "-s", "-r", "localhost:30000"], "build locally to push")],
)
def test_push_needs_a_registry_and_a_local_build(project, tools, flags, message):
    done = run(project, *flags, path=with_tools(tools))
    assert done.returncode == 1
    assert message in done.stderr
    assert calls(tools) == []


def test_outside_a_git_repository_a_version_and_force_are_needed(project, tools):
    shutil.rmtree(project / ".git")
    assert "pass -v VERSION" in run(project, path=with_tools(tools)).stderr
    assert "pass -f" in run(project, "-v", "v1", path=with_tools(tools)).stderr
    assert calls(tools) == []
    assert run(project, "-v", "v1", "-f", path=with_tools(tools)).returncode == 0


def test_clear_message_when_docker_is_not_running(project, tools):
    stand_in(tools, "docker", "exit 1")
    done = run(project, path=with_tools(tools))
    assert done.returncode == 1
    assert "Docker is not running" in done.stderr
    assert calls(tools) == ["docker info"]


def test_clear_message_when_docker_is_not_installed(project, tmp_path):
    only_basics = tmp_path / "basics"
    only_basics.mkdir()
    for tool in ("git", "dirname", "cat"):
        (only_basics / tool).symlink_to(shutil.which(tool))
    done = run(project, path=str(only_basics))
    assert done.returncode == 1
    assert "docker is not installed" in done.stderr


def register(project: Path, tools: Path, *args: str) -> subprocess.CompletedProcess:
    return run(project, *args, path=with_tools(tools), script="register.sh")


def test_register_packages_with_the_image_and_registers_under_its_tag(project, tools):
    done = register(project, tools, "-i", "localhost:30000/flyte-xgboost:abc1234")
    assert done.returncode == 0, done.stderr
    assert calls(tools) == [
        "pyflyte --pkgs flyte.workflows package --image localhost:30000/flyte-xgboost:abc1234 --force",
        "flytectl --config flytectl.yaml register files --project flytesnacks --domain development"
        " --archive flyte-package.tgz --version abc1234",
    ]


def test_register_passes_the_chosen_config_project_domain_and_version(project, tools):
    shutil.copy(project / "flytectl.yaml", project / "staging.yml")
    choices = ("-v", "v2", "-c", "staging.yml", "-p", "ml", "-d", "staging")
    done = register(project, tools, "-i", "flyte-xgboost:abc", *choices)
    assert done.returncode == 0, done.stderr
    assert calls(tools)[-1] == (
        "flytectl --config staging.yml register files --project ml --domain staging"
        " --archive flyte-package.tgz --version v2"
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [("missing.yaml", "not found"), ("flyte.config", "only YAML configs named .yaml/.yml")],
)
def test_register_refuses_a_config_flytectl_cannot_read_before_running_anything(project, tools, config, message):
    done = register(project, tools, "-i", "flyte-xgboost:abc", "-c", config)
    assert done.returncode == 1
    assert message in done.stderr
    assert calls(tools) == []


@pytest.mark.parametrize("image", ["flyte-xgboost", "localhost:30000/flyte-xgboost"])
def test_register_needs_a_version_when_the_image_has_no_tag(project, tools, image):
    done = register(project, tools, "-i", image)
    assert done.returncode == 1
    assert "pass -v VERSION" in done.stderr
    assert calls(tools) == []


def test_register_packages_with_the_projects_venv_when_pyflyte_is_not_on_path(project, tmp_path):
    """The README's install makes .venv without activating it: register.sh finds .venv/bin/pyflyte itself."""
    venv = project / ".venv" / "bin"
    venv.mkdir(parents=True)
    stand_in(venv, "pyflyte")
    flytectl_only = tmp_path / "flytectl-only"
    flytectl_only.mkdir()
    stand_in(flytectl_only, "flytectl")
    without_pyflyte = f"{flytectl_only}{os.pathsep}/usr/bin{os.pathsep}/bin"
    done = run(project, "-i", "flyte-xgboost:abc", path=without_pyflyte, script="register.sh")
    assert done.returncode == 0, done.stderr
    assert calls(venv) == ["pyflyte --pkgs flyte.workflows package --image flyte-xgboost:abc --force"]
    assert len(calls(flytectl_only)) == 1
    shutil.rmtree(project / ".venv")
    done = run(project, "-i", "flyte-xgboost:abc", path=without_pyflyte, script="register.sh")
    assert done.returncode == 1 and "neither .venv/bin/pyflyte" in done.stderr, done.stderr
    assert len(calls(flytectl_only)) == 1  # refused before registering anything
