"""The split task's work in the image under a 1-CPU limit, with the threads flyte/cpus.py chooses against the old
thread count: does sizing the pools to the pod's quota cost anything?

    python benchmarks/threads.py [--rows 2M] [--repeats 5] [--cpus 1]

Builds the work tree's image (docker_build_and_tag.sh, as benchmarks/startup.py does), writes a synthetic CSV
(benchmarks/synthetic.py) and runs, in turn, each round in a fresh `docker run --cpus=N` container:

- sized: what a task does now: pyarrow's pools and the split's column threads from usable_cpus();
- old:   the thread counts before issue #19: pyarrow's defaults (a CPU pool of every core the container sees, an
         I/O pool of 8) and one column thread per visible core (os.cpu_count()).

Each runs flyte.split.load_and_split_table on the CSV (parse, validate, shuffle-split: the split task's work without
Flyte's Parquet output) and reports its wall and CPU seconds. Prints a Markdown table of the medians and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))
sys.path.insert(0, str(BENCHMARKS.parent))  # startup.py runs tasks with tests/pods.py

import startup  # noqa: E402
from synthetic import row_count, synthetic_csv  # noqa: E402

MOUNT = "/data"
SPLIT = """
import json, os, sys, time
import pyarrow
import flyte.split
from flyte.cpus import size_arrow_pools
if sys.argv[1] == "old":
    pyarrow.set_cpu_count(os.cpu_count())
    pyarrow.set_io_thread_count(8)
    flyte.split.usable_cpus = os.cpu_count
else:
    size_arrow_pools()
wall, cpu = time.perf_counter(), time.process_time()
flyte.split.load_and_split_table(sys.argv[2], 0.33, 7)
print(json.dumps({"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu,
                  "arrow_threads": pyarrow.cpu_count(), "split_threads": flyte.split.usable_cpus()}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="2M", help="rows of the synthetic CSV, e.g. 2M")
    parser.add_argument("--repeats", type=int, default=5, help="rounds (medians reported)")
    parser.add_argument("--cpus", default="1", help="the container's CPU limit (docker run --cpus)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "diabetes-benchmarks")
    parser.add_argument("--base-image", default=os.environ.get("BASE_IMAGE", "local/python:3.11-bookworm"))
    args = parser.parse_args()

    if why := startup.docker_available():
        raise SystemExit(f"needs Docker: {why}")
    rows = row_count(args.rows)
    csv = synthetic_csv(rows, args.workdir / "data")
    image = startup.build(BENCHMARKS.parent, f"threads-{os.getpid()}", args.base_image)
    results: dict[str, list[dict]] = {"sized": [], "old": []}
    loads = []
    try:
        for round_ in range(args.repeats):
            for variant in ("sized", "old") if round_ % 2 == 0 else ("old", "sized"):
                command = ["docker", "run", "--rm", f"--cpus={args.cpus}", f"--volume={csv.parent}:{MOUNT}:ro",
                           image, "python", "-c", SPLIT, variant, f"{MOUNT}/{csv.name}"]
                done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
                if done.returncode != 0:
                    raise SystemExit(f"{variant} failed:\n{done.stderr[-3000:]}")
                results[variant].append(json.loads(done.stdout.splitlines()[-1]))
                loads.append(os.getloadavg()[0])
                print(f"  round {round_ + 1}/{args.repeats} {variant:<5} {results[variant][-1]}", file=sys.stderr,
                      flush=True)
    finally:
        subprocess.run(["docker", "image", "rm", image], capture_output=True)
    lines = [
        f"Split of {rows:,} rows in the image under `docker run --cpus={args.cpus}` on {os.cpu_count()} cores; "
        f"{args.repeats} rounds, medians; 1-minute load average median {statistics.median(loads):.1f}, "
        f"max {max(loads):.1f}. `python benchmarks/threads.py {' '.join(sys.argv[1:])}`.",
        "",
        "| threads | pyarrow CPU pool | split column threads | wall time | CPU time | wall / old |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    old_wall = statistics.median(run["seconds"] for run in results["old"])
    for variant, label in (("sized", "sized to the quota (usable_cpus)"), ("old", "old: every visible core")):
        runs = results[variant]
        wall = statistics.median(run["seconds"] for run in runs)
        lines.append(f"| {label} | {runs[0]['arrow_threads']} | {runs[0]['split_threads']} | {wall:.2f} s | "
                     f"{statistics.median(run['cpu_seconds'] for run in runs):.2f} s | {wall / old_wall:.2f}x |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
