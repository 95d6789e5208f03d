"""Benchmark the diabetes pipeline against the bare libraries and the original tutorial, at several data sizes.

    python benchmarks/run.py                       # 768, 1M and 10M rows, 3 repeats, and 30M distributed only
    python benchmarks/run.py --smoke                   # the harness still runs (about a minute), as CI checks it
    python benchmarks/run.py --sizes "" --distributed-sizes 100M --workers auto --repeats 1 --no-startup

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
                    memory against its declared limit;
- distributed, N workers: `pyflyte run flyte/workflows/distributed.py diabetes_xgboost_model_distributed --dataset
                    SHARDS --workers N` for each N of --workers (default 1,2), on the same rows cut into CSV shards
                    (benchmarks/synthetic.py), with an empty cache; its own table: wall time against the workflow's
                    cold run, the peak of its largest Dask worker process and of its driver (benchmarks/
                    process_memory.py) against the fit task's peak, and from the 1- and 2-worker peaks, the worker
                    memory per million rows and a projection of workers for 100M and 1B rows. A worker count
                    `auto` runs without --workers: the workflow then sizes the workers from the shards.

Sizes in --distributed-sizes (by default 30M, when --sizes is not given) run the distributed variants alone: the
single-node tasks' memory limits are sized for 10M rows, not those. Their table gives each run's worker count, the
largest worker's peak against the workers' declared memory limit (WORKER_MEMORY), the driver's and the accuracy.

Then, once, with a 768-row CSV whatever the sizes: each task's start-up in the image, as a pod runs it
(benchmarks/startup.py: the seconds from the process's start to the task body, `docker run` of its serialized
command), for the work tree's image and, with --startup-baseline COMMIT, that commit's image ("before"); left out,
saying why, without Docker.

Wall time is the whole command, interpreter start-up included. Peak memory is the peak resident set size
(ru_maxrss from wait4) of the command's process and its waited-for children. Every run gets its own HOME
(flytekit's local cache lives in ~/.flyte) and TMPDIR (flytekit writes task outputs there), under --workdir,
deleted afterwards: the user's ~/.flyte is never touched. Matplotlib's font cache (MPLCONFIGDIR) is one folder
under --workdir, built once before measuring, as on any machine where matplotlib has run before. It prints a
Markdown table per size with the medians, the ratios and the targets of issue #5, checks that all variants report
the same accuracy, and exits non-zero if a run fails or the accuracies differ (a missed target is reported, not an
error, unless --check-targets). Every run records the machine's 1-minute load average, sampled while it runs
(mean), because the machine may be shared.
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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
sys.path.insert(0, str(BENCHMARKS))
sys.path.insert(0, str(REPO))  # the start-up section runs tasks as pods with tests/pods.py

import startup  # noqa: E402
from process_memory import ProcessPeaks  # noqa: E402
from synthetic import row_count, synthetic_csv, synthetic_shards  # noqa: E402

from flyte.cpus import usable_cpus  # noqa: E402
from flyte.shards import find_shards, workers_needed  # noqa: E402

PYTHON = sys.executable
PYFLYTE = str(Path(sys.executable).with_name("pyflyte"))
ACCURACY = re.compile(r"accuracy=([0-9.]+)")
MPLCONFIGDIR = ""  # set in main(): one matplotlib config/font-cache folder for every run
VARIANTS = ("plain", "plain, same work", "workflow cold", "workflow cached", "tutorial")
STARTUP_ROWS = 768  # the rows of the start-up runs in the image: the size of the bundled data set
LOAD_SAMPLE_SECONDS = 5
SHARD_ROWS = 1_250_000  # rows per CSV shard of the distributed runs' data (at least 2 shards)
# A worker's peak is planned at no more than this share of its memory limit: Dask pauses a worker whose process
# memory reaches 80% of its limit (distributed.worker.memory.pause), so the peak must stay below that.
WORKER_PEAK_SHARE = 0.75


def distributed_variant(workers: int | None) -> str:
    """The distributed runs' names: 'distributed, 2 workers', or 'distributed, auto' for the workflow's choice."""
    if workers is None:
        return "distributed, auto"
    return f"distributed, {workers} worker{'s' if workers > 1 else ''}"


@dataclass
class Measure:
    seconds: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    accuracy: set[str] = field(default_factory=set)
    load: list[float] = field(default_factory=list)
    worker_peak_mib: list[float] = field(default_factory=list)  # distributed runs: the largest Dask worker's peak
    driver_peak_mib: list[float] = field(default_factory=list)  # distributed runs: the pyflyte process's own peak
    worker_processes: list[int] = field(default_factory=list)  # distributed runs: Dask worker processes started

    @property
    def wall(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def peak(self) -> float:
        return statistics.median(self.peak_mib)

    @property
    def worker_peak(self) -> float:
        return statistics.median(self.worker_peak_mib)

    @property
    def driver_peak(self) -> float:
        return statistics.median(self.driver_peak_mib)


def run(
    command: list[str], home: Path, tmp: Path, log: Path, peaks: ProcessPeaks | None = None
) -> tuple[float, float, str, float]:
    """Run `command` from the repo root; return its wall seconds, peak RSS in MiB, stdout and the machine's
    1-minute load average while it ran (the mean of samples every LOAD_SAMPLE_SECONDS, the first at its start).

    With `peaks`, also record the peak of every process of its tree (for the Dask worker processes).
    """
    loads, done = [], threading.Event()

    def sample_load() -> None:
        while True:
            loads.append(os.getloadavg()[0])
            if done.wait(LOAD_SAMPLE_SECONDS):
                return

    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp), "PYTHONPATH": str(REPO), "MPLCONFIGDIR": MPLCONFIGDIR}
    env.pop("PYTHONSTARTUP", None)
    for folder in (home, tmp):
        folder.mkdir(parents=True, exist_ok=True)
    with open(log, "w+") as output:
        start = time.perf_counter()
        sampler = threading.Thread(target=sample_load, daemon=True)
        sampler.start()
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
        if peaks is not None:
            peaks.watch(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        if peaks is not None:
            peaks.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}\n{text[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, text, statistics.mean(loads)


def accuracy_of(text: str, command: list[str]) -> str:
    found = ACCURACY.findall(text)
    if not found:
        raise SystemExit(f"no accuracy in the output of {' '.join(command)}:\n{text[-2000:]}")
    return found[0]


def benchmark_size(
    rows: int, csv: Path | None, repeats: int, scratch: Path, shards: Path | None, workers: list[int | None]
) -> tuple[dict[str, Measure], list[dict]]:
    """Measure every variant at `rows`; without `csv`, the distributed variants alone (and no task alone)."""
    distributed = [
        (distributed_variant(count), [
            PYFLYTE, "run", "flyte/workflows/distributed.py", "diabetes_xgboost_model_distributed",
            "--dataset", str(shards), *(["--workers", str(count)] if count is not None else []),
        ], f"distributed-{count}")
        for count in (workers if shards else [])
    ]  # fmt: skip
    single_node = VARIANTS if csv else ()
    measures = {variant: Measure() for variant in [*single_node, *(variant for variant, _, _ in distributed)]}
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
        ] if csv else []  # fmt: skip
        for variant, command, place in plan + distributed:
            peaks = ProcessPeaks() if variant.startswith("distributed") else None
            seconds, peak, text, load = run(
                command, folder / place / "home", folder / place / "tmp", folder / "log.txt", peaks=peaks
            )
            slower = variant == "workflow cached" and seconds > measures["workflow cold"].seconds[-1]
            if slower and "cache" not in text.lower():
                print(f"warning: the cached rerun took longer than the cold run ({seconds:.1f}s)", file=sys.stderr)
            measures[variant].seconds.append(seconds)
            measures[variant].load.append(load)
            measures[variant].peak_mib.append(peak)
            measures[variant].accuracy.add(accuracy_of(text, command))
            workers_text = ""
            if peaks is not None:
                if not peaks.worker_mib:
                    raise SystemExit(f"no Dask worker process seen in: {' '.join(command)}")
                measures[variant].worker_peak_mib.append(peaks.worker_mib[0])
                measures[variant].driver_peak_mib.append(peaks.root_mib)
                measures[variant].worker_processes.append(len(peaks.worker_mib))
                workers_text = f"  workers {', '.join(f'{mib:.0f}' for mib in peaks.worker_mib)} MiB"
            print(f"  {rows:>10,} rows  round {round_ + 1}/{repeats}  {variant:<16} {seconds:7.2f} s  {peak:7.0f} MiB"
                  f"  load {load:.1f}{workers_text}", file=sys.stderr, flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    if not csv:
        return measures, []
    folder = Path(tempfile.mkdtemp(prefix=f"{rows}-tasks-", dir=scratch))
    tasks = []
    state = folder / "state.json"
    state.write_text(json.dumps({"dataset": str(csv)}))
    for step in ("split_traintest_dataset", "fit", "predict", "compare_with_champion", "score"):
        command = [PYTHON, "benchmarks/one_task.py", str(state), step]
        seconds, peak, _, _ = run(command, folder / "home", folder / "tmp", folder / "log.txt")
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
    lines += ["", f"1-minute load average during the runs: median {statistics.median(loads):.1f}, "
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


def distributed_table(
    rows: int, measures: dict[str, Measure], tasks: list[dict], workers: list[int]
) -> tuple[str, list[tuple[str, bool]]]:
    """The distributed runs next to the single-node workflow's cold run and its fit task, with issue #8's targets."""
    cold = measures["workflow cold"]
    fit = next(task for task in tasks if task["task"] == "fit")
    single_accuracy = float(min(cold.accuracy))
    lines = [
        f"#### {rows:,} rows, distributed (same rows in CSV shards; medians)",
        "",
        "| variant | wall time | / workflow cold | largest worker's peak | / fit task's peak | driver's peak "
        "| accuracy | vs single node |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
        f"| workflow cold (single node) | {cold.wall:.2f} s | 1.00x | | | {cold.peak:.0f} MiB | "
        f"{single_accuracy:.4f} | |",
        f"| fit task alone (single node) | {fit['seconds']:.2f} s | | {fit['peak_mib']:.0f} MiB | 1.00x | | | |",
    ]
    for count in workers:
        measure = measures[distributed_variant(count)]
        accuracies = sorted(float(accuracy) for accuracy in measure.accuracy)
        gap = ", ".join(f"{100 * (accuracy - single_accuracy):+.2f} pt" for accuracy in accuracies)
        lines.append(
            f"| {distributed_variant(count)} | {measure.wall:.2f} s | {measure.wall / cold.wall:.2f}x | "
            f"{measure.worker_peak:.0f} MiB | {measure.worker_peak / fit['peak_mib']:.2f}x | "
            f"{measure.driver_peak:.0f} MiB | {', '.join(f'{a:.4f}' for a in accuracies)} | {gap} |"
        )
    targets: list[tuple[str, bool]] = []
    two = measures.get(distributed_variant(2))
    if rows >= 10_000_000 and two is not None:
        targets.append((
            f"2 workers: each worker's peak <= 0.6x the fit task's peak ({two.worker_peak:.0f} vs "
            f"{fit['peak_mib']:.0f} MiB, {two.worker_peak / fit['peak_mib']:.2f}x)",
            two.worker_peak <= 0.6 * fit["peak_mib"],
        ))
        targets.append((
            f"2 workers: wall time <= 1.5x the single-node workflow ({two.wall:.1f} vs {cold.wall:.1f} s, "
            f"{two.wall / cold.wall:.2f}x)",
            two.wall <= 1.5 * cold.wall,
        ))
    if targets:
        lines += [""] + [f"- {'met' if ok else '**not met**'}: {text}" for text, ok in targets]
    one = measures.get(distributed_variant(1))
    if rows >= 1_000_000 and one is not None and two is not None:
        lines += ["", *projection(rows, one.worker_peak, two.worker_peak, max(one.driver_peak, two.driver_peak))]
    return "\n".join(lines), targets


def distributed_only_table(rows: int, measures: dict[str, Measure], workers: list[int | None], chosen: int) -> str:
    """The distributed runs of a size measured without the single-node variants: each worker's peak against the
    workers' declared memory limit, since there is no single-node run to set it against."""
    from flyte.workflows.distributed import WORKER_MEMORY

    limit = mebibytes(WORKER_MEMORY)
    lines = [
        f"#### {rows:,} rows, distributed only (CSV shards; medians)",
        "",
        f"| variant | workers | wall time | largest worker's peak | / worker limit ({WORKER_MEMORY}) | "
        "worker processes | driver's peak | accuracy | 1-minute load |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for count in workers:
        measure = measures[distributed_variant(count)]
        lines.append(
            f"| {distributed_variant(count)} | {count or chosen} | {measure.wall:.1f} s | {measure.worker_peak:.0f} MiB"
            f" | {measure.worker_peak / limit:.2f}x | {statistics.median(measure.worker_processes):.0f} | "
            f"{measure.driver_peak:.0f} MiB | {', '.join(sorted(measure.accuracy))} | "
            f"{statistics.mean(measure.load):.1f} |"
        )
    lines += ["", "Worker processes: each of the four Dask tasks (split, fit, compare with the champion, evaluate) "
              "starts its own workers (4 x workers when none is restarted). Load: the 1-minute load average sampled "
              f"every {LOAD_SAMPLE_SECONDS} s during the run, mean ({os.cpu_count()} CPUs)."]
    return "\n".join(lines)


def projection(rows: int, one_worker_mib: float, two_workers_mib: float, driver_mib: float) -> list[str]:
    """Workers for 100M and 1B rows, from a line through the largest worker's peak at rows and rows/2 per worker."""
    per_million = (one_worker_mib - two_workers_mib) / (rows / 2 / 1e6)
    fixed = two_workers_mib - per_million * rows / 2 / 1e6
    lines = [
        f"Worker memory, fitted through the two runs above (the largest worker holds {rows / 1e6:g}M rows with 1 "
        f"worker, {rows / 2e6:g}M with 2): {per_million:.0f} MiB per million rows on top of {fixed:.0f} MiB. "
        f"Workers planned with their peak at {WORKER_PEAK_SHARE:.0%} of the memory limit:",
        "",
    ]
    if per_million <= 0:
        return lines[:1] + ["", "(no growth with the rows per worker measured: no projection)"]
    lines += ["| rows | worker memory limit | rows per worker | workers |", "|---:|---:|---:|---:|"]
    for total in (100_000_000, 1_000_000_000):
        for limit_gib in (4, 8, 16, 32):
            usable = limit_gib * 1024 * WORKER_PEAK_SHARE - fixed
            if usable <= 0:
                continue
            per_worker = usable / per_million * 1e6
            label = f"{total // 10**9}B" if total >= 10**9 else f"{total // 10**6}M"
            lines.append(f"| {label} | {limit_gib} GiB | {per_worker / 1e6:.1f}M | "
                         f"{-(-total // int(per_worker))} |")
    lines += ["", f"The driver (the job runner pod on a cluster) peaked at {driver_mib:.0f} MiB in these runs."]
    return lines


def shard_count(rows: int) -> int:
    return max(2, -(-rows // SHARD_ROWS))


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
    # usable_cpus(): the threads every task sizes its pools with (flyte/cpus.py: cgroup CPU quota and affinity).
    return (f"{os.cpu_count()} CPUs ({cpu}), usable_cpus() = {usable_cpus()}{memory_text}, "
            f"{platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def parse_sizes(text: str) -> list[int]:
    return [row_count(item) for item in text.split(",") if item.strip()]


def parse_workers(text: str) -> list[int | None]:
    """'1,2,auto' -> [1, 2, None]: None runs the workflow without --workers, which then sizes them itself."""
    return [None if item.strip() == "auto" else int(item) for item in text.split(",") if item.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help="comma-separated row counts, e.g. 768,1M,10M (default: 768,1M,10M); "
                        "empty: none")
    parser.add_argument("--distributed-sizes",
                        help="row counts measured with the distributed workflow alone (default: 30M if --sizes is "
                        "not given, else none)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant per size (medians reported)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "diabetes-benchmarks",
                        help="where the synthetic CSVs are kept and the runs' scratch folders go")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the synthetic data")
    parser.add_argument("--output", type=Path, help="also write the Markdown report to this file")
    parser.add_argument("--check-targets", action="store_true", help="exit 1 if a target is not met")
    parser.add_argument("--workers", default="1,2",
                        help="worker counts of the distributed workflow's runs, e.g. 1,2 or auto (the workflow's "
                        "choice from the data size); empty: no distributed runs")
    parser.add_argument("--no-startup", action="store_true", help="leave out the start-up section")
    parser.add_argument("--startup-baseline", metavar="COMMIT",
                        help="also measure the start-up of this commit's image, as 'before' (e.g. main)")
    parser.add_argument("--startup-repeats", type=int, help="rounds of the start-up section (default: --repeats)")
    parser.add_argument("--smoke", action="store_true",
                        help="only check that the harness runs, in about a minute: 768 rows, one round, the "
                        "distributed workflow with its registered 2 workers, no start-up section (it builds an "
                        "image); replaces --sizes, --repeats and --workers")
    parser.add_argument("--base-image", default=os.environ.get("BASE_IMAGE", "local/python:3.11-bookworm"),
                        help="base image of the images the start-up section builds (.ci/docker_up.sh builds the "
                        "default)")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.repeats, args.workers = "768", 1, "2"

    sizes = parse_sizes("768,1M,10M" if args.sizes is None else args.sizes)
    distributed_sizes = parse_sizes(args.distributed_sizes or ("30M" if args.sizes is None else ""))
    workers = parse_workers(args.workers)
    if distributed_sizes and not workers:
        parser.error("--distributed-sizes needs at least one --workers count")
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
        shards = synthetic_shards(rows, shard_count(rows), args.workdir / "data", seed=args.seed) if workers else None
        measures, tasks = benchmark_size(rows, csv, args.repeats, scratch, shards, workers)
        text, targets = table(rows, measures, tasks, args.repeats)
        if workers:
            distributed_text, distributed_targets = distributed_table(rows, measures, tasks, workers)
            text, targets = f"{text}\n\n{distributed_text}", targets + distributed_targets
        # The single-node variants share the split, so their accuracies must agree; the distributed workflow
        # splits by the row-hash split, not the exact shuffle split (reported next to them instead).
        accuracies = set().union(*(measures[variant].accuracy for variant in VARIANTS))
        if len(accuracies) != 1:
            accuracies_differ.append(f"{rows} rows: {sorted(accuracies)}")
        all_targets += targets
        report += [text, ""]
        print(text + "\n", flush=True)
    for rows in distributed_sizes:
        shards = synthetic_shards(rows, shard_count(rows), args.workdir / "data", seed=args.seed)
        measures, _ = benchmark_size(rows, None, args.repeats, scratch, shards, workers)
        text = distributed_only_table(rows, measures, workers, workers_needed(find_shards(str(shards), {})))
        report += [text, ""]
        print(text + "\n", flush=True)
    no_docker = None if args.smoke or args.no_startup else startup.docker_available()
    if args.smoke or args.no_startup:
        left_out_by = "a smoke run (--smoke)" if args.smoke else "--no-startup"
        text = f"#### Start-up in the image\n\nNot measured: {left_out_by} leaves it out."
    elif no_docker:
        text = f"#### Start-up in the image\n\nNot measured: {no_docker}."
    else:
        # Start-up is the imports before the task body, the same at any size; the tuning pods' memory limits are
        # sized for the bundled data's scale, not 10M rows.
        small = synthetic_csv(STARTUP_ROWS, args.workdir / "data", seed=args.seed)
        repeats = args.startup_repeats or args.repeats
        images = startup.measure(small, args.startup_baseline, repeats, scratch, args.base_image)
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
