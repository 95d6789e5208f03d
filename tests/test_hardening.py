"""Bad inputs as careful and careless users give them: settings, cells, files and faults; each must fail clearly.

Every error must name what was wrong (the setting; the file, row, column and value) and what was expected, and a
failed step must leave nothing behind.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import json
import lzma
import math
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import msgpack
import pandas as pd
import pyarrow.csv as pacsv
import pytest
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.type_engine import TypeEngine
from flytekit.models.literals import Literal, Scalar
from google.protobuf.struct_pb2 import Struct
from mashumaro.codecs.json import JSONDecoder
from mashumaro.codecs.msgpack import MessagePackDecoder

from flyte.dataset import DuplicateRowsWarning, InvalidDatasetError, count_duplicate_rows, load_dataset, load_table
from flyte.errors import InvalidSettingsError
from flyte.hyperparameters import GRID_MAX_POINTS, HyperparameterGrid, Hyperparameters
from flyte.schema import COLUMNS, FEATURE_TYPES, LABEL, PLAUSIBLE_RANGES
from flyte.split import load_and_split_table
from tests.conftest import REPO_ROOT, provenance, synthetic_rows, write_csv

# ---------------------------------------------------------------------------------------------------------------
# Settings: every way a dataclass input arrives, refused or accepted alike.


def from_struct(settings: dict, kind: type):
    """What a task receives when the console or `flytectl create execution` sends the input: a protobuf Struct, in
    which every number is a double, turned into the dataclass by flytekit's own type engine."""
    struct = Struct()
    struct.update(settings)
    literal = Literal(scalar=Scalar(generic=struct))
    return TypeEngine.to_python_value(FlyteContextManager.current_context(), literal, kind)


def from_msgpack(settings: dict, kind: type):
    """flytekit's binary (MessagePack) literal of a dataclass, as pyflyte run sends one to a remote execution."""
    return MessagePackDecoder(kind).decode(msgpack.dumps(settings))


WAYS_IN = {
    "python": lambda settings, kind: kind(**settings),
    "pyflyte run JSON": lambda settings, kind: kind.from_json(json.dumps(settings)),
    "protobuf Struct": from_struct,
    "mashumaro JSON": lambda settings, kind: JSONDecoder(kind).decode(json.dumps(settings)),
    "MessagePack": from_msgpack,
}


def refused(way: str, settings: dict, kind: type = Hyperparameters) -> str:
    with pytest.raises(Exception) as error:  # flytekit wraps the ValueError in its own error types
        WAYS_IN[way](settings, kind)
    return str(error.value)


@pytest.mark.parametrize("way", WAYS_IN)
def test_every_way_in_takes_whole_floats_and_refuses_bad_settings_naming_the_field(way):
    """The ways differ in where the check runs (__post_init__, from_json, mashumaro's __pre_deserialize__ under
    flytekit's type engine) and in what they carry (a Struct's numbers are all doubles); the kinds of bad values
    are checked once, below."""
    made = WAYS_IN[way]({"max_depth": 6.0, "n_estimators": 10000.0, "learning_rate": 1}, Hyperparameters)
    assert made == Hyperparameters(max_depth=6, learning_rate=1.0, n_estimators=10000)
    assert (type(made.max_depth), type(made.n_estimators), type(made.learning_rate)) == (int, int, float)
    assert WAYS_IN[way]({}, Hyperparameters) == Hyperparameters()
    unknown = refused(way, {"learningrate": 0.2, "trees": 3})
    if way == "python":  # Python's own TypeError
        assert "unexpected keyword argument 'learningrate'" in unknown
    else:
        assert ("unknown Hyperparameters fields 'learningrate', 'trees'; the fields are max_depth, learning_rate, "
                "n_estimators, objective, booster") in unknown
    assert "hyperparameters.max_depth must be a whole number, got 3.7" in refused(way, {"max_depth": 3.7})
    assert "hyperparameters.learning_rate must be a number, got '0.3' (str)" in refused(way, {"learning_rate": "0.3"})
    assert "invalid hyperparameters: max_depth must be between 1 and 32, got 33" in refused(way, {"max_depth": 33})


def test_a_settings_text_that_is_not_a_json_object_is_refused_naming_the_class():
    """What `pyflyte run --hyperparameters TEXT` gets when the text is not JSON, or JSON but not an object."""
    with pytest.raises(InvalidSettingsError, match=r"^Hyperparameters is not valid JSON \(Expecting property name"):
        Hyperparameters.from_json("{max_depth: 3}")
    with pytest.raises(InvalidSettingsError, match=r"^Hyperparameters must be a JSON object with the fields "
                       r"max_depth, learning_rate, n_estimators, objective, booster, got \[1, 2\]$"):
        Hyperparameters.from_json("[1, 2]")


@pytest.mark.parametrize(
    "settings, message",
    [
        pytest.param({"n_estimators": 99.5}, "field n_estimators must be a whole number, got 99.5", id="fraction"),
        pytest.param({"max_depth": math.inf}, "field max_depth must be a whole number, got inf", id="infinite"),
        pytest.param({"n_estimators": math.nan}, "field n_estimators must be a whole number, got nan", id="nan"),
        pytest.param({"max_depth": "4"}, "field max_depth must be a whole number, got '4' (str)", id="string"),
        pytest.param({"n_estimators": None}, "field n_estimators must be a whole number, got None (NoneType)",
                     id="none"),
        pytest.param({"max_depth": True}, "field max_depth must be a whole number, got True (bool)", id="bool"),
        pytest.param({"objective": 1}, "field objective must be a string, got 1 (int)", id="number for a string"),
        pytest.param({"max_depth": 0}, "max_depth must be between 1 and 32, got 0", id="below"),
        pytest.param({"n_estimators": 10001}, "n_estimators must be between 1 and 10000, got 10001", id="above"),
        pytest.param({"n_estimators": 1e12}, "n_estimators must be between 1 and 10000, got 1000000000000",
                     id="huge whole float"),
        pytest.param({"learning_rate": 0}, "learning_rate must be above 0 and at most 1, got 0.0", id="rate zero"),
        pytest.param({"learning_rate": math.nan}, "learning_rate must be above 0 and at most 1, got nan",
                     id="rate nan"),
        pytest.param({"learning_rate": math.inf}, "learning_rate must be above 0 and at most 1, got inf",
                     id="rate infinite"),
        pytest.param({"objective": "reg:squarederror"},
                     "objective must be one of binary:logistic, got 'reg:squarederror'", id="objective"),
        pytest.param({"objective": "binary:hinge"},
                     "objective must be one of binary:logistic, got 'binary:hinge' (it yields 0/1 classes, not the "
                     "probabilities the evaluation, tuning and predictions report)", id="objective with a reason"),
        pytest.param({"booster": "forest"}, "booster must be one of gbtree, dart, gblinear, got 'forest'",
                     id="booster"),
        pytest.param({"max_depth": -1, "n_estimators": -1, "booster": "x"},
                     "max_depth must be between 1 and 32, got -1; n_estimators must be between 1 and 10000, got -1; "
                     "booster must be one of gbtree, dart, gblinear, got 'x'", id="every problem at once"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(settings, message):
    """Every kind of bad value, through __post_init__ (the ways in differ only in how they get there)."""
    with pytest.raises(ValueError) as error:
        Hyperparameters(**settings)
    field = message.removeprefix("field ")  # a type problem names the input's field: hyperparameters.max_depth
    expected = "hyperparameters." + field if field != message else "invalid hyperparameters: " + message
    assert str(error.value) == expected


@pytest.mark.parametrize("way", WAYS_IN)
def test_grid_takes_whole_floats_and_refuses_the_rest(way):
    grid = WAYS_IN[way]({"max_depth": [2.0, 3.0], "n_estimators": [10.0]}, HyperparameterGrid)
    assert (grid.max_depth, grid.n_estimators) == ([2, 3], [10])
    assert all(type(value) is int for value in grid.max_depth + grid.n_estimators)
    unknown = refused(way, {"depth": [2]}, HyperparameterGrid)
    assert "unknown HyperparameterGrid field 'depth'" in unknown or "unexpected keyword argument 'depth'" in unknown
    assert "max_depth must be a whole number, got 2.5" in refused(way, {"max_depth": [2, 2.5]}, HyperparameterGrid)
    assert "max_depth must be a list of values, got 3" in refused(way, {"max_depth": 3}, HyperparameterGrid)
    assert "n_estimators must be between 1 and 10000" in refused(way, {"n_estimators": [0]}, HyperparameterGrid)


def test_grid_size_is_bounded_before_any_point_is_made():
    side = math.isqrt(GRID_MAX_POINTS) + 1  # side * side > GRID_MAX_POINTS
    grid = {"max_depth": [3], "n_estimators": list(range(1, side + 1)),
            "learning_rate": [k / side for k in range(1, side + 1)]}
    assert side * side > GRID_MAX_POINTS
    message = refused("python", grid, HyperparameterGrid)
    assert f"the grid has {side * side} points; at most {GRID_MAX_POINTS} are allowed" in message
    assert len(HyperparameterGrid(n_estimators=list(range(1, 11)), max_depth=list(range(1, 26))).points()) == 750


def test_fit_task_takes_hyperparameters_sent_as_a_struct(synthetic_csv):
    """The fit task as its pod runs it: inputs as literals, the hyperparameters a Struct of doubles."""
    from flytekit.models.literals import LiteralMap
    from flytekit.types.file import FlyteFile

    from flyte.model_file import load_model
    from flyte.workflows.example import fit, split_traintest_dataset

    train, _, digest, source = split_traintest_dataset(
        dataset=FlyteFile(str(synthetic_csv)), test_split_ratio=0.3, seed=1
    )
    context = FlyteContextManager.current_context()

    def inputs(settings: dict) -> LiteralMap:
        struct = Struct()
        struct.update(settings)
        return LiteralMap({
            "train": TypeEngine.to_literal(context, train, type(train), TypeEngine.to_literal_type(type(train))),
            "hyperparameters": Literal(scalar=Scalar(generic=struct)),
            "seed": TypeEngine.to_literal(context, 1, int, TypeEngine.to_literal_type(int)),
            "dataset_sha256": TypeEngine.to_literal(context, digest, str, TypeEngine.to_literal_type(str)),
            "dataset_source": TypeEngine.to_literal(context, source, str, TypeEngine.to_literal_type(str)),
        })

    outputs = fit.dispatch_execute(context, inputs({"max_depth": 2.0, "n_estimators": 7.0}))
    model_path = TypeEngine.to_python_value(context, outputs.literals["o0"], FlyteFile).download()
    saved = load_model(model_path)
    assert (saved.provenance.hyperparameters["max_depth"], saved.provenance.hyperparameters["n_estimators"]) == (2, 7)
    assert saved.classifier.get_booster().num_boosted_rounds() == 7
    with pytest.raises(Exception, match="max_depth must be a whole number, got 2.5"):
        fit.dispatch_execute(context, inputs({"max_depth": 2.5}))
    with pytest.raises(Exception, match="unknown Hyperparameters field 'depth'"):
        fit.dispatch_execute(context, inputs({"depth": 2}))


@pytest.mark.parametrize(
    "ratio, seed, message",
    [
        (0.3, -1, "seed must be between 0 and 2**32 - 1, got -1"),
        (0.3, 2**32, f"seed must be between 0 and 2**32 - 1, got {2**32}"),
        (0.3, 7.5, "seed must be a whole number, got 7.5"),
        (1.0, 7, "test_split_ratio must be strictly between 0 and 1, got 1.0"),
        ("0.3", 7, "test_split_ratio must be a number, got '0.3'"),
    ],
)
def test_split_settings_are_refused_before_the_file_is_read(tmp_path, ratio, seed, message):
    with pytest.raises(ValueError) as error:
        load_and_split_table(tmp_path / "never-read.csv", ratio, seed)  # the file does not even exist
    assert str(error.value) == message


# ---------------------------------------------------------------------------------------------------------------
# Cells: every rejected cell names the file, the row (line), the column and the value.


# Cells a CSV reader could take more than one way, by kind: what the integer column glucose and the float column bmi
# make of each. A number is the value the cell is read as (and kept), a string the start of the error after the
# column; NOT_A_NUMBER the "not a (whole) number" error quoting the cell.
NOT_A_NUMBER = object()
ODD_CELLS = {
    "hexadecimal": ("0x10", 16, NOT_A_NUMBER),
    "infinity": ("inf", NOT_A_NUMBER, "value inf is outside the plausible range"),
    "negative infinity": ("-inf", NOT_A_NUMBER, "negative value -inf"),
    "nan": ("NaN", NOT_A_NUMBER, "value nan"),
    "digit separator": ("1_000", NOT_A_NUMBER, NOT_A_NUMBER),
    "spaces and tabs around": (" 50\t", 50, 50.0),
    "plus sign": ("+50", NOT_A_NUMBER, 50.0),
    "negative zero": ("-0", 0, -0.0),
    "leading zero": ("050", 50, 50.0),
    "decimal point": ("50.0", NOT_A_NUMBER, 50.0),
    "trailing point": ("50.", NOT_A_NUMBER, 50.0),
    "exponent": ("1e2", NOT_A_NUMBER, 100.0),
    "no digit before the point": (".5", NOT_A_NUMBER, "value 0.5 is outside the plausible range"),
    "lone point": (".", NOT_A_NUMBER, NOT_A_NUMBER),
    "two points": ("1.2.3", NOT_A_NUMBER, NOT_A_NUMBER),
    "quoted with apostrophes": ("'50'", NOT_A_NUMBER, NOT_A_NUMBER),
    "inner space": ("5 5", NOT_A_NUMBER, NOT_A_NUMBER),
    "word": ("true", NOT_A_NUMBER, NOT_A_NUMBER),
    "NUL byte": ("5\x00", NOT_A_NUMBER, NOT_A_NUMBER),
    "non-breaking space": ("\xa0 50", NOT_A_NUMBER, NOT_A_NUMBER),
    "non-ASCII digit": ("\uff15", NOT_A_NUMBER, NOT_A_NUMBER),
    "largest 64-bit integer": ("9223372036854775807", "value 9223372036854775807 is outside the plausible range",
                               "value 9.223372036854776e+18 is outside the plausible range"),
    "beyond 64-bit integers": ("9223372036854775808", NOT_A_NUMBER,
                               "value 9.223372036854776e+18 is outside the plausible range"),
    "beyond 64-bit floats": ("1e400", NOT_A_NUMBER, "value inf is outside the plausible range"),
    "invalid UTF-8": ("5\udcff", "value '5\\xff' is not a whole number", "value '5\\xff' is not a number"),
}


@pytest.mark.parametrize("cell, glucose, bmi", ODD_CELLS.values(), ids=ODD_CELLS.keys())
def test_odd_cells_are_read_as_numbers_or_reported_by_file_row_column_and_value(tmp_path, cell, glucose, bmi):
    for column, expected in (("glucose", glucose), ("bmi", bmi)):
        rows = [",".join(map(str, row)) for row in synthetic_rows(8)]
        cells = rows[5].split(",")
        cells[COLUMNS.index(column)] = cell
        rows[5] = ",".join(cells)
        path = tmp_path / f"{column}.csv"
        path.write_bytes(("\n".join(rows) + "\n").encode("utf-8", "surrogateescape"))
        if isinstance(expected, int | float):
            value = load_dataset(path)[column].iloc[5]
            assert (value, math.copysign(1, value)) == (expected, math.copysign(1, expected)), column
            continue
        with pytest.raises(InvalidDatasetError) as error:
            load_dataset(path)
        if expected is NOT_A_NUMBER:
            expected = f"value {cell!r} is not {'a whole number' if column == 'glucose' else 'a number'}"
        assert str(error.value).startswith(f"{path}: row 6, column '{column}': {expected}; expected a "), column


@pytest.mark.parametrize("cell", ["1" * 300_000, "9" * 200_000 + "x", "x" * 150_000])
def test_a_very_long_cell_is_reported_like_any_other(tmp_path, cell):
    rows = [",".join(map(str, row)) for row in synthetic_rows(5)]
    cells = rows[3].split(",")
    cells[COLUMNS.index("age")] = cell
    rows[3] = ",".join(cells)
    path = tmp_path / "long.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InvalidDatasetError) as error:
        load_dataset(path)
    message = str(error.value)
    assert message.startswith(f"{path}: row 4, column 'age': value '{cell[:40]}'... ({len(cell)} characters)")
    assert len(message) < 400


# A row's features and the comma before its label.
FEATURES_CELLS = ",".join(map(str, synthetic_rows(1)[0][:-1])) + ","


@pytest.mark.parametrize(
    "line, message",
    [
        ("1," * 1_500_000 + "1", f"row 3 has 1500001 columns, expected {len(COLUMNS)} ({COLUMNS[0]},"),
        # Commas inside quotes are not separators: the label's cell is 1.5 million characters long.
        (FEATURES_CELLS + '"' + "," * 1_500_000 + '"',
         f"row 3, column '{LABEL}': label '\"" + "," * 39 + "'... (1500002 characters); expected 0 or 1"),
    ],
)  # fmt: skip
def test_a_line_too_long_to_split_whole_is_reported_by_row_and_column(tmp_path, line, message):
    rows = [",".join(map(str, row)) for row in synthetic_rows(4)]
    path = tmp_path / "long-line.csv"
    path.write_text("\n".join([*rows[:2], line, *rows[2:]]) + "\n")
    with pytest.raises(InvalidDatasetError) as error:
        load_dataset(path)
    assert str(error.value).startswith(f"{path}: {message}")
    assert len(str(error.value)) < 400


# A 52 MB file of one line: 26 million cells, or a row's cells of which the last holds nearly all of it.
FIFTY_TWO_MB_LINES = {
    "26 million cells": ("1," * 26_000_000 + "1", f"row 1 has 26000001 columns, expected {len(COLUMNS)}"),
    "one 52 MB cell": (
        FEATURES_CELLS + "9" * 52_000_000,
        f"row 1, column '{LABEL}': label '{'9' * 40}'... (52000000 characters); expected 0 or 1",
    ),
}


@pytest.mark.slow  # a subprocess, for its own peak memory
@pytest.mark.parametrize("case", FIFTY_TWO_MB_LINES)
def test_reporting_a_52_mb_line_stays_far_below_the_split_tasks_memory_limit(tmp_path, case):
    """What the split task runs, in a fresh interpreter that reports its own peak resident set (VmHWM, which starts
    afresh at exec; ru_maxrss keeps the forking pytest's peak): the error's message, and a peak under a quarter of
    the task's memory limit (it was 2.1 GiB, over the limit)."""
    from flyte.workflows.example import split_traintest_dataset

    line, message = FIFTY_TWO_MB_LINES[case]
    path = tmp_path / "one-line.csv"
    path.write_text(line + "\n")
    script = (
        "import re, sys\n"
        "from flyte.dataset import InvalidDatasetError\n"
        "from flyte.split import load_and_split_table\n"
        "try:\n"
        "    load_and_split_table(sys.argv[1], 0.33, 7)\n"
        "except InvalidDatasetError as error:\n"
        "    status = open('/proc/self/status').read()\n"
        "    print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) * 1024)\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    peak_bytes, shown = done.stdout.rstrip("\n").split("\n")
    assert shown.startswith(f"{path}: {message}")
    limit = split_traintest_dataset.resources.limits.mem  # "2Gi"
    limit_bytes = int(limit[:-2]) * {"Mi": 2**20, "Gi": 2**30}[limit[-2:]]
    assert int(peak_bytes) < limit_bytes / 4, f"peak {int(peak_bytes) / 2**20:.0f} MiB, limit {limit}"


def test_quoted_cells_cr_line_endings_and_non_utf8_bytes(tmp_path):
    rows = synthetic_rows(6)
    good = [",".join(map(str, row)) for row in rows]
    quoted = ",".join(f'"{cell}"' for cell in rows[0])
    path = tmp_path / "cr.csv"
    path.write_bytes(("\r".join([quoted, *good[1:]]) + "\r").encode())
    pd.testing.assert_frame_equal(load_dataset(path), pd.DataFrame(rows, columns=list(COLUMNS)), check_dtype=False)
    bad = good.copy()
    bad[4] = bad[4].replace(",", ",\xff", 1)
    path.write_bytes("\r\n".join(bad).encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff"))
    with pytest.raises(InvalidDatasetError, match=r"row 5, column 'glucose': value '\\xff\d+' is not a whole"):
        load_dataset(path)


@pytest.mark.parametrize(
    "compress, name",
    [
        (gzip.compress, "data.csv.gz"), (gzip.compress, "data.csv"), (bz2.compress, "data.csv.bz2"),
        (bz2.compress, "data.csv"), (lzma.compress, "data.xz"), (lzma.compress, "data.csv"),
        (None, "data.zip"), (None, "data.csv"),
    ],
)
def test_compressed_files_are_refused_as_compressed_whatever_their_name(tmp_path, compress, name):
    content = "\n".join(",".join(map(str, row)) for row in synthetic_rows(20)).encode()
    path = tmp_path / name
    if compress is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("data.csv", content)
    else:
        path.write_bytes(compress(content))
    kind = {gzip.compress: "gzip", bz2.compress: "bzip2", lzma.compress: "xz", None: "zip"}[compress]
    with pytest.raises(InvalidDatasetError, match=rf"^{path}: is a {kind}-compressed file, not a CSV; decompress"):
        load_dataset(path)


def test_zstd_magic_bytes_are_refused_too(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"(\xb5/\xfd" + b"\x00" * 40)
    with pytest.raises(InvalidDatasetError, match="is a zstd-compressed file"):
        load_dataset(path)


def test_a_plain_csv_named_gz_is_read_as_the_csv_it_is(tmp_path):
    rows = synthetic_rows(12)
    frame = load_dataset(write_csv(tmp_path / "looks-compressed.csv.gz", rows))
    assert frame.values.tolist() == pd.DataFrame(rows).values.tolist()


# ---------------------------------------------------------------------------------------------------------------
# Right errors, right words.


@pytest.mark.parametrize("label", ["yes", "1.0", "0.5", "-1", "2", "true", "1e0"])
def test_a_label_other_than_0_or_1_says_expected_0_or_1(tmp_path, label):
    rows = synthetic_rows(6)
    rows[2][-1] = label
    with pytest.raises(InvalidDatasetError) as error:
        load_dataset(write_csv(tmp_path / "labels.csv", rows))
    message = str(error.value)
    assert f"row 3, column '{LABEL}'" in message and message.endswith("expected 0 or 1")
    assert "whole number" not in message


@pytest.mark.parametrize(
    "first_row, hint",
    [
        ("Pregnancies,Glucose,BloodPressure,SkinThickness,Insulin,BMI,Pedigree,Age,Outcome", True),
        (",".join(FEATURE_TYPES), True),  # the features without the label
        ("a,b,c,d,e,f,g,h,i", True),
        ("6,148,72,35,0,33.6,0.627,50x,1", False),  # a typo in a data row
        ("6,high,72,35,0,33.6,0.627,50,1", False),
        ("6,148,72,35,0,33.6,0.627,50", False),  # a short data row
    ],
)
def test_the_header_hint_appears_only_when_the_first_row_looks_like_a_header(tmp_path, first_row, hint):
    path = tmp_path / "first.csv"
    path.write_text(first_row + "\n" + "\n".join(",".join(map(str, row)) for row in synthetic_rows(5)) + "\n")
    with pytest.raises(InvalidDatasetError) as error:
        load_dataset(path)
    assert "row 1" in str(error.value)
    assert ("a header row must be exactly: " + ",".join(COLUMNS) in str(error.value)) == hint


@pytest.mark.parametrize("header", [True, False])
def test_a_utf8_byte_order_mark_is_accepted(tmp_path, header):
    rows = synthetic_rows(9)
    path = write_csv(tmp_path / "bom.csv", rows, header=",".join(COLUMNS) if header else None)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_dataset(path).values.tolist() == pd.DataFrame(rows).values.tolist()
    features = write_csv(tmp_path / "bom-patients.csv", [row[:-1] for row in rows],
                         header=",".join(FEATURE_TYPES) if header else None)
    features.write_bytes(b"\xef\xbb\xbf" + features.read_bytes())
    assert len(load_dataset(features, columns=FEATURE_TYPES)) == len(rows)


def test_a_byte_order_mark_does_not_shift_the_reported_row(tmp_path):
    rows = synthetic_rows(5)
    rows[3][1] = "sweet"
    path = write_csv(tmp_path / "bom.csv", rows, header=",".join(COLUMNS))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    with pytest.raises(InvalidDatasetError, match=r"row 5, column 'glucose': value 'sweet'"):
        load_dataset(path)


# ---------------------------------------------------------------------------------------------------------------
# Values no person has.

# (column, value a person can have, value no person has); the real file's extremes are among the first.
PLAUSIBILITY = [
    ("pregnancies", 17, 31), ("pregnancies", 30, 1000),
    ("glucose", 199, 3001), ("glucose", 10, 9), ("glucose", 0, 3),
    ("blood_pressure", 122, 301), ("blood_pressure", 24, 5), ("blood_pressure", 0, 1),
    ("skin_thickness", 99, 151), ("skin_thickness", 0, 10**6),
    ("insulin", 846, 5001), ("insulin", 0, 10**9),
    ("bmi", 67.1, 250.5), ("bmi", 0.0, 4.9), ("bmi", 18.2, 1e300), ("bmi", 5.0, 0.5),
    ("diabetes_pedigree", 2.42, 20.01), ("diabetes_pedigree", 0.078, 1e6),
    ("age", 81, 126), ("age", 21, 10**6), ("age", 0, 200),
]


@pytest.mark.parametrize("column, plausible, impossible", PLAUSIBILITY)
def test_values_no_person_has_are_refused_with_row_column_value_and_range(tmp_path, column, plausible, impossible):
    rows = synthetic_rows(10)
    rows[6][COLUMNS.index(column)] = plausible
    assert load_dataset(write_csv(tmp_path / "fine.csv", rows))[column].iloc[6] == plausible
    rows[6][COLUMNS.index(column)] = impossible
    path = write_csv(tmp_path / "impossible.csv", rows)
    with pytest.raises(InvalidDatasetError) as error:
        load_dataset(path)
    limits = PLAUSIBLE_RANGES[column]
    assert str(error.value).startswith(
        f"{path}: row 7, column '{column}': value {impossible} is outside the plausible range; expected "
    )
    assert f"from {limits.low:g} to {limits.high:g}" in str(error.value)


def test_zeros_for_missing_measurements_are_kept(real_dataset):
    data = load_dataset(real_dataset)
    zeros = {column: int((data[column] == 0).sum()) for column in ("glucose", "blood_pressure", "skin_thickness",
                                                                    "insulin", "bmi")}
    assert zeros == {"glucose": 5, "blood_pressure": 35, "skin_thickness": 227, "insulin": 374, "bmi": 11}


def test_every_real_value_is_within_its_range(real_dataset):
    data = pd.read_csv(real_dataset, header=None, names=list(COLUMNS))
    for column, limits in PLAUSIBLE_RANGES.items():
        assert data[column].map(limits.holds).all(), column


def test_the_first_problem_in_file_order_wins_across_kinds(tmp_path):
    rows = synthetic_rows(10)
    rows[8][COLUMNS.index("bmi")] = ""
    rows[5][COLUMNS.index("age")] = 500
    rows[7][-1] = 3
    with pytest.raises(InvalidDatasetError, match=r"row 6, column 'age': value 500 is outside"):
        load_dataset(write_csv(tmp_path / "many.csv", rows))


# ---------------------------------------------------------------------------------------------------------------
# Duplicated rows.


@pytest.mark.parametrize("copies", [0, 1, 3])
def test_duplicate_rows_are_counted_and_warned_about(tmp_path, copies):
    rows = synthetic_rows(40)
    doubled = rows + [rows[index] for index in range(copies)] + [rows[5]] * copies
    path = write_csv(tmp_path / "dups.csv", doubled)
    expected = int(pd.DataFrame(doubled).duplicated().sum())
    assert expected == 2 * copies
    assert count_duplicate_rows(load_table(path)) == expected
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_and_split_table(path, 0.3, 7)
    found = [str(warning.message) for warning in caught if warning.category is DuplicateRowsWarning]
    if copies:
        assert found == [f"{path}: {expected} of {len(doubled)} rows are exact duplicates of an earlier row; a row "
                         "in both the training and the test split inflates the test accuracy: remove them unless "
                         "they are distinct patients"]
    else:
        assert found == []


def test_the_real_file_concatenated_with_itself_has_768_duplicates(real_dataset, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_bytes(real_dataset.read_bytes().rstrip(b"\n") + b"\n" + real_dataset.read_bytes())
    assert count_duplicate_rows(load_table(path)) == 768
    assert count_duplicate_rows(load_table(real_dataset)) == 0


def test_near_duplicates_and_signed_zeros(tmp_path):
    rows = synthetic_rows(10)
    near = [*rows, [*rows[0][:-1], 1 - rows[0][-1]], [*rows[1][:5], rows[1][5] + 0.1, *rows[1][6:]]]
    assert count_duplicate_rows(load_table(write_csv(tmp_path / "near.csv", near))) == 0
    rows[2][5], rows[3] = 0.0, [*rows[2][:5], "-0.0", *rows[2][6:]]
    assert count_duplicate_rows(load_table(write_csv(tmp_path / "zeros.csv", rows))) == 1


# ---------------------------------------------------------------------------------------------------------------
# Faults: a full disk, a missing output folder; clear errors and no partial output.


def full_disk(write):
    """`write` that writes a few bytes of its output, then fails as a full disk does."""

    def failing(*args, **kwargs):
        target = next(argument for argument in (*args, *kwargs.values()) if isinstance(argument, (str, Path)))
        Path(target).write_bytes(b"PAR1 partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return failing


def test_a_full_disk_while_saving_the_model_leaves_no_model_file(tmp_path, monkeypatch):
    from flyte.atomic_write import OutputWriteError
    from flyte.model import train_model
    from flyte.model_file import save_model

    classifier = train_model(
        pd.DataFrame(synthetic_rows(60, seed=2), columns=list(COLUMNS)), Hyperparameters(n_estimators=2), seed=2
    )
    def full_disk_write(self, data):  # a few bytes written, then the disk is full
        with open(self, "wb") as stream:
            stream.write(data[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full_disk_write)
    path = tmp_path / "model.json"
    with pytest.raises(OutputWriteError) as error:
        save_model(classifier, "0" * 64, path, provenance())
    assert str(error.value) == (f"saving the model file: could not write {path}: No space left on device; "
                                "nothing was written there")
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_keeps_the_old_file_until_the_new_one_is_whole(tmp_path):
    from flyte.atomic_write import OutputWriteError, atomic_output

    path = tmp_path / "out.csv"
    path.write_text("old\n")
    with (
        pytest.raises(OutputWriteError, match="step: could not write .*: No space left on device"),
        atomic_output(path, "step") as temporary,
    ):
        full_disk(None)(temporary)
    assert path.read_text() == "old\n" and list(tmp_path.iterdir()) == [path]
    with pytest.raises(KeyError), atomic_output(path, "step") as temporary:  # any failure leaves the old file alone
        temporary.write_text("half")
        raise KeyError("failed half way")
    assert path.read_text() == "old\n" and list(tmp_path.iterdir()) == [path]
    with atomic_output(path, "step") as temporary:
        temporary.write_text("new\n")
    assert path.read_text() == "new\n" and list(tmp_path.iterdir()) == [path]
    missing = f"step: cannot write {tmp_path}/no/out.csv: the folder {tmp_path}/no does not exist"
    with pytest.raises(OutputWriteError, match=missing), atomic_output(tmp_path / "no" / "out.csv", "step"):
        pass

@pytest.fixture
def model_file(tmp_path) -> Path:
    from flyte.model import train_model
    from flyte.model_file import save_model

    path = tmp_path / "model.json"
    training = pd.DataFrame(synthetic_rows(60, seed=2), columns=list(COLUMNS))
    save_model(
        train_model(training, Hyperparameters(max_depth=2, n_estimators=5), seed=2), "0" * 64, path, provenance()
    )
    return path


def predict_cli(*args: str) -> int:
    from flyte.cli import main

    try:
        return main([str(arg) for arg in args])
    except SystemExit as exit:
        return exit.code


def test_cli_output_into_a_missing_folder_is_a_clear_error(tmp_path, model_file, capsys):
    patients = write_csv(tmp_path / "patients.csv", [row[:-1] for row in synthetic_rows(4)])
    target = tmp_path / "missing" / "dir" / "out.csv"
    assert predict_cli(model_file, "--csv", patients, "--output", target) == 2
    err = capsys.readouterr().err
    assert f"--output {target}: the folder {target.parent} does not exist" in err
    assert "Traceback" not in err and not target.parent.exists()


def test_cli_output_on_a_full_disk_is_a_clear_error_and_leaves_no_file(tmp_path, model_file, capsys, monkeypatch):
    patients = write_csv(tmp_path / "patients.csv", [row[:-1] for row in synthetic_rows(4)])
    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk(pd.DataFrame.to_csv))
    target = tmp_path / "out.csv"
    assert predict_cli(model_file, "--csv", patients, "--output", target) == 2
    err = capsys.readouterr().err
    assert err == (f"error: writing the predictions: could not write {target}: No space left on device; "
                   "nothing was written there\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.json", "patients.csv"]


@pytest.mark.parametrize("header", [True, False])
def test_cli_reads_a_csv_with_a_byte_order_mark(tmp_path, model_file, capsys, header):
    rows = [row[:-1] for row in synthetic_rows(4)]
    patients = write_csv(tmp_path / "patients.csv", rows, header=",".join(FEATURE_TYPES) if header else None)
    patients.write_bytes(b"\xef\xbb\xbf" + patients.read_bytes())
    assert predict_cli(model_file, "--csv", patients) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert printed[list(FEATURE_TYPES)].values.tolist() == pd.DataFrame(rows).values.tolist()


def test_batch_inference_reads_a_csv_with_a_byte_order_mark(tmp_path, model_file):
    from flytekit.types.file import FlyteFile

    from flyte.workflows.inference import diabetes_xgboost_batch_inference

    rows = [row[:-1] for row in synthetic_rows(6)]
    patients = write_csv(tmp_path / "patients.csv", rows, header=",".join(FEATURE_TYPES))
    patients.write_bytes(b"\xef\xbb\xbf" + patients.read_bytes())
    result = diabetes_xgboost_batch_inference(model=FlyteFile(str(model_file)), patients=FlyteFile(str(patients)))
    written = pd.read_csv(result.predictions_csv.download())
    assert written[list(FEATURE_TYPES)].values.tolist() == pd.DataFrame(rows).values.tolist()


@pytest.mark.parametrize("folds, message", [
    (51, "folds must be a whole number from 2 to 50, got 51"),
    (1, "folds must be a whole number from 2 to 50, got 1"),
    (3.0, "folds must be a whole number from 2 to 50, got 3.0"),
])
def test_folds_are_bounded_before_any_training(folds, message, monkeypatch):
    import xgboost

    from flyte.tuning import cross_validate_group

    monkeypatch.setattr(xgboost, "train", lambda *args, **kwargs: pytest.fail("trained before checking folds"))
    train = pd.DataFrame(synthetic_rows(2000), columns=list(COLUMNS))
    with pytest.raises(ValueError) as error:
        cross_validate_group(train, [Hyperparameters()], folds, seed=0)
    assert str(error.value) == message


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_duplicate_count_matches_pandas_on_rows_that_repeat_a_lot(tmp_path, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = 30_000
    frame = pd.DataFrame({name: rng.integers(0, 3, rows) for name in COLUMNS})
    frame["bmi"] = rng.choice([0.0, 20.5, 33.3], rows)  # few distinct values: thousands of duplicates
    path = tmp_path / "repeats.csv"
    frame.to_csv(path, header=False, index=False)
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(column_names=list(COLUMNS), block_size=1 << 16))
    assert table.column(0).num_chunks > 1
    assert count_duplicate_rows(table) == int(frame.duplicated().sum()) > 10_000
