"""What a task's process loads and when its task body starts: the import tests' and the start-up benchmark's probe.

Python imports this file at start-up when its folder is on PYTHONPATH and POD_PROBE_REPORT names a file; it is
never part of the image or of the project's code. It writes, as JSON to $POD_PROBE_REPORT:

- seconds_to_task_body: from the process's start (its start time in /proc, 10 ms resolution) to the moment
  flytekit calls the task function (PythonFunctionTask.execute), after the task module is loaded and the inputs read;
  cpu_seconds_to_task_body: the CPU time the process used by then (less sensitive than wall time to other load);
- modules_at_task_body and modules_at_exit: sys.modules at those two moments.
"""

import atexit
import importlib.abc
import importlib.util
import json
import os
import sys
import time

TASK_MODULE = "flytekit.core.python_function_task"
REPORT = os.environ.get("POD_PROBE_REPORT")
found: dict = {}


def seconds_since_process_start() -> float:
    with open("/proc/self/stat") as stat:
        start_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime, in clock ticks
    return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")


def record_task_body_start(task_class) -> None:
    execute = task_class.execute

    def execute_recorded(self, **kwargs):
        if "seconds_to_task_body" not in found:
            found["seconds_to_task_body"] = seconds_since_process_start()
            found["cpu_seconds_to_task_body"] = time.process_time()  # user + system, all threads, since the start
            found["modules_at_task_body"] = sorted(sys.modules)
        return execute(self, **kwargs)

    task_class.execute = execute_recorded


class PatchWhenImported(importlib.abc.MetaPathFinder):
    """Wraps PythonFunctionTask.execute once flytekit loads it, so that the probe itself imports nothing early."""

    def find_spec(self, name, path=None, target=None):
        if name != TASK_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            record_task_body_start(module.PythonFunctionTask)

        spec.loader.exec_module = exec_and_patch
        return spec


def write_report() -> None:
    with open(REPORT, "w") as stream:
        json.dump({**found, "modules_at_exit": sorted(sys.modules)}, stream)


if REPORT:
    sys.meta_path.insert(0, PatchWhenImported())
    atexit.register(write_report)
