"""benchmarks/synthetic.py: deterministic Pima-shaped data, as one CSV or as shards that join into the same rows."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flyte.dataset import load_table
from flyte.schema import COLUMN_TYPES
from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import synthetic  # noqa: E402

ROWS = 2_500


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of 1,000 rows, so that a few thousand rows cross block boundaries inside and between shards."""
    monkeypatch.setattr(synthetic, "BLOCK_ROWS", 1_000)


def joined(paths: list[Path]) -> bytes:
    return b"".join(path.read_bytes() for path in paths)


@pytest.mark.parametrize("shards", [1, 3, 7])
def test_shards_joined_in_name_order_are_the_single_csv(tmp_path, shards):
    single = synthetic.synthetic_csv(ROWS, tmp_path / "single", seed=5)
    paths = synthetic.write_shards(ROWS, shards, tmp_path / "shards", seed=5)
    assert [path.name for path in paths] == sorted(path.name for path in (tmp_path / "shards").iterdir())
    assert [path.name for path in paths] == [f"part-{index:05d}.csv" for index in range(shards)]
    assert joined(paths) == single.read_bytes()
    lines = [path.read_bytes().count(b"\n") for path in paths]
    assert sum(lines) == ROWS and max(lines) - min(lines) <= 1


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_rows(tmp_path):
    first = synthetic.write_shards(ROWS, 4, tmp_path / "first", seed=11)
    again = synthetic.write_shards(ROWS, 4, tmp_path / "again", seed=11)
    other = synthetic.write_shards(ROWS, 4, tmp_path / "other", seed=12)
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in again]
    assert joined(first) != joined(other)


def test_every_shard_is_a_valid_pima_csv_with_both_classes(tmp_path):
    for path in synthetic.write_shards(ROWS, 3, tmp_path / "shards", seed=2024):
        table = load_table(path)  # the project's reader and validator: raises on any bad value
        assert table.column_names == list(COLUMN_TYPES)
        assert 0.2 < table["diabetic"].to_numpy().mean() < 0.5
        assert table["glucose"].to_numpy().max() <= 199


def test_the_command_line_writes_the_shards_into_the_output_folder(tmp_path, capsys):
    output = tmp_path / "out"
    synthetic.main(["--rows", "2.5k", "--shards", "2", "--seed", "3", "--output", str(output)])
    assert sorted(path.name for path in output.iterdir()) == ["part-00000.csv", "part-00001.csv"]
    assert joined(sorted(output.iterdir())) == synthetic.synthetic_csv(ROWS, tmp_path / "single", seed=3).read_bytes()
    assert f"wrote 2,500 rows in 2 shards to {output}" in capsys.readouterr().out


def test_the_default_shard_count_is_one_per_million_rows(tmp_path, monkeypatch):
    written = {}
    monkeypatch.setattr(synthetic, "write_shards", lambda rows, shards, folder, seed: written.update(
        rows=rows, shards=shards, seed=seed) or [folder] * shards)
    synthetic.main(["--rows", "2_500_001", "--output", str(tmp_path / "out")])
    assert written == {"rows": 2_500_001, "shards": 3, "seed": 2024}


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        synthetic.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--rows", "--shards", "--seed", "--output"):
        assert option in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--rows", "ten", "--output", "out"], "'ten' is not a row count"),
        (["--rows", "0", "--output", "out"], "not a whole, positive row count"),
        (["--rows", "5", "--shards", "6", "--output", "out"], "cannot cut 5 rows into 6 shards"),
        (["--rows", "5", "--shards", "0", "--output", "out"], "cannot cut 5 rows into 0 shards"),
        (["--rows", "5", "--output", "taken"], "already exists and is not an empty folder"),
    ],
)
def test_bad_arguments_are_refused_with_what_was_expected(tmp_path, monkeypatch, capsys, arguments, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.csv").write_text("1,2\n")
    with pytest.raises(SystemExit) as exit_:
        synthetic.main(arguments)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert (tmp_path / "taken" / "keep.csv").read_text() == "1,2\n"
    assert not (tmp_path / "out").exists()


def test_an_interrupted_write_leaves_no_folder_behind(tmp_path, monkeypatch):
    make_block, calls = synthetic._block, []

    def fail_on_the_second_data_block(rows, rng):
        calls.append(rows)
        if len(calls) == 3:  # the schema's 1-row block, then the data blocks
            raise KeyboardInterrupt
        return make_block(rows, rng)

    monkeypatch.setattr(synthetic, "_block", fail_on_the_second_data_block)
    with pytest.raises(KeyboardInterrupt):
        synthetic.write_shards(ROWS, 2, tmp_path / "shards")
    assert list(tmp_path.iterdir()) == []


def test_an_empty_output_folder_is_filled(tmp_path):
    (tmp_path / "empty").mkdir()
    paths = synthetic.write_shards(10, 2, tmp_path / "empty")
    assert [path.parent for path in paths] == [tmp_path / "empty"] * 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty"]
