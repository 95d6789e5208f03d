"""Deterministic, Pima-shaped synthetic CSVs, as one file or a folder of shards.

The columns of flyte.schema, in its order, with the real file's value ranges and formats, no header.

Each of the real file's columns follows a simple distribution fitted by eye to it (means, spreads, share of zeros
for the "missing" encodings), clipped to its min..max; the label is a noisy logistic function of glucose, BMI,
age, pregnancies and pedigree, so that a model has something to learn (about 35% positives, as in the real file).
A column the schema has and the real file has not is drawn uniformly from its plausible range (flyte.schema).
Rows are made in blocks of 1M, each from its own seeded generator: the same (rows, seed) always gives the same bytes.
Sharded, the same rows are cut into consecutive, near-equal parts named part-00000.csv, part-00001.csv, ...: joined
in name order, the shards of (rows, seed) are byte for byte the single CSV of (rows, seed), whatever the shard count,
so a sharded and a single-file run see the same data.

    python benchmarks/synthetic.py --rows 10M --shards 8 --output data/pima-10M    # 8 CSVs of 1.25M rows
    python benchmarks/synthetic.py --help
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the flyte package, run as a script from anywhere

from flyte.schema import COLUMN_TYPES, LABEL, PLAUSIBLE_RANGES  # noqa: E402

BLOCK_ROWS = 1_000_000


def _with_zeros(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    """Replace `share` of the values by 0, as the real file encodes missing measurements."""
    return np.where(rng.random(len(values)) < share, 0, values)


def _block(rows: int, rng: np.random.Generator) -> pa.Table:
    pregnancies = np.minimum(rng.negative_binomial(2, 0.345, rows), 17)
    glucose = _with_zeros(rng, np.clip(np.rint(rng.normal(121, 31, rows)), 44, 199), 0.0065)
    blood_pressure = _with_zeros(rng, np.clip(np.rint(rng.normal(72, 12, rows)), 24, 122), 0.046)
    skin_thickness = _with_zeros(rng, np.clip(np.rint(rng.normal(29, 10.5, rows)), 7, 99), 0.296)
    insulin = _with_zeros(rng, np.clip(np.rint(rng.lognormal(4.8, 0.7, rows)), 14, 846), 0.487)
    bmi = _with_zeros(rng, np.clip(np.round(rng.normal(32.4, 6.9, rows), 1), 18.2, 67.1), 0.014)
    pedigree = np.clip(np.round(rng.lognormal(-0.9, 0.6, rows), 3), 0.078, 2.42)
    age = np.clip(np.rint(21 + rng.exponential(12.2, rows)), 21, 81)
    logit = (
        0.035 * (glucose - 121) + 0.09 * (bmi - 32) + 0.03 * (age - 33) + 0.12 * (pregnancies - 3.8)
        + 0.9 * (pedigree - 0.47) - 0.75 + rng.logistic(0, 1, rows)
    )
    drawn = {
        "pregnancies": pregnancies, "glucose": glucose, "blood_pressure": blood_pressure,
        "skin_thickness": skin_thickness, "insulin": insulin, "bmi": bmi, "diabetes_pedigree": pedigree, "age": age,
        LABEL: (logit > 0).astype(np.int64),
    }  # fmt: skip
    for name in COLUMN_TYPES:
        if name not in drawn:
            drawn[name] = _uniform(rng, name, rows)
    return pa.table({
        name: pa.array(drawn[name].astype(np.float64 if kind is float else np.int64))
        for name, kind in COLUMN_TYPES.items()
    })


def _uniform(rng: np.random.Generator, name: str, rows: int) -> np.ndarray:
    """Values of a column the real file has not, uniform over its plausible range (floats to 3 decimals)."""
    bounds = PLAUSIBLE_RANGES[name]
    if COLUMN_TYPES[name] is int:
        return rng.integers(int(bounds.low), int(bounds.high), rows, endpoint=True)
    return np.round(rng.uniform(bounds.low, bounds.high, rows), 3)


def _blocks(rows: int, seed: int) -> Iterator[pa.Table]:
    """The `rows` rows of `seed`, in blocks of BLOCK_ROWS, each block from its own generator."""
    for block, start in enumerate(range(0, rows, BLOCK_ROWS)):
        yield _block(min(BLOCK_ROWS, rows - start), np.random.default_rng([seed, block]))


def _write_csvs(rows: int, seed: int, paths: list[Path]) -> None:
    """Write the rows of (rows, seed) into `paths` in order, in consecutive parts whose sizes differ by at most 1."""
    ends = [rows * (index + 1) // len(paths) for index in range(len(paths))]
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    schema = _block(1, np.random.default_rng(0)).schema
    shard, written = 0, 0
    writer = pacsv.CSVWriter(paths[0], schema, write_options=options)
    try:
        for table in _blocks(rows, seed):
            offset = 0
            while offset < len(table):
                take = min(len(table) - offset, ends[shard] - written)
                writer.write_table(table.slice(offset, take))
                offset, written = offset + take, written + take
                if written == ends[shard] and shard + 1 < len(paths):
                    writer.close()
                    shard += 1
                    writer = pacsv.CSVWriter(paths[shard], schema, write_options=options)
    finally:
        writer.close()


def synthetic_csv(rows: int, folder: Path, seed: int = 2024) -> Path:
    """The path of the synthetic CSV of `rows` rows in `folder`, written (atomically) unless already there."""
    path = Path(folder) / f"pima-synthetic-{rows}-rows-seed-{seed}.csv"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    _write_csvs(rows, seed, [partial])
    partial.replace(path)
    return path


def write_shards(rows: int, shards: int, folder: Path, seed: int = 2024) -> list[Path]:
    """Write the rows of (rows, seed) as `shards` CSVs part-NNNNN.csv into `folder`, which must be new or empty.

    The shards are written into a sibling folder first and moved in place at the end: an interrupted run leaves
    no partial data set behind.
    """
    if rows < 1 or not 1 <= shards <= rows:
        raise ValueError(f"cannot cut {rows} rows into {shards} shards; expected 1 <= shards <= rows")
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(f"{folder} already exists and is not an empty folder; expected a new or empty folder")
    names = [f"part-{index:05d}.csv" for index in range(shards)]
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    partial.mkdir(parents=True)
    try:
        _write_csvs(rows, seed, [partial / name for name in names])
        if folder.exists():
            folder.rmdir()
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return [folder / name for name in names]


def synthetic_shards(rows: int, shards: int, folder: Path, seed: int = 2024) -> Path:
    """The folder of `shards` synthetic CSVs of `rows` rows in all, in `folder`, written unless already there."""
    path = Path(folder) / f"pima-synthetic-{rows}-rows-{shards}-shards-seed-{seed}"
    if not path.is_dir():
        write_shards(rows, shards, path, seed)
    return path


def row_count(text: str) -> int:
    """A row count as people write it: "768", "100k", "1.5M", "10_000_000"."""
    item = text.strip().lower().replace("_", "")
    scale = {"k": 10**3, "m": 10**6, "b": 10**9}.get(item[-1:], 1)
    try:
        count = float(item[:-1] if scale > 1 else item) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a row count; expected e.g. 768, 100k, 1.5M") from None
    if count != int(count) or count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole, positive row count")
    return int(count)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/synthetic.py",
        description="Write a Pima-shaped synthetic data set as a folder of CSV shards (no header, the columns of "
        "flyte/schema.py with the real file's value ranges), for the distributed workflow's --dataset. The same "
        "rows and seed always give the same bytes; the shards joined in name order are the same rows whatever the "
        "shard count.",
    )
    parser.add_argument("--rows", type=row_count, required=True, help="rows in all, e.g. 768, 100k, 10M")
    parser.add_argument("--shards", type=int, help="number of CSV files (default: one per million rows, at least 1)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the random generators (default: 2024)")
    parser.add_argument("--output", type=Path, required=True,
                        help="folder to write part-00000.csv, part-00001.csv, ... into; must be new or empty")
    args = parser.parse_args(argv)
    shards = args.shards if args.shards is not None else max(1, math.ceil(args.rows / 1_000_000))
    try:
        paths = write_shards(args.rows, shards, args.output, args.seed)
    except (ValueError, FileExistsError) as error:
        parser.error(str(error))
    print(f"wrote {args.rows:,} rows in {len(paths)} shard{'s' * (len(paths) > 1)} to {args.output}")


if __name__ == "__main__":
    main()
