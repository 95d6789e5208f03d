"""Accuracy of the distributed workflow next to the single-node one, on the same rows, and where the gap comes from.

    python benchmarks/distributed_accuracy.py                          # the real file, 100k and 1M rows
    python benchmarks/distributed_accuracy.py --sizes 100k --workers 1 2 4

For each size: the single-node workflow (diabetes_xgboost_model) on one CSV, and the distributed workflow
(diabetes_xgboost_model_distributed) on the same rows cut into shards (benchmarks/synthetic.py: the shards joined
are the single CSV byte for byte), once per worker count. The two split differently (the exact shuffle split there,
exactly ceil(ratio x rows) test rows; the row-hash split here, each row a test row with probability ratio), so a
third column separates the two causes of any gap: the single-node trainer (flyte.model.train_model) on the
distributed workflow's split. Its difference to the single-node workflow is the split's; its difference to the
distributed workflow, the distributed training's (per-worker quantile sketches merged, histograms summed across
workers). Runs in-process with its own HOME, so flytekit's local cache is a fresh one and the user's ~/.flyte is
never touched. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
REAL_DATASET = REPO.parent / "shared" / "data" / "pima-indians-diabetes.data.csv"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/distributed_accuracy.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", nargs="+", default=["real", "100k", "1M"],
                        help="'real' (the verified 768-row file) and/or synthetic row counts (default: real 100k 1M)")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2], help="worker counts (default: 1 2)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "diabetes-distributed-accuracy",
                        help="where the data sets are written and kept for the next run")
    args = parser.parse_args(argv)
    home = tempfile.mkdtemp(prefix="distributed-accuracy-home-")
    os.environ["HOME"] = home  # before flytekit is imported: its local cache lives in ~/.flyte
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(BENCHMARKS))

    distributed = " | ".join(f"distributed, {n} worker{'s' * (n > 1)}" for n in args.workers)
    print(f"| rows | shards | single-node workflow | single-node trainer, hash split | {distributed} | "
          "test rows (single / hash) |")
    print("| ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in args.workers) + " | ---: |")
    for size in args.sizes:
        csv, shards = data_set(size, args.workdir)
        row = measure(csv, shards, args.workers)
        print(f"| {row['rows']:,} | {row['shards']} | {row['single']:.4f} | {row['hash split']:.4f} | "
              + " | ".join(f"{row[n]:.4f} ({row[n] - row['single']:+.4f})" for n in args.workers)
              + f" | {row['single test rows']:,} / {row['hash test rows']:,} |", flush=True)


def data_set(size: str, workdir: Path) -> tuple[Path, Path]:
    """The single CSV and a folder of shards of the same rows."""
    from synthetic import row_count, synthetic_csv, synthetic_shards

    if size == "real":
        shards = workdir / "real-1-shard"
        if not shards.is_dir():
            shards.mkdir(parents=True)
            (shards / "part-00000.csv").write_bytes(REAL_DATASET.read_bytes())
        return REAL_DATASET, shards
    rows = row_count(size)
    shard_count = max(4, rows // 250_000)
    return synthetic_csv(rows, workdir), synthetic_shards(rows, shard_count, workdir)


def measure(csv: Path, shards: Path, worker_counts: list[int]) -> dict:
    from flytekit.types.directory import FlyteDirectory
    from flytekit.types.file import FlyteFile

    from flyte.dataset import load_table
    from flyte.evaluation import accuracy
    from flyte.hyperparameters import Hyperparameters
    from flyte.model import classify, train_model
    from flyte.schema import LABEL
    from flyte.shards import row_hash_split
    from flyte.workflows.datatypes import DEFAULT_SEED, DEFAULT_TEST_SPLIT_RATIO
    from flyte.workflows.distributed import diabetes_xgboost_model_distributed
    from flyte.workflows.example import diabetes_xgboost_model

    table = load_table(csv)
    held_out = row_hash_split(table, DEFAULT_TEST_SPLIT_RATIO, DEFAULT_SEED)
    frame = table.to_pandas()
    train, test = frame[~held_out], frame[held_out]
    model = train_model(train, Hyperparameters(), DEFAULT_SEED)
    row = {
        "rows": table.num_rows,
        "shards": len(list(shards.glob("*.csv"))),
        "hash split": accuracy(test[LABEL], classify(model, test)["predicted"]),
        "hash test rows": int(held_out.sum()),
    }
    started = time.perf_counter()
    single = diabetes_xgboost_model(dataset=FlyteFile(str(csv)))
    row["single"], row["single test rows"] = single.accuracy, single.metrics.test_rows
    print(f"<!-- {table.num_rows} rows: single-node workflow {time.perf_counter() - started:.1f} s -->", flush=True)
    for workers in worker_counts:
        started = time.perf_counter()
        row[workers] = diabetes_xgboost_model_distributed(dataset=FlyteDirectory(str(shards)), workers=workers).accuracy
        print(f"<!-- {table.num_rows} rows: distributed, {workers} workers {time.perf_counter() - started:.1f} s -->",
              flush=True)
    return row


if __name__ == "__main__":
    main()
