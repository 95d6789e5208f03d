"""The README and docs/*.md: their links resolve, every page is linked from the README, and the commands they
print name files that exist, configs their tools can read, and nothing outside the repository."""

from __future__ import annotations

import configparser
import re
import subprocess

import yaml
from flytekit.configuration import PlatformConfig

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
SCRIPT = "docker_build_and_tag.sh"
DOCS = [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]
# A Markdown link or image to a file of the repository: [text](target) or [text](target#anchor).
LOCAL_LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)#\s]+)(?:#[^)]*)?\)")


def documented_text() -> str:
    return "\n".join(doc.read_text() for doc in DOCS if doc.is_file())


def test_every_link_to_a_file_of_the_repository_resolves():
    broken = [
        f"{doc.relative_to(REPO_ROOT)}: {target}"
        for doc in DOCS
        for target in LOCAL_LINK.findall(doc.read_text())
        if not (doc.parent / target).exists()
    ]
    assert not broken


def test_the_readme_links_to_every_docs_page():
    linked = {(REPO_ROOT / target).resolve() for target in LOCAL_LINK.findall(README.read_text())}
    assert {page.resolve() for page in DOCS[1:]} - linked == set()


def test_the_readme_says_where_every_module_lives():
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `flyte/")]
    plain_rows = "\n".join(row for row in rows if not row.startswith("| `flyte/workflows/"))
    workflow_rows = "\n".join(row for row in rows if row.startswith("| `flyte/workflows/"))
    package = REPO_ROOT / "flyte"
    missing = [
        f"flyte/{module.name}"
        for module in package.glob("*.py")
        if module.stem != "__init__" and f"`flyte/{module.name}`" not in plain_rows
    ]
    missing += [
        f"flyte/workflows/{module.name}"
        for module in (package / "workflows").glob("*.py")
        if module.stem != "__init__" and f"{module.name}`" not in workflow_rows
    ]
    assert not missing, f"README.md's Where the code lives does not name {missing}"


def test_no_documented_command_depends_on_a_folder_beside_the_clone():
    """A clone has nothing beside it: the data set is bundled, and every path is inside the repository."""
    assert not re.findall(r".*(?<![.\w])\.\./.*", documented_text())


def test_pyflyte_and_flytectl_configs_name_the_same_sandbox():
    """flyte.config is INI for pyflyte, flytectl.yaml YAML for flytectl; flytekit reads both the same way."""
    assert configparser.ConfigParser().read(REPO_ROOT / "flyte.config")
    assert yaml.safe_load((REPO_ROOT / "flytectl.yaml").read_text())["admin"]["endpoint"] == "dns:///localhost:30080"
    pyflyte_settings = PlatformConfig.auto(str(REPO_ROOT / "flyte.config"))
    assert pyflyte_settings == PlatformConfig.auto(str(REPO_ROOT / "flytectl.yaml"))
    assert (pyflyte_settings.endpoint, pyflyte_settings.insecure) == ("localhost:30080", True)
    assert pyflyte_settings.console_endpoint == "http://localhost:30080"


# flytectl commands that need no admin connection, and so no config.
FLYTECTL_WITHOUT_ADMIN = re.compile(r"flytectl (demo|sandbox|version|completion|--help|-h\b)")


def documented_commands() -> list[str]:
    """Every line of the docs' code blocks and of the build script that runs pyflyte or flytectl."""
    sources = [documented_text(), (REPO_ROOT / SCRIPT).read_text()]
    lines = [line.strip().lstrip("$ ") for text in sources for line in text.splitlines()]
    commands = [re.sub(r"^\.venv/bin/", "", line) for line in lines]
    return [command for command in commands if re.match(r"(pyflyte|flytectl) ", command)]


def test_every_documented_command_that_talks_to_flyte_passes_a_config_its_tool_can_read():
    commands = documented_commands()
    assert any(command.startswith("flytectl --config") for command in commands)
    for command in commands:
        tool = command.split()[0]
        config = re.search(r"--config (\S+)", command)
        if tool == "flytectl" and FLYTECTL_WITHOUT_ADMIN.match(command):
            continue
        if tool == "pyflyte" and " --remote" not in command and " register" not in command:
            continue
        assert config, f"no --config in: {command}"
        if config.group(1).startswith("<"):
            continue  # a placeholder for the reader's own cluster config
        path = REPO_ROOT / config.group(1)
        assert path.is_file(), f"{path} does not exist: {command}"
        if tool == "flytectl":
            assert path.suffix in {".yaml", ".yml"}, f"flytectl reads YAML only from .yaml/.yml: {command}"
            assert yaml.safe_load(path.read_text())["admin"]["endpoint"]
        else:
            assert PlatformConfig.auto(str(path)).endpoint, command


def code_block_commands() -> list[tuple[str, str]]:
    """(page, line) for every line of the docs' fenced code blocks, a console's `$ ` prompt removed."""
    found = []
    for doc in DOCS:
        inside = False
        for line in doc.read_text().splitlines():
            if line.strip().startswith("```"):
                inside = not inside
            elif inside:
                found.append((doc.name, line.strip().removeprefix("$ ")))
    return found


def test_every_documented_python_and_pyflyte_command_runs_from_the_venv_the_readme_makes():
    """The README's install makes .venv without activating it; a bare `python` or `pyflyte` is another one, without
    this project's packages (`No module named 'pyarrow'`). The build script prints commands to copy too."""
    printed = [("docker_build_and_tag.sh", line.strip()) for line in (REPO_ROOT / SCRIPT).read_text().splitlines()]
    bare = [
        f"{page}: {command}"
        for page, command in [*code_block_commands(), *printed]
        if re.search(r"(?:^|[;&|(]\s*|\$\()(python|pyflyte)\s", command)
    ]
    assert not bare


def test_files_the_documented_commands_write_are_ignored_by_git():
    """Following the docs leaves nothing untracked in the clone: what their commands write goes to an ignored
    folder."""
    written = {
        path
        for _, command in code_block_commands()
        for path in re.findall(r"(?:--output|--execFile|(?<!\S)>)\s+([\w./-]+)", command)
    }
    assert written
    ignored = subprocess.run(
        ["git", "check-ignore", "--stdin"], cwd=REPO_ROOT, input="\n".join(sorted(written)), capture_output=True,
        text=True,
    ).stdout.split()  # fmt: skip
    assert sorted(written) == sorted(ignored)


def test_every_packaging_command_names_the_image():
    """Without --image, pyflyte package names flytekit's default image, which has no XGBoost: every task would fail."""
    commands = [command for _, command in code_block_commands()]
    commands += re.findall(r"`([^`]*pyflyte [^`]*package[^`]*)`", README.read_text())
    packaging = [command for command in commands if re.search(r"pyflyte --pkgs \S+ package", command)]
    assert packaging
    assert [command for command in packaging if "--image " not in command] == []
