"""benchmarks/process_memory.py: the per-process peaks the distributed benchmark reports for Dask workers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from process_memory import ProcessPeaks  # noqa: E402

# A local cluster of two worker processes; one of them holds 400 MiB of numpy data at once, the other nothing.
SCRIPT = textwrap.dedent("""
    import numpy as np
    from distributed import Client, LocalCluster

    def hold(mib):
        return float(np.ones(mib * 2**20 // 8).sum())

    if __name__ == "__main__":
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as c:
            first = sorted(c.scheduler_info()["workers"])[0]
            print(c.submit(hold, 400, workers=[first], pure=False).result())
""")


@pytest.mark.slow
def test_each_dask_worker_process_gets_its_own_peak(tmp_path):
    script = tmp_path / "cluster.py"
    script.write_text(SCRIPT)
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    peaks = ProcessPeaks()
    peaks.watch(process.pid)
    output, _ = process.communicate(timeout=120)
    peaks.stop()
    assert process.returncode == 0
    assert float(output) == 400 * 2**20 // 8
    holding, idle = peaks.worker_mib  # exactly two worker processes; the resource tracker is not one
    assert 400 < holding < 400 + 300  # the array plus an interpreter with numpy and distributed
    assert idle < holding - 350
    assert peaks.root_mib < holding - 300  # the driver held none of it
