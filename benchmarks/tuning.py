"""The tuning workflow against scikit-learn's GridSearchCV on the bundled data, on a quiet machine and beside busy
processes.

    python benchmarks/tuning.py                      # both conditions, 3 rounds each
    python benchmarks/tuning.py --repeats 1 --conditions busy

Each round runs, in fresh processes and in turn (which one goes first alternates):

- workflow: `pyflyte run flyte/workflows/tuning.py diabetes_xgboost_tuning`, cold: its own empty HOME (flytekit's
  local cache) and TMPDIR, orchestration and the final training, prediction and evaluation report included;
- GridSearchCV: benchmarks/grid_search.py, the same estimator, default grid, StratifiedKFold(5, shuffle, seed 7)
  and split, then the refitted best model's test accuracy.

Conditions: `idle` runs them as they are (whatever else the machine is doing: the 1-minute load average is recorded
beside every run), `busy` beside --busy processes that spin on a CPU each (started before the rounds, stopped after,
on every way out). It prints a Markdown table: medians, the ratio, the load, the chosen settings and the accuracy,
and exits non-zero when the two choose different settings or reach a different accuracy. Wall time is the whole
command, interpreter start-up included. With --grid-search-limit S, a GridSearchCV run still going after S seconds
is stopped and counted as taking S (so its time is a lower bound, the ratio an upper bound, both marked ">", "<"),
as on a crowded machine its run can take an hour.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

import run as harness  # noqa: E402  (run.py: the runner, its isolation and the machine's description)

sys.path.insert(0, str(harness.REPO))
from flyte.cpus import usable_cpus  # noqa: E402

WORKFLOW = [harness.PYFLYTE, "run", "flyte/workflows/tuning.py", "diabetes_xgboost_tuning"]
GRID_SEARCH = [harness.PYTHON, "benchmarks/grid_search.py"]
CHOSEN_BY_WORKFLOW = re.compile(r"hyperparameters=Hyperparameters\(max_depth=(\d+), learning_rate=([0-9.]+), "
                                r"n_estimators=(\d+)")
CHOSEN_BY_GRID_SEARCH = re.compile(r"best=(\{[^}]*\})")
SPIN = "while True: pass"


def chosen_settings(text: str) -> str:
    """max_depth, learning_rate and n_estimators as either command printed them."""
    if match := CHOSEN_BY_WORKFLOW.search(text):
        depth, rate, trees = match.groups()
    else:
        best = json.loads(CHOSEN_BY_GRID_SEARCH.search(text).group(1))
        depth, rate, trees = best["max_depth"], best["learning_rate"], best["n_estimators"]
    return f"max_depth={depth}, learning_rate={float(rate)}, n_estimators={trees}"


def measure(condition: str, busy: int, repeats: int, scratch: Path, limit: float) -> dict[str, dict[str, list]]:
    results = {name: {"seconds": [], "load": [], "chosen": set(), "accuracy": set(), "stopped": 0}
               for name in ("workflow", "GridSearchCV")}
    spinners = [subprocess.Popen([harness.PYTHON, "-c", SPIN]) for _ in range(busy if condition == "busy" else 0)]
    try:
        time.sleep(5 if spinners else 0)  # let the load settle
        for round_ in range(repeats):
            limited = ["timeout", str(limit), *GRID_SEARCH] if limit else GRID_SEARCH
            plan = [("workflow", WORKFLOW), ("GridSearchCV", limited)]
            for name, command in plan if round_ % 2 == 0 else plan[::-1]:
                folder = Path(tempfile.mkdtemp(prefix=f"tuning-{condition}-", dir=scratch))
                try:
                    seconds, _, text = harness.run(command, folder / "home", folder / "tmp", folder / "log.txt")
                except SystemExit as failure:
                    if not (limit and name == "GridSearchCV" and str(failure).startswith("failed (124)")):
                        raise
                    seconds, text = limit, ""
                    results[name]["stopped"] += 1
                results[name]["seconds"].append(seconds)
                results[name]["load"].append(os.getloadavg()[0])
                if text:
                    results[name]["chosen"].add(chosen_settings(text))
                    results[name]["accuracy"].add(harness.accuracy_of(text, command))
                print(f"  {condition:<5} round {round_ + 1}/{repeats}  {name:<12} {seconds:7.2f} s  "
                      f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    return results


def table(measured: dict[str, dict[str, dict[str, list]]], busy: int, repeats: int) -> tuple[str, bool]:
    lines = [
        "| condition | workflow | GridSearchCV | workflow / GridSearchCV | per round | 1-minute load average "
        "(median, max) | chosen by both | test accuracy |",
        "|---|---:|---:|---:|---|---|---|---|",
    ]
    agree = True
    for condition, results in measured.items():
        workflow, search = results["workflow"], results["GridSearchCV"]
        loads = workflow["load"] + search["load"]
        chosen = workflow["chosen"] | search["chosen"]
        accuracy = workflow["accuracy"] | search["accuracy"]
        agree &= len(chosen) == 1 and len(accuracy) == 1
        below, above = ("<", ">") if search["stopped"] else ("", "")
        stopped = f" ({search['stopped']} stopped)" if search["stopped"] else ""
        compared = "" if search["chosen"] else " (workflow only: every GridSearchCV run stopped)"
        rounds = ", ".join(f"{a / b:.2f}x" for a, b in zip(workflow["seconds"], search["seconds"], strict=True))
        label = f"beside {busy} busy processes" if condition == "busy" else "as the machine was"
        lines.append(
            f"| {label} | {statistics.median(workflow['seconds']):.2f} s | "
            f"{above}{statistics.median(search['seconds']):.2f} s{stopped} | "
            f"**{below}{statistics.median(workflow['seconds']) / statistics.median(search['seconds']):.2f}x** | "
            f"{rounds} | "
            f"{statistics.median(loads):.1f}, {max(loads):.1f} | {' / '.join(sorted(chosen))}{compared} | "
            f"{', '.join(sorted(accuracy))} |"
        )
    lines += ["", f"{repeats} round{'s' if repeats > 1 else ''} per condition, medians; {os.cpu_count()} CPUs, "
              f"usable_cpus() = {usable_cpus()} (flyte/cpus.py)."]
    return "\n".join(lines), agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="rounds per condition (medians reported)")
    parser.add_argument("--conditions", default="idle,busy", help="comma-separated: idle, busy")
    parser.add_argument("--busy", type=int, default=2, help="spinning processes beside the busy condition's runs")
    parser.add_argument("--grid-search-limit", type=float, default=0,
                        help="stop a GridSearchCV run after this many seconds and count it as that (0: no limit)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "diabetes-benchmarks")
    args = parser.parse_args()

    harness.MPLCONFIGDIR = str(args.workdir / "matplotlib")
    subprocess.run([harness.PYTHON, "-c", "import matplotlib.font_manager"], check=True,
                   env={**os.environ, "MPLCONFIGDIR": harness.MPLCONFIGDIR})
    scratch = args.workdir / "runs"
    scratch.mkdir(parents=True, exist_ok=True)
    print(f"usable_cpus() = {usable_cpus()} of {os.cpu_count()} CPUs", file=sys.stderr)
    measured = {condition: measure(condition, args.busy, args.repeats, scratch, args.grid_search_limit)
                for condition in args.conditions.split(",")}
    text, agree = table(measured, args.busy, args.repeats)
    print(f"Measured on {harness.machine()}; `python benchmarks/tuning.py {' '.join(sys.argv[1:])}`.\n\n{text}")
    if not agree:
        raise SystemExit("the workflow and GridSearchCV chose different settings or reached different accuracies")


if __name__ == "__main__":
    main()
