"""Run one task of the workflow alone in this process, as its own pod would, for its peak memory.

    python benchmarks/one_task.py STATE.json split_traintest_dataset|fit|predict|compare_with_champion|score

STATE.json starts as {"dataset": CSV}; each step takes the inputs it declares from it (the earlier steps' outputs)
and adds its own outputs and its declared resource limits. The task runs through flytekit's local execution, as in
`pyflyte run`: the same (de)serialisation of inputs and outputs, the same cache (empty, in run.py's HOME).
"""

import dataclasses
import json
import sys

from flytekit import StructuredDataset
from flytekit.types.file import FlyteFile

from flyte.hyperparameters import Hyperparameters
from flyte.workflows import example

SEED, TEST_SPLIT_RATIO = 7, 0.33
# Names under which a step's unnamed single output is kept for the later steps (= their input name).
OUTPUT_ALIASES = {"fit": "model", "predict": "predictions", "compare_with_champion": "comparison"}


def inputs(state: dict, types: dict) -> dict:
    """The task's inputs by name: known settings and files, else the earlier steps' outputs (a table's location
    becomes a StructuredDataset; a str input, such as a data set's source, stays a str; a dataclass, such as the
    champion comparison, is made again from its fields)."""
    known = {
        "dataset": lambda: FlyteFile(state["dataset"]),
        "test_split_ratio": lambda: TEST_SPLIT_RATIO,
        "seed": lambda: SEED,
        "hyperparameters": Hyperparameters,
        "model": lambda: FlyteFile(state["model"]),
    }
    return {
        name: known[name]() if name in known
        else types[name](**state[name]) if dataclasses.is_dataclass(types[name])
        else state[name] if not isinstance(state[name], str)
        or types[name] is str or not state[name].startswith(("/", "file:", "s3:", "gs:"))
        else StructuredDataset(uri=state[name])
        for name in types
    }


def stored(value):
    if isinstance(value, (int, float, str, bool)):
        return value
    if isinstance(value, StructuredDataset):
        return value.literal.uri if value.literal is not None else value.uri
    if isinstance(value, FlyteFile):
        return value.path
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return repr(value)


def main(state_path: str, step: str) -> None:
    with open(state_path) as stream:
        state = json.load(stream)
    task = getattr(example, step)
    outputs = task(**inputs(state, task.python_interface.inputs))
    outputs = tuple(outputs) if isinstance(outputs, tuple) else (outputs,)
    names = [OUTPUT_ALIASES.get(step, name) if name == "o0" else name for name in task.python_interface.outputs]
    for name, value in zip(names, outputs, strict=True):
        state[name] = stored(value)
    if "accuracy" in state:
        print(f"accuracy={state['accuracy']}")
    limits = task.resources.limits if task.resources else None
    state.setdefault("limits", {})[step] = {
        "mem_limit": getattr(limits, "mem", None), "cpu_limit": getattr(limits, "cpu", None)
    }
    with open(state_path, "w") as stream:
        json.dump(state, stream)


if __name__ == "__main__":
    main(*sys.argv[1:])
