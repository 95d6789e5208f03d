"""usable_cpus() on fake cgroup trees: cgroup v2 and v1 quotas, no quota, no cgroups, nested limits, a smaller
affinity mask; and pyarrow's pools sized from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flyte import cpus
from flyte.cpus import usable_cpus


@pytest.fixture
def eight_cpus(monkeypatch):
    """A process allowed on 8 CPUs."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def v2_tree(root: Path, cgroup: str, cpu_max_by_folder: dict[str, str]) -> Path:
    """A cgroup v2 mount at root/fs, the process in `cgroup`, cpu.max in the given folders; its membership file."""
    for folder, cpu_max in cpu_max_by_folder.items():
        write(root / "fs" / folder.strip("/") / "cpu.max", cpu_max + "\n")
    (root / "fs" / cgroup.strip("/")).mkdir(parents=True, exist_ok=True)
    write(root / "cgroup", f"0::{cgroup}\n")
    return root / "cgroup"


def v1_tree(root: Path, quota: str, period: str = "100000") -> Path:
    """A cgroup v1 cpu controller mounted at root/fs/cpu (a container's view: its own cgroup at the mount)."""
    write(root / "fs" / "cpu" / "cpu.cfs_quota_us", quota + "\n")
    write(root / "fs" / "cpu" / "cpu.cfs_period_us", period + "\n")
    write(root / "cgroup", "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n")
    return root / "cgroup"


@pytest.mark.parametrize("cpu_max, expected", [
    ("200000 100000", 2),  # a 2-CPU limit
    ("150000 100000", 1),  # 1500m: rounded down, never more threads than whole CPUs of quota
    ("50000 100000", 1),  # 500m: at least one
    ("max 100000", 8),  # no limit: the affinity mask
])
def test_cgroup_v2_quota(tmp_path, eight_cpus, cpu_max, expected):
    membership = v2_tree(tmp_path, "/", {"/": cpu_max})
    assert usable_cpus(tmp_path / "fs", membership) == expected


def test_cgroup_v2_limit_of_a_parent_applies_to_its_children(tmp_path, eight_cpus):
    membership = v2_tree(tmp_path, "/kubepods/pod1/container", {
        "/kubepods": "max 100000", "/kubepods/pod1": "300000 100000", "/kubepods/pod1/container": "max 100000",
    })
    assert usable_cpus(tmp_path / "fs", membership) == 3


@pytest.mark.parametrize("quota, period, expected", [("100000", "100000", 1), ("400000", "100000", 4),
                                                     ("-1", "100000", 8)])
def test_cgroup_v1_quota(tmp_path, eight_cpus, quota, period, expected):
    membership = v1_tree(tmp_path, quota, period)
    assert usable_cpus(tmp_path / "fs", membership) == expected


def test_without_cgroups_the_affinity_mask_decides(tmp_path, eight_cpus):
    assert usable_cpus(tmp_path / "no-cgroup-fs", tmp_path / "no-membership-file") == 8
    write(tmp_path / "cgroup", "0::/\n")  # cgroups, but no cpu controller files
    assert usable_cpus(tmp_path / "empty-fs", tmp_path / "cgroup") == 8


def test_an_affinity_mask_smaller_than_the_quota_decides(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})  # e.g. taskset -c 0,1
    membership = v2_tree(tmp_path, "/", {"/": "400000 100000"})
    assert usable_cpus(tmp_path / "fs", membership) == 2


def test_arrow_pools_follow_usable_cpus(monkeypatch):
    import pyarrow as pa

    before = pa.cpu_count(), pa.io_thread_count()
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 3)
    try:
        assert cpus.size_arrow_pools() == 3
        assert (pa.cpu_count(), pa.io_thread_count()) == (3, 3)
    finally:
        pa.set_cpu_count(before[0])
        pa.set_io_thread_count(before[1])
