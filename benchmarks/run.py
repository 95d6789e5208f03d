"""Benchmark the diabetes pipeline against the bare libraries and the original tutorial, at several data sizes.

    python benchmarks/run.py                       # 768, 1M and 10M rows, 3 repeats (the full run)
    python benchmarks/run.py --sizes 768 --repeats 1   # smoke test, as CI runs it

For each size it writes a deterministic Pima-shaped synthetic CSV (benchmarks/synthetic.py) into --workdir (kept
there for the next run), then measures, in fresh processes and interleaved round by
round so that background load hits every variant alike:

- plain:            benchmarks/plain.py, the same split, fit, predict and accuracy with the bare libraries (the floor);
- plain, same work: benchmarks/plain.py --same-work, which also does what the workflow does beyond the accuracy
                    (model file with the training rows' digest, evaluation metrics, evaluation report), with the
                    project's Flyte-free functions: the work itself, so the ratio to it is the orchestration's cost;
- workflow cold:    `pyflyte run flyte/workflows/example.py diabetes_xgboost_model` with an empty local cache;
- workflow cached:  the same command again with the same cache (every task a cache hit);
- tutorial:         `pyflyte run benchmarks/tutorial.py diabetes_xgboost_model`, the original tutorial's approach;
- tasks:            each task of the workflow once more, alone in a fresh process (as in its own pod), for its peak
                    memory against its declared limit.

Then, once, with the smallest size's CSV: each task's start-up in the image, as a pod runs it (benchmarks/startup.py:
the seconds from the process's start to the task body, `docker run` of its serialized command), for the work tree's
image and, with --startup-baseline COMMIT, that commit's image ("before"); left out, saying why, without Docker.

Wall time is the whole command, interpreter start-up included. Peak memory is the peak resident set size
(ru_maxrss from wait4) of the command's process and its waited-for children. Every run gets its own HOME
(flytekit's local cache lives in ~/.flyte) and TMPDIR (flytekit writes task outputs there), under --workdir,
deleted afterwards: the user's ~/.flyte is never touched. Matplotlib's font cache (MPLCONFIGDIR) is one folder
under --workdir, built once before measuring, as on any machine where matplotlib has run before. It prints a
Markdown table per size with the medians, the ratios and the targets of issue #5, checks that all variants report
the same accuracy, and exits non-zero if a run fails or the accuracies differ (a missed target is reported, not an
error, unless --check-targets).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
sys.path.insert(0, str(BENCHMARKS))
sys.path.insert(0, str(REPO))  # the start-up section runs tasks as pods with tests/pods.py

import startup  # noqa: E402
from synthetic import row_count, synthetic_csv  # noqa: E402

PYTHON = sys.executable
PYFLYTE = str(Path(sys.executable).with_name("pyflyte"))
ACCURACY = re.compile(r"accuracy=([0-9.]+)")
MPLCONFIGDIR = ""  # set in main(): one matplotlib config/font-cache folder for every run
VARIANTS = ("plain", "plain, same work", "workflow cold", "workflow cached", "tutorial")


@dataclass
class Measure:
    seconds: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    accuracy: set[str] = field(default_factory=set)
    load: list[float] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def peak(self) -> float:
        return statistics.median(self.peak_mib)


def run(command: list[str], home: Path, tmp: Path, log: Path) -> tuple[float, float, str]:
    """Run `command` from the repo root; return its wall seconds, peak RSS in MiB and stdout."""
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp), "PYTHONPATH": str(REPO), "MPLCONFIGDIR": MPLCONFIGDIR}
    env.pop("PYTHONSTARTUP", None)
    for folder in (home, tmp):
        folder.mkdir(parents=True, exist_ok=True)
    with open(log, "w+") as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}\n{text[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, text


def accuracy_of(text: str, command: list[str]) -> str:
    found = ACCURACY.findall(text)
    if not found:
        raise SystemExit(f"no accuracy in the output of {' '.join(command)}:\n{text[-2000:]}")
    return found[0]


def benchmark_size(rows: int, csv: Path, repeats: int, scratch: Path) -> tuple[dict[str, Measure], list[dict]]:
    measures = {variant: Measure() for variant in VARIANTS}
    workflow = [PYFLYTE, "run", "flyte/workflows/example.py", "diabetes_xgboost_model", "--dataset", str(csv)]
    tutorial = [PYFLYTE, "run", "benchmarks/tutorial.py", "diabetes_xgboost_model", "--dataset", str(csv)]
    plain = [PYTHON, "benchmarks/plain.py", str(csv)]
    same_work = [*plain, "--same-work"]
    for round_ in range(repeats):
        folder = Path(tempfile.mkdtemp(prefix=f"{rows}-{round_}-", dir=scratch))
        plan = [
            ("plain", plain, "plain"),
            ("plain, same work", same_work, "plain"),
            ("workflow cold", workflow, "workflow"),
            ("workflow cached", workflow, "workflow"),  # same HOME and TMPDIR: the cold run's cache and outputs
            ("tutorial", tutorial, "tutorial"),
        ]
        for variant, command, place in plan:
            seconds, peak, text = run(command, folder / place / "home", folder / place / "tmp", folder / "log.txt")
            slower = variant == "workflow cached" and seconds > measures["workflow cold"].seconds[-1]
            if slower and "cache" not in text.lower():
                print(f"warning: the cached rerun took longer than the cold run ({seconds:.1f}s)", file=sys.stderr)
            measures[variant].seconds.append(seconds)
            measures[variant].load.append(os.getloadavg()[0])
            measures[variant].peak_mib.append(peak)
            measures[variant].accuracy.add(accuracy_of(text, command))
            print(f"  {rows:>10,} rows  round {round_ + 1}/{repeats}  {variant:<16} {seconds:7.2f} s  {peak:7.0f} MiB",
                  file=sys.stderr, flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{rows}-tasks-", dir=scratch))
    tasks = []
    state = folder / "state.json"
    state.write_text(json.dumps({"dataset": str(csv)}))
    for step in ("split_traintest_dataset", "fit", "predict", "score"):
        command = [PYTHON, "benchmarks/one_task.py", str(state), step]
        seconds, peak, _ = run(command, folder / "home", folder / "tmp", folder / "log.txt")
        limits = json.loads(state.read_text())["limits"][step]
        tasks.append({"task": step, "seconds": seconds, "peak_mib": peak, **limits})
        print(f"  {rows:>10,} rows  task {step:<24} {seconds:7.2f} s  {peak:7.0f} MiB", file=sys.stderr, flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    return measures, tasks


def mebibytes(quantity: str | None) -> float | None:
    """'2Gi' -> 2048.0, '500Mi' -> 500.0, '1G' -> 953.7 (MiB); None stays None."""
    if not quantity:
        return None
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    match = re.fullmatch(r"([0-9.]+)([KMGT]i?)?", quantity)
    return float(match.group(1)) * units.get(match.group(2) or "", 1) / 2**20


def table(
    rows: int, measures: dict[str, Measure], tasks: list[dict], repeats: int
) -> tuple[str, list[tuple[str, bool]]]:
    plain, same, cold, cached, tutorial = (measures[variant] for variant in VARIANTS)
    lines = [
        f"#### {rows:,} rows ({repeats} run{'s' if repeats > 1 else ''} of each, medians)",
        "",
        "| variant | wall time | / plain | / plain, same work | / tutorial | fastest run | peak RSS | / plain "
        "| accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for variant in VARIANTS:
        measure = measures[variant]
        lines.append(
            f"| {variant} | {measure.wall:.2f} s | {measure.wall / plain.wall:.2f}x | "
            f"{measure.wall / same.wall:.2f}x | "
            f"{measure.wall / tutorial.wall:.2f}x | {measure.best:.2f} s | {measure.peak:.0f} MiB | "
            f"{measure.peak / plain.peak:.2f}x | "
            f"{', '.join(sorted(measure.accuracy))} |"
        )
    loads = [load for measure in measures.values() for load in measure.load]
    lines += ["", f"1-minute load average at the end of the runs: median {statistics.median(loads):.1f}, "
              f"max {max(loads):.1f} ({os.cpu_count()} CPUs)."]
    lines += ["", "| task, alone in a fresh process | wall time | peak RSS | declared memory limit |"]
    lines += ["|---|---:|---:|---:|"]
    for task in tasks:
        lines.append(
            f"| {task['task']} | {task['seconds']:.2f} s | {task['peak_mib']:.0f} MiB | {task['mem_limit'] or 'none'} |"
        )
    targets: list[tuple[str, bool]] = []
    if rows >= 10_000_000:
        targets.append(
            (f"cold run <= 1.15x plain, same work ({cold.wall / same.wall:.2f}x)", cold.wall <= 1.15 * same.wall)
        )
        targets.append((f"cold run <= 1.15x plain ({cold.wall / plain.wall:.2f}x)", cold.wall <= 1.15 * plain.wall))
        targets.append(
            (f"cold run <= 0.7x tutorial ({cold.wall / tutorial.wall:.2f}x)", cold.wall <= 0.7 * tutorial.wall)
        )
        for task in tasks:
            limit = mebibytes(task["mem_limit"])
            targets.append((f"{task['task']} peak {task['peak_mib']:.0f} MiB < limit {task['mem_limit']}",
                            limit is not None and task["peak_mib"] < limit))
        targets.append(
            (f"workflow peak <= plain peak ({cold.peak:.0f} vs {plain.peak:.0f} MiB)", cold.peak <= plain.peak)
        )
    elif rows >= 1_000_000:
        targets.append(
            (f"cached rerun <= 0.5x cold run ({cached.wall / cold.wall:.2f}x)", cached.wall <= 0.5 * cold.wall)
        )
    elif rows <= 1_000:
        targets.append(
            (f"cold run <= 1.6x plain, same work ({cold.wall / same.wall:.2f}x)", cold.wall <= 1.6 * same.wall)
        )
        targets.append((f"cold run <= 1.6x plain ({cold.wall / plain.wall:.2f}x)", cold.wall <= 1.6 * plain.wall))
        targets.append(
            (f"cached rerun <= 0.8x plain ({cached.wall / plain.wall:.2f}x)", cached.wall <= 0.8 * plain.wall)
        )
    if targets:
        lines += [""] + [f"- {'met' if ok else '**not met**'}: {text}" for text, ok in targets]
    return "\n".join(lines), targets


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as meminfo:
            memory = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal")) / 2**20
        memory_text = f", {memory:.0f} GiB RAM"
    except (OSError, StopIteration):
        memory_text = ""
    return (f"{os.cpu_count()} CPUs ({cpu}){memory_text}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def parse_sizes(text: str) -> list[int]:
    return [row_count(item) for item in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="768,1M,10M", help="comma-separated row counts, e.g. 768,1M,10M")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant per size (medians reported)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "diabetes-benchmarks",
                        help="where the synthetic CSVs are kept and the runs' scratch folders go")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the synthetic data")
    parser.add_argument("--output", type=Path, help="also write the Markdown report to this file")
    parser.add_argument("--check-targets", action="store_true", help="exit 1 if a target is not met")
    parser.add_argument("--startup-baseline", metavar="COMMIT",
                        help="also measure the start-up of this commit's image, as 'before' (e.g. main)")
    parser.add_argument("--startup-repeats", type=int, help="rounds of the start-up section (default: --repeats)")
    parser.add_argument("--base-image", default=os.environ.get("BASE_IMAGE", "local/python:3.11-bookworm"),
                        help="base image of the images the start-up section builds (.ci/docker_up.sh builds the "
                        "default)")
    args = parser.parse_args()

    sizes = parse_sizes(args.sizes)
    global MPLCONFIGDIR
    MPLCONFIGDIR = str(args.workdir / "matplotlib")
    subprocess.run([PYTHON, "-c", "import matplotlib.font_manager"], check=True,
                   env={**os.environ, "MPLCONFIGDIR": MPLCONFIGDIR})
    started = time.time()
    scratch = args.workdir / "runs"
    scratch.mkdir(parents=True, exist_ok=True)
    report = [
        f"Measured on {machine()}; `python benchmarks/run.py {' '.join(sys.argv[1:])}`.",
        "",
    ]
    all_targets, accuracies_differ = [], []
    for rows in sizes:
        csv = synthetic_csv(rows, args.workdir / "data", seed=args.seed)
        measures, tasks = benchmark_size(rows, csv, args.repeats, scratch)
        text, targets = table(rows, measures, tasks, args.repeats)
        accuracies = set().union(*(measure.accuracy for measure in measures.values()))
        if len(accuracies) != 1:
            accuracies_differ.append(f"{rows} rows: {sorted(accuracies)}")
        all_targets += targets
        report += [text, ""]
        print(text + "\n", flush=True)
    no_docker = startup.docker_available()
    if no_docker:
        text = f"#### Start-up in the image\n\nNot measured: {no_docker}."
    else:
        smallest = synthetic_csv(min(sizes), args.workdir / "data", seed=args.seed)
        repeats = args.startup_repeats or args.repeats
        images = startup.measure(smallest, args.startup_baseline, repeats, scratch, args.base_image)
        text, targets = startup.table(images, repeats)
        all_targets += targets
    report += [text, ""]
    print(text + "\n", flush=True)
    minutes = (time.time() - started) / 60
    report.append(f"Whole benchmark: {minutes:.1f} min.")
    print(f"Whole benchmark: {minutes:.1f} min.")
    if args.output:
        args.output.write_text("\n".join(report) + "\n")
    if accuracies_differ:
        raise SystemExit("accuracies differ between variants: " + "; ".join(accuracies_differ))
    if args.check_targets and not all(ok for _, ok in all_targets):
        raise SystemExit("targets not met: " + "; ".join(text for text, ok in all_targets if not ok))


if __name__ == "__main__":
    main()
