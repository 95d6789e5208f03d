"""How many CPUs this process may use: the one number every thread pool of the project is sized from; no Flyte here.

A pod's CPU limit is a CFS quota on its cgroup, not fewer cores: os.cpu_count() and pyarrow's default pools see every
core of the node (64 threads in a 2-CPU pod on a 64-core node), and the quota throttles them all in turn. XGBoost
reads the quota itself (docs/performance.md, Threads); everything else asks usable_cpus().
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_MEMBERSHIP = Path("/proc/self/cgroup")


def usable_cpus(cgroup_root: Path = CGROUP_ROOT, membership: Path = CGROUP_MEMBERSHIP) -> int:
    """The whole CPUs this process may keep busy: the smaller of its affinity mask and its cgroup's CPU quota
    (rounded down, at least 1; no quota: the affinity mask alone)."""
    cpus = len(os.sched_getaffinity(0))
    quota = cgroup_cpu_quota(cgroup_root, membership)
    return cpus if quota is None else max(1, min(cpus, math.floor(quota)))


def cgroup_cpu_quota(cgroup_root: Path = CGROUP_ROOT, membership: Path = CGROUP_MEMBERSHIP) -> float | None:
    """CPUs' worth of time per period this process's cgroup may use (1.5 for a 1500m limit), or None without a quota.

    Reads cgroup v2 (`cpu.max`: "QUOTA PERIOD" or "max PERIOD") and v1 (`cpu/cpu.cfs_quota_us`, -1 for none, over
    `cpu.cfs_period_us`) along the process's cgroup path in /proc/self/cgroup and its ancestors, where a parent's
    limit applies too; the smallest quota found wins.
    """
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None  # no cgroups here (not Linux)
    quotas = []
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and not controllers:  # the v2 hierarchy
            for folder in _cgroup_folders(cgroup_root, path):
                quotas.append(_v2_quota(folder / "cpu.max"))
        elif "cpu" in controllers.split(","):  # the v1 hierarchy of the cpu controller
            mount = cgroup_root / "cpu" if (cgroup_root / "cpu").is_dir() else cgroup_root / controllers
            for folder in _cgroup_folders(mount, path):
                quotas.append(_v1_quota(folder / "cpu.cfs_quota_us", folder / "cpu.cfs_period_us"))
    found = [quota for quota in quotas if quota is not None]
    return min(found) if found else None


def _cgroup_folders(mount: Path, path: str) -> list[Path]:
    """The cgroup's folder under `mount` and each ancestor up to the mount. In a container the mount shows the
    container's own cgroup, while /proc/self/cgroup may still name its path on the host: then the mount alone."""
    folder = mount / path.strip("/")
    if not folder.is_dir():
        return [mount]
    return [folder, *(parent for parent in folder.parents if parent.is_relative_to(mount))]


def _v2_quota(cpu_max: Path) -> float | None:
    fields = _read(cpu_max).split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    return int(fields[0]) / int(fields[1])


def _v1_quota(quota_file: Path, period_file: Path) -> float | None:
    quota, period = _read(quota_file), _read(period_file)
    if not quota or not period or int(quota) <= 0 or int(period) <= 0:
        return None  # -1: no quota
    return int(quota) / int(period)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def size_arrow_pools() -> int:
    """Size pyarrow's CPU and I/O thread pools to usable_cpus() (by default they follow the machine's cores, and
    the I/O pool has 8 threads); return that count."""
    import pyarrow as pa

    cpus = usable_cpus()
    pa.set_cpu_count(cpus)
    pa.set_io_thread_count(cpus)
    return cpus
