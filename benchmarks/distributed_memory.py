"""Peak memory of each Dask worker, step by step, in the distributed pipeline: what the worker limits are sized by.

    python benchmarks/distributed_memory.py --rows 1M 4M --workers 2

For each size: Pima-shaped synthetic shards of 250k rows each (benchmarks/synthetic.py), then the three Dask steps
of the distributed workflow (flyte.distributed: split, fit, evaluate) on a local cluster of --workers
single-threaded worker processes, as its tasks run them; a thread samples the resident set size of every worker
process every 50 ms. Prints a Markdown table: per step, the largest worker's peak RSS, and its growth over the
worker's idle size per million rows of the data set per worker (rows / workers), the figure a worker's memory
limit scales with.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS.parent))
sys.path.insert(0, str(BENCHMARKS))

SHARD_ROWS = 250_000


class PeakSampler:
    """The largest resident set size seen per process, sampled every `interval` seconds until stopped."""

    def __init__(self, pids: list[int], interval: float = 0.05):
        import psutil

        self.processes = [psutil.Process(pid) for pid in pids]
        self.peaks = dict.fromkeys(pids, 0)
        self.interval = interval
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        while not self.done.is_set():
            for process in self.processes:
                try:
                    self.peaks[process.pid] = max(self.peaks[process.pid], process.memory_info().rss)
                except Exception:  # a worker restarted or gone: nothing to sample
                    continue
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()


def main(argv: list[str] | None = None) -> None:
    import psutil
    from synthetic import row_count, synthetic_shards

    from flyte.distributed import dask_client, evaluate_on_workers, fit_on_workers, split_shards
    from flyte.hyperparameters import Hyperparameters
    from flyte.shards import find_shards

    parser = argparse.ArgumentParser(prog="python benchmarks/distributed_memory.py", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", nargs="+", type=row_count, default=[1_000_000, 4_000_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="3GiB", help="each local worker's limit (default: 3GiB)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "diabetes-distributed-memory")
    args = parser.parse_args(argv)

    print("| rows | workers | step | seconds | idle worker (MiB) | largest worker peak (MiB) | growth, MiB per million "
          "rows per worker |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for rows in args.rows:
        shards = find_shards(str(synthetic_shards(rows, max(1, rows // SHARD_ROWS), args.workdir)), {})
        with (
            tempfile.TemporaryDirectory(dir=args.workdir) as out,
            dask_client(args.workers, args.memory_limit) as client,
        ):
            pids = list(client.run(os.getpid).values())
            idle = max(psutil.Process(pid).memory_info().rss for pid in pids) / 2**20
            train, test = f"{out}/train", f"{out}/test"
            measurements = [("split", *measured(pids, split_shards, client, shards, 0.33, 7, train, test))]
            model, *figures = measured(pids, fit_on_workers, client, train, Hyperparameters(), 7)
            measurements.append(("fit", model, *figures))
            measurements.append(("evaluate", *measured(pids, evaluate_on_workers, client, test, model)))
        for name, _, seconds, peak in measurements:
            per_million = (peak - idle) / (rows / args.workers / 1e6)
            print(f"| {rows:,} | {args.workers} | {name} | {seconds:.1f} | {idle:,.0f} | {peak:,.0f} | "
                  f"{per_million:,.0f} |", flush=True)


def measured(pids: list[int], step, *args) -> tuple[object, float, float]:
    """The step's result, its seconds and the largest worker's peak RSS (MiB) while it ran."""
    started = time.perf_counter()
    with PeakSampler(pids) as sampler:
        result = step(*args)
    return result, time.perf_counter() - started, max(sampler.peaks.values()) / 2**20

if __name__ == "__main__":
    main()
