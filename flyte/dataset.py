"""Read and validate the Pima Indians Diabetes CSV (columns in flyte.schema); errors name file, row, column, value."""

from __future__ import annotations

import csv
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from flyte.digest import file_sha256
from flyte.errors import UserInputError
from flyte.schema import COLUMN_TYPES, LABEL, PLAUSIBLE_RANGES, PlausibleRange

# numpy and pandas only name types here (the functions that need numpy import it): every workflow module imports
# this one, and Table.to_pandas imports pandas itself.
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CANONICAL_DATASET_URL = "https://raw.githubusercontent.com/jbrownlee/Datasets/master/pima-indians-diabetes.data.csv"
CANONICAL_DATASET_SHA256 = "6bfe5d0f379d17a0e0819b996407e3c09bf80febd4287f2ed212190dfff154af"

_ARROW_TYPES = {int: pa.int64(), float: pa.float64()}


class InvalidDatasetError(UserInputError, ValueError):
    """The CSV cannot be used as training data; the message names the file, row, column and value at fault."""


class DuplicateRowsWarning(UserWarning):
    """The data set repeats rows exactly; the message names the file and the count."""


@dataclass(frozen=True)
class _Problem:
    """One bad cell or row: a 0-based data record index, the column (if any) and what is wrong with it."""

    record: int
    column: str | None
    problem: str
    expected: str


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
    _refuse_compressed(path, source)
    first_line = _first_nonblank_line(path)
    if first_line is None:
        raise InvalidDatasetError(
            f"{source}: the file is empty; expected rows of {len(columns)} comma-separated numbers "
            f"({', '.join(columns)})"
        )
    has_header = [cell.strip().lower() for cell in first_line.split(",", len(columns))] == list(columns)
    try:
        # A stream, not the path: pyarrow would guess a compression from the file name (.gz, .bz2, ...).
        with pa.input_stream(str(path), compression=None) as stream:
            table = pacsv.read_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=list(columns), skip_rows=int(has_header)),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: _ARROW_TYPES[kind] for name, kind in columns.items()},
                    null_values=[""],
                    strings_can_be_null=False,
                ),
            )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise _malformed_row_error(path, source, columns, has_header, error) from None
    if table.num_rows == 0:
        raise InvalidDatasetError(f"{source}: has a header but no data rows")
    problem = _first_invalid_value(table, columns)
    if problem is not None:
        raise _describe(problem, path, source, has_header)
    return table


def warn_about_duplicate_rows(table: pa.Table, source: str) -> int:
    """Warn (DuplicateRowsWarning) when rows repeat an earlier row exactly; return how many do.

    A repeated row can land in both the training and the test split and inflate the test accuracy.
    """
    duplicates = count_duplicate_rows(table)
    if duplicates:
        warnings.warn(
            f"{source}: {duplicates} of {table.num_rows} rows are exact duplicates of an earlier row; a row in both "
            "the training and the test split inflates the test accuracy: remove them unless they are distinct patients",
            DuplicateRowsWarning,
            stacklevel=2,
        )
    return duplicates


def count_duplicate_rows(table: pa.Table) -> int:
    """How many rows equal an earlier row, value for value: a 64-bit hash of every row, sorted, and only the rows
    whose hash repeats compared exactly (timings: docs/performance.md)."""
    import numpy as np  # not at module level: every workflow module imports this one

    hashes = _row_hashes(table)
    ordered = np.sort(hashes)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    del ordered
    if len(repeated) == 0:
        return 0
    candidates = np.flatnonzero(np.isin(hashes, repeated))
    del hashes
    parts = []  # the candidate rows, taken batch by batch: Table.take would first join every chunk of the table
    start = 0
    for batch in table.to_batches():
        within = candidates[(candidates >= start) & (candidates < start + batch.num_rows)] - start
        start += batch.num_rows
        if len(within):
            parts.append(batch.take(pa.array(within)))
    columns = [np.concatenate([part.column(index).to_numpy(zero_copy_only=False) for part in parts])
               for index in range(table.num_columns)]
    order = np.lexsort(columns)  # equal rows side by side
    same_as_previous = np.ones(len(order) - 1, dtype=bool)
    for values in columns:
        ordered_values = values[order]
        same_as_previous &= ordered_values[1:] == ordered_values[:-1]
    return int(same_as_previous.sum())


def _row_hashes(table: pa.Table) -> np.ndarray:
    """A 64-bit hash of each row's values (0.0 and -0.0 alike): h = h * K + value bits, column by column, computed
    in place one record batch at a time; count_duplicate_rows compares the rows whose hashes repeat exactly.

    No temporary arrays: one per batch and column would cost more in page faults than the hashing; one thread:
    threads would hand the GIL back and forth between thousands of small numpy calls (docs/performance.md).
    """
    import numpy as np

    batches = table.to_batches()
    hashes = np.zeros(table.num_rows, np.uint64)
    scratch = np.empty(max((batch.num_rows for batch in batches), default=0), np.float64)
    multiplier = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplying by it mod 2**64 loses nothing
    start = 0
    for batch in batches:
        part = hashes[start : start + batch.num_rows]
        start += batch.num_rows
        for column in batch.columns:
            values = column.to_numpy(zero_copy_only=False)
            if values.dtype.kind == "f":
                values = np.add(values, 0.0, out=scratch[: batch.num_rows])  # -0.0 + 0.0 is 0.0: equal bits
            part *= multiplier
            part += values.view(np.uint64)
    return hashes


def _verify_canonical_download(path: Path) -> None:
    """Refuse a download of the canonical URL whose bytes differ from the published file."""
    digest = file_sha256(path)
    if digest != CANONICAL_DATASET_SHA256:
        raise InvalidDatasetError(
            f"{CANONICAL_DATASET_URL}: downloaded file has sha256 {digest}, expected {CANONICAL_DATASET_SHA256}; "
            "the download is corrupt or the file changed upstream. Pass a verified local copy with --dataset PATH."
        )


# The leading bytes of the compressed formats a CSV is usually shipped in, and how to unpack each.
_COMPRESSED_MAGIC = {
    b"\x1f\x8b": ("gzip", "gunzip FILE"),
    b"BZh": ("bzip2", "bunzip2 FILE"),
    b"\xfd7zXZ\x00": ("xz", "unxz FILE"),
    b"PK\x03\x04": ("zip", "unzip FILE"),
    b"(\xb5/\xfd": ("zstd", "unzstd FILE"),
}


def _refuse_compressed(path: Path, source: str) -> None:
    """Refuse a compressed file, whatever its name: the reader takes plain CSV only (docs/data-validation.md)."""
    with open(path, "rb") as stream:
        head = stream.read(6)
    for magic, (kind, unpack) in _COMPRESSED_MAGIC.items():
        if head.startswith(magic):
            raise InvalidDatasetError(
                f"{source}: is a {kind}-compressed file, not a CSV; decompress it first ({unpack}) and pass the CSV"
            )


def _first_nonblank_line(path: Path) -> str | None:
    """The first line with more than whitespace, or its first _LONG_LINE characters: enough to tell a header."""
    with open(path, encoding="utf-8-sig", errors="replace") as stream:
        return next((line for line in iter(lambda: stream.readline(_LONG_LINE), "") if line.strip()), None)


def _range_of(name: str) -> PlausibleRange:
    """A column's plausible range; a column outside the schema only has to be >= 0."""
    return PLAUSIBLE_RANGES.get(name, PlausibleRange(0, math.inf, ""))


def _expected(name: str, kind: type) -> str:
    return "0 or 1" if name == LABEL else _range_of(name).describe(kind)


def _first_invalid_value(table: pa.Table, columns: dict[str, type]) -> _Problem | None:
    """The first empty, non-finite or implausible value, or label outside {0, 1}, in record order."""
    found: list[_Problem] = []
    for name, kind in columns.items():
        values = table.column(name)
        plausible = _range_of(name)
        if _clearly_valid(values, kind, plausible):
            continue
        outside = pc.or_(pc.less(values, plausible.low), pc.greater(values, plausible.high))
        if plausible.zero_means_missing:
            outside = pc.and_(outside, pc.not_equal(values, 0))
        checks = [(pc.is_null(values), "empty value")]
        if kind is float:
            checks.append((pc.is_nan(values), "value {value}"))
        checks.append((outside, "label {value}" if name == LABEL else "value {value} is outside the plausible range"))
        for mask, problem in checks:
            index = _first_true(mask)
            if index is not None:
                value = values[index].as_py()
                if name != LABEL and value is not None and value < 0:
                    problem = "negative value {value}"
                found.append(_Problem(index, name, problem.format(value=value), _expected(name, kind)))
    return min(found, key=lambda problem: problem.record, default=None)


def _clearly_valid(values: pa.ChunkedArray, kind: type, plausible: PlausibleRange) -> bool:
    """True when min/max passes show that none of the checks above can fail (the usual case): no null, no NaN,
    max <= high and min >= low, or, where 0 means missing, the least value other than 0 >= low. Spares building the
    per-row masks (timings: docs/performance.md)."""
    if values.null_count or len(values) == 0:
        return False
    low, high = (bound.as_py() for bound in pc.min_max(values).values())
    if high > plausible.high or low < 0 or (low < plausible.low and not plausible.zero_means_missing):
        return False
    if kind is float and pc.any(pc.is_nan(values)).as_py():
        return False
    if low < plausible.low and not (kind is int and plausible.low <= 1):  # a whole number in (0, 1) cannot be
        return _least_nonzero(values, plausible.high) >= plausible.low
    return True


def _least_nonzero(values: pa.ChunkedArray, default: float) -> float:
    """The least value other than 0 (or `default`), chunk by chunk: no column-sized temporary array."""
    import numpy as np

    least = default
    for chunk in values.chunks:
        numbers = chunk.to_numpy(zero_copy_only=False)
        least = min(least, np.min(numbers, where=numbers != 0, initial=least).item())
    return least


def _first_true(mask: pa.ChunkedArray) -> int | None:
    index = pc.index(pc.fill_null(mask, False), True).as_py()
    return None if index < 0 else index


# What pyarrow's CSV reader takes as an int64 or a float64 cell (checked against the reader itself in the tests).
_NUMBER_CELLS = {
    int: re.compile(r"[ \t]*(?:-?[0-9]+|0[xX][0-9a-fA-F]+)[ \t]*"),
    float: re.compile(r"[ \t]*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)[ \t]*", re.I),
}
_INT64 = (-(2**63), 2**63 - 1)
# An undecodable byte as repr() shows it after reading with errors="surrogateescape": \udcff for the byte 0xff.
_UNDECODED_BYTE = re.compile(r"\\udc([89a-f][0-9a-f])")
# A line longer than this is never handed whole to the csv module, which would hold each of its cells as a Python
# string (a 52 MB line of numbers: 26 million of them); it is read piece by piece, this long each (_overlong_row).
_LONG_LINE = 1 << 20
# How much of each cell of such a line is kept: more than any number pyarrow reads, and than a message shows.
_KEPT_CHARACTERS = 1 << 10
# pyarrow's message for a cell it could not convert: the column number and the value.
_ARROW_CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): CSV conversion error to \w+: invalid value '(.*)'", re.S)


def _malformed_row_error(
    path: Path, source: str, columns: dict[str, type], has_header: bool, error: Exception
) -> InvalidDatasetError:
    """Describe the first row pyarrow could not parse (wrong column count, a cell that is not a number) by its line,
    column and value; failing that, the cell pyarrow names, found by its column and value."""
    for line, count, cells in _numbered_rows(path, source, skip_header=has_header, kept_cells=len(columns)):
        hint = (
            " (a header row must be exactly: " + ",".join(columns) + ")"
            if line == 1 and _looks_like_header(cells) else ""
        )
        if count != len(columns):
            return InvalidDatasetError(
                f"{source}: row {line} has {count} columns, expected {len(columns)} ({', '.join(columns)}){hint}"
            )
        for (name, kind), cell in zip(columns.items(), cells, strict=True):
            if cell and not _parses_as(cell, kind):
                return _not_a_number(source, line, name, kind, cell, hint)
    named = _ARROW_CONVERSION_ERROR.search(str(error))
    if named and int(named[1]) < len(columns):
        name, value = list(columns)[int(named[1])], named[2]
        index = list(columns).index(name)
        for line, _, cells in _numbered_rows(path, source, skip_header=has_header, kept_cells=index + 1):
            if len(cells) > index and cells[index].strip(" \t") == value.strip(" \t"):
                return _not_a_number(source, line, name, columns[name], cells[index])
    reason = str(error)  # pyarrow's, which can quote a whole row
    reason = reason if len(reason) <= _KEPT_CHARACTERS else f"{reason[:_KEPT_CHARACTERS]}... ({len(reason)} characters)"
    return InvalidDatasetError(f"{source}: cannot be read as a CSV of {len(columns)} numeric columns: {reason}")


def _not_a_number(source: str, line: int, name: str, kind: type, cell: str, hint: str = "") -> InvalidDatasetError:
    problem = f"value {_shown(cell)} is not {'a whole number' if kind is int else 'a number'}"
    if name == LABEL:
        problem = f"label {_shown(cell)}"
    expected = _expected(name, kind)
    return InvalidDatasetError(f"{source}: row {line}, column '{name}': {problem}; expected {expected}{hint}")


def _numbered_rows(path: Path, source: str, skip_header: bool, kept_cells: int):
    """Yield (1-based line number where the row starts, its number of cells, its first `kept_cells` cells) for each
    non-empty CSV row, as pyarrow counts records.

    Decodes UTF-8 (a leading byte order mark dropped; other undecodable bytes kept as escapes for _shown). Memory stays
    bounded whatever the file: a line longer than _LONG_LINE is read piece by piece (_overlong_row), its kept cells
    cut to _KEPT_CHARACTERS; shorter ones go to the csv module, whose field size limit is lifted to match.
    """
    previous_limit = csv.field_size_limit(_LONG_LINE)
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as stream:
            lines_before = 0  # lines read by the readers before this one
            while True:
                reader = csv.reader(_lines_shorter_than_long(stream))
                while True:
                    start = lines_before + reader.line_num + 1
                    try:
                        cells = next(reader)
                    except StopIteration:
                        return
                    except _OverlongLine as overlong:  # a row of its own; a new reader takes the lines after it
                        count, cells = _overlong_row(overlong.first_piece, stream, kept_cells)
                        lines_before = start
                        if skip_header:
                            skip_header = False
                        else:
                            yield start, count, cells
                        break
                    except csv.Error as error:
                        raise InvalidDatasetError(f"{source}: row {start}: not a valid CSV row ({error})") from None
                    if not cells:
                        continue
                    if skip_header:
                        skip_header = False
                        continue
                    yield start, len(cells), cells[:kept_cells]
    finally:
        csv.field_size_limit(previous_limit)


class _OverlongLine(Exception):
    """A line longer than _LONG_LINE, met while the csv module reads; its first _LONG_LINE characters."""

    def __init__(self, first_piece: str):
        super().__init__(f"a line longer than {_LONG_LINE} characters")
        self.first_piece = first_piece


def _lines_shorter_than_long(stream):
    """The stream's lines, for the csv module, up to one longer than _LONG_LINE: that one raises _OverlongLine."""
    while line := stream.readline(_LONG_LINE):
        if len(line) == _LONG_LINE and not line.endswith(("\n", "\r")):
            raise _OverlongLine(line)
        yield line


class _CutCell(str):
    """The first _KEPT_CHARACTERS of a longer cell, and the cell's real length (for _shown)."""

    length: int


def _overlong_row(first_piece: str, stream, kept_cells: int) -> tuple[int, list[str]]:
    """The number of cells of an overlong line and its first `kept_cells` cells (longer ones as _CutCell), read
    piece by piece to the line's end. Commas inside double quotes do not separate cells; the quotes are kept."""
    cells: list[str] = []
    separators, head, length, quoted = 0, "", 0, False

    def add(text: str) -> None:
        nonlocal head, length
        head += text[: max(0, _KEPT_CHARACTERS - len(head))]
        length += len(text)

    def end_cell() -> None:
        nonlocal head, length
        if len(cells) < kept_cells:
            cells.append(head if length <= len(head) else _cut_cell(head, length))
        head, length = "", 0

    piece = first_piece
    while piece:
        last = piece.endswith(("\n", "\r"))
        piece = piece.rstrip("\r\n") if last else piece
        if len(cells) >= kept_cells and not quoted and '"' not in piece:  # only counting left: at C speed
            separators += piece.count(",")
        else:
            position = 0
            for mark in re.finditer('[",]', piece):
                if mark[0] == '"':
                    quoted = not quoted
                elif not quoted:
                    add(piece[position : mark.start()])
                    end_cell()
                    separators += 1
                    position = mark.end()
            add(piece[position:])
        if last:
            break
        piece = stream.readline(_LONG_LINE)
    end_cell()
    return separators + 1, cells


def _cut_cell(head: str, length: int) -> _CutCell:
    cell = _CutCell(head)
    cell.length = length
    return cell


def _parses_as(cell: str, kind: type) -> bool:
    """True where pyarrow's reader converts the cell to `kind` (int64 cells within int64's range)."""
    if not _NUMBER_CELLS[kind].fullmatch(cell):
        return False
    if kind is float:
        return True
    text = cell.strip(" \t")
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text)
    base = 16 if digits[:2].lower() == "0x" else 10
    digits = digits[2:] if base == 16 else digits
    digits = digits.lstrip("0") or "0"
    return len(digits) <= 19 and _INT64[0] <= sign * int(digits, base) <= _INT64[1]


def _looks_like_header(cells: list[str]) -> bool:
    """Most cells are not numbers: a header row, not a data row with a typo."""
    return sum(not _NUMBER_CELLS[float].fullmatch(cell) for cell in cells) > len(cells) / 2


def _shown(cell: str, limit: int = 40) -> str:
    """A cell as quoted in messages: undecodable bytes as \\xNN, a very long cell cut, with its length."""
    text = _UNDECODED_BYTE.sub(r"\\x\1", repr(cell[:limit]))
    length = getattr(cell, "length", len(cell))
    return text if length <= limit else f"{text}... ({length} characters)"


def _describe(problem: _Problem, path: Path, source: str, has_header: bool) -> InvalidDatasetError:
    """Turn a problem found in the parsed table into an error naming the file's line number."""
    rows = _numbered_rows(path, source, skip_header=has_header, kept_cells=0)
    line = next(line for index, (line, _, _) in enumerate(rows) if index == problem.record)
    return InvalidDatasetError(
        f"{source}: row {line}, column '{problem.column}': {problem.problem}; expected {problem.expected}"
    )
