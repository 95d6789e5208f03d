"""Loading and splitting the CSV: the real file loads as-is, every kind of bad input gets a precise error (odd cells,
headers, settings and faults: tests/test_hardening.py)."""

from pathlib import Path

import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from flyte.dataset import InvalidDatasetError, load_dataset
from flyte.schema import COLUMNS, FEATURE_TYPES, LABEL
from flyte.split import load_and_split_table
from tests.conftest import synthetic_rows, write_csv


def test_real_file_loads_with_its_zero_measurements_kept(real_dataset):
    data = load_dataset(real_dataset)
    independent = pd.read_csv(real_dataset, header=None, names=list(COLUMNS))
    assert data.shape == (768, len(COLUMNS))
    pd.testing.assert_frame_equal(data, independent, check_dtype=False)
    assert (data["insulin"] == 0).sum() == (independent["insulin"] == 0).sum() > 0


def test_header_naming_the_columns_is_accepted(tmp_path):
    rows = synthetic_rows(20)
    plain = load_dataset(write_csv(tmp_path / "plain.csv", rows))
    headed = load_dataset(write_csv(tmp_path / "headed.csv", rows, header=",".join(COLUMNS)))
    pd.testing.assert_frame_equal(plain, headed)


def test_blank_lines_are_ignored(tmp_path):
    path = tmp_path / "gaps.csv"
    rows = synthetic_rows(5)
    path.write_text("\n".join(",".join(map(str, row)) for row in rows).replace("\n", "\n\n", 1) + "\n")
    assert len(load_dataset(path)) == 5


def expect_error(path: Path, *fragments: str, **kwargs) -> str:
    with pytest.raises(InvalidDatasetError) as error:
        load_dataset(path, **kwargs)
    message = str(error.value)
    for fragment in (str(path), *fragments):
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.csv", "no such file")


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    expect_error(path, "empty", f"{len(COLUMNS)} comma-separated numbers")


def test_header_only(tmp_path):
    expect_error(write_csv(tmp_path / "h.csv", [], header=",".join(COLUMNS)), "no data rows")


def with_cell(tmp_path: Path, row: int, column: str, value: str) -> Path:
    """Synthetic CSV whose 0-based `row` has `value` in `column`."""
    rows = synthetic_rows(10)
    rows[row][COLUMNS.index(column)] = value
    return write_csv(tmp_path / "bad.csv", rows)


@pytest.mark.parametrize(
    "column, value, fragments",
    [
        ("glucose", "abc", ["row 4", "'glucose'", "'abc'", "whole number"]),
        ("bmi", "thin", ["row 4", "'bmi'", "'thin'", "a number"]),
        ("age", "33.5", ["row 4", "'age'", "'33.5'", "whole number"]),
        ("bmi", "", ["row 4", "'bmi'", "empty value", "a number from 5 to 250 kg/m^2, or 0 (not measured)"]),
        ("insulin", "-5", ["row 4", "'insulin'", "negative value -5", "a whole number from 1 to 5000"]),
        ("diabetes_pedigree", "nan", ["row 4", "'diabetes_pedigree'", "nan", "a number from 0 to 20"]),
        (LABEL, "2", ["row 4", f"'{LABEL}'", "label 2", "0 or 1"]),
    ],
)
def test_bad_value_names_row_column_value_and_expectation(tmp_path, column, value, fragments):
    expect_error(with_cell(tmp_path, 3, column, value), *fragments)


def test_row_numbers_count_blank_lines_and_header(tmp_path):
    rows = synthetic_rows(4)
    rows[2][COLUMNS.index("age")] = -30
    lines = [",".join(COLUMNS), "", ",".join(map(str, rows[0])), ",".join(map(str, rows[1])), "",
             ",".join(map(str, rows[2])), ",".join(map(str, rows[3]))]
    path = tmp_path / "gappy.csv"
    path.write_text("\n".join(lines) + "\n")
    expect_error(path, "row 6", "'age'", "negative value -30")


@pytest.mark.parametrize("cells", [len(COLUMNS) - 1, len(COLUMNS) + 1])
def test_wrong_number_of_columns(tmp_path, cells):
    rows = synthetic_rows(6)
    rows[4] = (rows[4] + [1])[:cells]
    expect_error(write_csv(tmp_path / "cols.csv", rows), "row 5", f"has {cells} columns", f"expected {len(COLUMNS)}")


def test_feature_only_files_use_the_feature_columns(tmp_path):
    rows = [row[:-1] for row in synthetic_rows(5)]
    assert list(load_dataset(write_csv(tmp_path / "f.csv", rows), columns=FEATURE_TYPES).columns) == list(FEATURE_TYPES)
    expect_error(write_csv(tmp_path / "g.csv", synthetic_rows(5)), f"has {len(COLUMNS)} columns",
                 f"expected {len(FEATURE_TYPES)}", columns=FEATURE_TYPES)


def test_errors_name_the_source_instead_of_a_downloaded_temp_path(tmp_path):
    path = with_cell(tmp_path, 0, "glucose", "x")
    with pytest.raises(InvalidDatasetError, match=r"^s3://bucket/patients.csv: row 1"):
        load_dataset(path, source="s3://bucket/patients.csv")


def split_dataset(rows: list[list], ratio: float, seed: int, tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """load_and_split_table on a CSV of `rows`, as pandas frames."""
    train, test = load_and_split_table(write_csv(tmp_path / "split.csv", rows), ratio, seed)
    return train.to_pandas(), test.to_pandas()


@pytest.mark.parametrize("ratio, seed", [(0.33, 7), (0.5, 0), (0.1, 123)])
def test_split_matches_scikit_learn(tmp_path, ratio, seed):
    rows = synthetic_rows(101, seed=3)
    train, test = split_dataset(rows, ratio, seed, tmp_path)
    expected_train, expected_test = train_test_split(
        pd.DataFrame(rows, columns=list(COLUMNS)), test_size=ratio, random_state=seed
    )
    pd.testing.assert_frame_equal(train, expected_train.reset_index(drop=True))
    pd.testing.assert_frame_equal(test, expected_test.reset_index(drop=True))


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5])
def test_split_ratio_outside_zero_one(tmp_path, ratio):
    with pytest.raises(ValueError, match=f"test_split_ratio must be strictly between 0 and 1, got {ratio}"):
        split_dataset(synthetic_rows(50), ratio, 7, tmp_path)


def test_split_with_too_few_rows(tmp_path):
    with pytest.raises(ValueError, match="splits 3 rows into 1 for training and 2 for testing"):
        split_dataset(synthetic_rows(3), 0.5, 7, tmp_path)


def test_split_leaving_a_single_class(tmp_path):
    rows = synthetic_rows(40)
    for index, row in enumerate(rows):
        row[-1] = int(index == 5)
    with pytest.raises(ValueError, match=r"split .* holds only label \[0\]; it needs both 0 and 1"):
        split_dataset(rows, 0.33, 7, tmp_path)
