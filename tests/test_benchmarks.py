"""benchmarks/run.py from a venv without pytest (the runtime lock has none): the harness and the pod-running code it
shares with the tests (tests/pods.py, tests/registration.py) import no pytest."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

# benchmarks/run.py --help as its own process with pytest made unimportable (None in sys.modules: ImportError).
WITHOUT_PYTEST = """
import runpy, sys
sys.modules["pytest"] = None
sys.argv = ["benchmarks/run.py", "--help"]
runpy.run_path("benchmarks/run.py", run_name="__main__")
"""


@pytest.mark.slow
def test_the_benchmark_harness_loads_without_pytest():
    done = subprocess.run([sys.executable, "-c", WITHOUT_PYTEST], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--smoke" in done.stdout and "--startup-baseline" in done.stdout  # the help, after every import
