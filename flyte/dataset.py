"""Read and validate the Pima Indians Diabetes CSV (columns in flyte.schema); errors name file, row, column, value."""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from flyte.schema import COLUMN_TYPES, LABEL

if TYPE_CHECKING:  # pandas only names a type here (Table.to_pandas imports it): every workflow module imports this one
    import pandas as pd

CANONICAL_DATASET_URL = "https://raw.githubusercontent.com/jbrownlee/Datasets/master/pima-indians-diabetes.data.csv"
CANONICAL_DATASET_SHA256 = "6bfe5d0f379d17a0e0819b996407e3c09bf80febd4287f2ed212190dfff154af"

_ARROW_TYPES = {int: pa.int64(), float: pa.float64()}
_EXPECTED_VALUE = {int: "a whole number >= 0", float: "a number >= 0"}


class InvalidDatasetError(ValueError):
    """The CSV cannot be used as training data; the message names the file, row, column and value at fault."""


@dataclass(frozen=True)
class _Problem:
    """One bad cell or row: a 0-based data record index, the column (if any) and what is wrong with it."""

    record: int
    column: str | None
    problem: str
    expected: str


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def load_dataset(path: str | Path, source: str | None = None, columns: dict[str, type] = COLUMN_TYPES) -> pd.DataFrame:
    """Read and validate a headerless (or exactly-headed) CSV of `columns`; `source` names it in errors.

    Raises InvalidDatasetError naming the file, row (1-based line number), column and value of the first problem.
    """
    return load_table(path, source, columns).to_pandas()


def load_table(path: str | Path, source: str | None = None, columns: dict[str, type] = COLUMN_TYPES) -> pa.Table:
    """load_dataset as a pyarrow Table (parsed on all cores), for callers that need no pandas copy of the data."""
    path = Path(path)
    source = source or str(path)
    if not path.is_file():
        raise InvalidDatasetError(f"{source}: no such file; expected a CSV of the columns {', '.join(columns)}")
    if source == CANONICAL_DATASET_URL:
        _verify_canonical_download(path)
    first_line = _first_nonblank_line(path)
    if first_line is None:
        raise InvalidDatasetError(
            f"{source}: the file is empty; expected rows of {len(columns)} comma-separated numbers "
            f"({', '.join(columns)})"
        )
    has_header = [cell.strip().lower() for cell in first_line.split(",")] == list(columns)
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=list(columns), skip_rows=int(has_header)),
            convert_options=pacsv.ConvertOptions(
                column_types={name: _ARROW_TYPES[kind] for name, kind in columns.items()},
                null_values=[""],
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise _malformed_row_error(path, source, columns, has_header) or InvalidDatasetError(
            f"{source}: cannot be read as a CSV of {len(columns)} numeric columns: {error}"
        ) from None
    if table.num_rows == 0:
        raise InvalidDatasetError(f"{source}: has a header but no data rows")
    problem = _first_invalid_value(table, columns)
    if problem is not None:
        raise _describe(problem, path, source, has_header)
    return table


def _verify_canonical_download(path: Path) -> None:
    """Refuse a download of the canonical URL whose bytes differ from the published file."""
    digest = file_sha256(path)
    if digest != CANONICAL_DATASET_SHA256:
        raise InvalidDatasetError(
            f"{CANONICAL_DATASET_URL}: downloaded file has sha256 {digest}, expected {CANONICAL_DATASET_SHA256}; "
            "the download is corrupt or the file changed upstream. Pass a verified local copy with --dataset PATH."
        )


def _first_nonblank_line(path: Path) -> str | None:
    with open(path, encoding="utf-8", errors="replace") as stream:
        return next((line for line in stream if line.strip()), None)


def _first_invalid_value(table: pa.Table, columns: dict[str, type]) -> _Problem | None:
    """The first empty, non-finite or negative value, or label outside {0, 1}, in record order."""
    found: list[_Problem] = []
    for name, kind in columns.items():
        values = table.column(name)
        if _clearly_valid(values, kind, is_label=name == LABEL):
            continue
        expected = "0 or 1" if name == LABEL else _EXPECTED_VALUE[kind]
        checks = [(pc.is_null(values), "empty value")]
        if kind is float:
            checks.append((pc.invert(pc.is_finite(values)), "value {value}"))
        checks.append((pc.less(values, 0), "negative value {value}"))
        if name == LABEL:
            checks.append((pc.invert(pc.is_in(values, pa.array([0, 1]))), "label {value}"))
        for mask, problem in checks:
            index = _first_true(mask)
            if index is not None:
                found.append(_Problem(index, name, problem.format(value=values[index].as_py()), expected))
    return min(found, key=lambda problem: problem.record, default=None)


def _clearly_valid(values: pa.ChunkedArray, kind: type, is_label: bool) -> bool:
    """True when one min/max pass shows that none of the checks below can fail (the usual case): no null, no
    NaN, min >= 0, max finite, and for an integer label max <= 1. Spares building the per-row masks (timings:
    docs/performance.md)."""
    if values.null_count or len(values) == 0 or (is_label and kind is not int):
        return False
    low, high = (bound.as_py() for bound in pc.min_max(values).values())
    if low is None or low < 0 or not math.isfinite(high) or (is_label and high > 1):
        return False
    return kind is not float or not pc.any(pc.is_nan(values)).as_py()


def _first_true(mask: pa.ChunkedArray) -> int | None:
    index = pc.index(pc.fill_null(mask, False), True).as_py()
    return None if index < 0 else index


def _malformed_row_error(
    path: Path, source: str, columns: dict[str, type], has_header: bool
) -> InvalidDatasetError | None:
    """Find the first row pyarrow could not parse (wrong column count, text in a numeric column) and describe it."""
    with open(path, newline="", encoding="utf-8", errors="replace") as stream:
        for line, cells in _numbered_rows(stream, skip_header=has_header):
            if len(cells) != len(columns):
                return InvalidDatasetError(
                    f"{source}: row {line} has {len(cells)} columns, expected {len(columns)} "
                    f"({', '.join(columns)})"
                )
            for (name, kind), cell in zip(columns.items(), cells, strict=True):
                if cell.strip() and not _parses_as(cell, kind):
                    hint = " (a header row must be exactly: " + ",".join(columns) + ")" if line == 1 else ""
                    return InvalidDatasetError(
                        f"{source}: row {line}, column '{name}': value {cell!r} is not {_EXPECTED_VALUE[kind]}{hint}"
                    )
    return None


def _numbered_rows(stream, skip_header: bool):
    """Yield (1-based line number, cells) for each non-blank CSV row, as pyarrow counts records."""
    for line, cells in enumerate(csv.reader(stream), start=1):
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if skip_header:
            skip_header = False
            continue
        yield line, cells


def _parses_as(cell: str, kind: type) -> bool:
    try:
        kind(cell.strip())
    except ValueError:
        return False
    return True


def _describe(problem: _Problem, path: Path, source: str, has_header: bool) -> InvalidDatasetError:
    """Turn a problem found in the parsed table into an error naming the file's line number."""
    with open(path, newline="", encoding="utf-8", errors="replace") as stream:
        rows = _numbered_rows(stream, skip_header=has_header)
        line = next(line for index, (line, _) in enumerate(rows) if index == problem.record)
    return InvalidDatasetError(
        f"{source}: row {line}, column '{problem.column}': {problem.problem}; expected {problem.expected}"
    )


