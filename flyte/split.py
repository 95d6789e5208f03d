"""Split the validated data set into training and test rows by the exact shuffle split: exactly
ceil(test_split_ratio x rows) test rows, chosen as scikit-learn's train_test_split chooses them.

(The distributed workflow splits by the row-hash split instead, flyte.shards.row_hash_split: there
test_split_ratio is each row's probability of being a test row.)"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flyte.cpus import usable_cpus
from flyte.dataset import load_table, warn_about_duplicate_rows
from flyte.errors import InvalidSettingsError
from flyte.schema import COLUMN_TYPES, LABEL


def load_and_split_table(
    path: str | Path, test_split_ratio: float, seed: int, source: str | None = None,
    columns: dict[str, type] = COLUMN_TYPES,
) -> tuple[pa.Table, pa.Table]:
    """Load and validate the CSV, then split its rows by the exact shuffle split (exact_shuffle_split), as
    scikit-learn's train_test_split(test_size=test_split_ratio, random_state=seed) does; both parts must hold both
    classes.

    The parsed table is split column by column, each column freed once its training and test parts are taken,
    so that the data set is held about once, not twice (whole table plus both parts), at any moment.
    """
    check_split_settings(test_split_ratio, seed)  # before reading a byte of the data
    table = load_table(path, source, columns)
    warn_about_duplicate_rows(table, source or str(path))
    train_rows, test_rows = exact_shuffle_split(table.num_rows, test_split_ratio, seed)
    parsed = {name: table.column(name) for name in table.column_names}
    del table  # from here `parsed` holds the only reference to each column

    def split_column(name: str) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
        column = parsed.pop(name)  # freed once both parts are taken
        return pc.take(column, train_rows), pc.take(column, test_rows)

    # A random-order take is bound by memory latency, not compute: columns on every usable CPU at once (it releases
    # the GIL).
    with ThreadPoolExecutor(usable_cpus()) as workers:
        split_columns = dict(zip(columns, workers.map(split_column, list(columns)), strict=True))
    train = pa.table({name: parts[0] for name, parts in split_columns.items()})
    test = pa.table({name: parts[1] for name, parts in split_columns.items()})
    for part, name in ((train, "training"), (test, "test")):
        classes = sorted(pc.unique(part.column(LABEL)).to_pylist())
        check_both_classes(classes, name, part.num_rows, test_split_ratio, seed)
    return train, test


def check_split_settings(test_split_ratio: float, seed: int) -> None:
    """Refuse a test_split_ratio outside (0, 1) or a seed numpy cannot take (0 to 2**32 - 1), naming the setting."""
    if isinstance(test_split_ratio, bool) or not isinstance(test_split_ratio, (int, float)):
        raise InvalidSettingsError(f"test_split_ratio must be a number, got {test_split_ratio!r}")
    if not 0 < test_split_ratio < 1:
        raise InvalidSettingsError(f"test_split_ratio must be strictly between 0 and 1, got {test_split_ratio}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidSettingsError(f"seed must be a whole number, got {seed!r}")
    if not 0 <= seed < 2**32:
        raise InvalidSettingsError(f"seed must be between 0 and 2**32 - 1, got {seed}")


def exact_shuffle_split(rows: int, test_split_ratio: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact shuffle split: row numbers of the training and test parts, in train_test_split's order. The test
    part is exactly ceil(test_split_ratio x rows) rows, the first of a seeded permutation of all rows."""
    test_rows = math.ceil(test_split_ratio * rows)
    train_rows = rows - test_rows
    if train_rows < 2 or test_rows < 2:
        raise InvalidSettingsError(
            f"a test_split_ratio of {test_split_ratio} splits {rows} rows into {train_rows} for training and "
            f"{test_rows} for testing; each part needs at least 2 rows (one of each class)"
        )
    permutation = np.random.RandomState(seed).permutation(rows)
    return permutation[test_rows:], permutation[:test_rows]


def check_both_classes(classes: list, name: str, rows: int, test_split_ratio: float, seed: int) -> None:
    if classes != [0, 1]:
        raise InvalidSettingsError(
            f"the {name} split ({rows} rows, seed {seed}, test_split_ratio {test_split_ratio}) holds only "
            f"label {classes}; it needs both 0 and 1: use more data, another seed or another ratio"
        )
