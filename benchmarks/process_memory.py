"""The peak memory of every process in a command's process tree, for the Dask worker processes' own peaks (Linux).

`ru_maxrss` from `wait4` gives one number for a whole tree (the largest process), which cannot tell the job's driver
from its Dask workers. Here a thread lists the tree's processes every `interval` seconds and reads each one's
VmHWM from /proc/PID/status: the kernel's own high-water mark of that process's resident set, so a short spike
between two samples is not missed; only growth in a process's last `interval` before it exits can be.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import psutil

# How a Dask worker process started by its nanny (multiprocessing's default "spawn" method) shows in `ps`.
DASK_WORKER_MARK = "spawn_main"


def vm_hwm_kib(pid: int) -> int | None:
    """The peak resident set size of a live process in KiB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


@dataclass
class ProcessPeaks:
    """Peaks by process of the tree under `watch(pid)`, until `stop()`."""

    interval: float = 0.05
    peak_kib: dict[int, int] = field(default_factory=dict)
    command: dict[int, str] = field(default_factory=dict)
    root: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def watch(self, pid: int) -> None:
        self.root = pid
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _sample(self) -> None:
        try:
            root = psutil.Process(self.root)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in tree:
                # Read again until it names a worker: just after the fork, before the exec, a new process still
                # shows its parent's command line.
                if DASK_WORKER_MARK not in self.command.get(process.pid, ""):
                    try:
                        self.command[process.pid] = " ".join(process.cmdline())
                    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                        continue
                peak = vm_hwm_kib(process.pid)
                if peak is not None:
                    self.peak_kib[process.pid] = max(peak, self.peak_kib.get(process.pid, 0))
            self._stop.wait(self.interval)

    @property
    def root_mib(self) -> float:
        """The peak of the command's own process: for `pyflyte run`, the tasks' driver side."""
        return self.peak_kib.get(self.root, 0) / 1024

    @property
    def worker_mib(self) -> list[float]:
        """The peak of each Dask worker process the command started, largest first."""
        workers = [pid for pid, command in self.command.items() if DASK_WORKER_MARK in command]
        return sorted((self.peak_kib.get(pid, 0) / 1024 for pid in workers), reverse=True)
