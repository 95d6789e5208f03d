"""A data set as CSV shards: find them, split each one on its own by the row-hash split (a rule that depends only on
the seed and the row), and write the parts as Parquet; no Flyte and no Dask here (flyte/distributed.py runs these
on the workers).

A shard is validated exactly as the single CSV of the single-node pipeline (flyte.dataset.load_table), so an error
names the shard, its line, the column, the value and what was expected.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.core import url_to_fs

from flyte.dataset import InvalidDatasetError, load_table
from flyte.digest import file_sha256
from flyte.schema import COLUMN_TYPES, COLUMNS, LABEL
from flyte.storage import StorageOptions, filesystem, named_storage_errors, version_facts

SHARD_SUFFIX = ".csv"
# CSV bytes a Dask worker trains on with its peak memory well inside the workflow's 3 GiB worker limit (about 17M
# rows of this data set): docs/performance.md, Distributed, has the measured peaks this is sized by.
CSV_BYTES_PER_WORKER = 512 * 2**20
# Workers when the data set needs no more for memory: two share the work even on small data.
MIN_WORKERS = 2
# SplitMix64 (Steele, Lea and Flood, 2014): the constants of its increment and of its output mix.
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1, _MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


@dataclass
class Shards:
    """The CSV files of one data set in name order, and a key that changes whenever any of their bytes change.

    `single_file` is True when the data set is one CSV rather than a folder: its digest is then the file's own
    SHA-256, as in the single-node pipeline. `total_bytes`, the files' size in all, sets how many workers they need.
    """

    uris: list[str]
    content_key: str
    single_file: bool
    total_bytes: int

    @property
    def location(self) -> str:
        """The data set as given: the one CSV, or the folder of shards."""
        return self.uris[0] if self.single_file else self.uris[0].rsplit("/", 1)[0]


@dataclass
class ShardSplit:
    """What splitting one shard found: its name and SHA-256, and the rows of each class on each side."""

    name: str
    sha256: str
    train_labels: list[int]  # rows of label 0 and of label 1 in the training part
    test_labels: list[int]


def find_shards(location: str, storage_options: StorageOptions) -> Shards:
    """The shards at `location`: a local or remote (s3://, gs://, ...) folder's *.csv files in name order, or one
    CSV file. Local files are keyed by content; remote ones by what the store reports (size, ETag, mtime).
    A store that refuses the location raises flyte.storage.StorageError."""
    fs, path = filesystem(location, storage_options)
    with named_storage_errors(location, storage_options):
        return _find_shards(location, fs, path)


def _find_shards(location: str, fs: fsspec.AbstractFileSystem, path: str) -> Shards:
    if fs.isfile(path):
        return Shards([location], _content_key(fs, [path]), single_file=True, total_bytes=fs.size(path))
    if not fs.isdir(path):
        raise InvalidDatasetError(
            f"{location}: no such file or folder; expected a CSV file or a folder of CSV shards (*{SHARD_SUFFIX})"
        )
    names = sorted(
        PurePosixPath(entry).name
        for entry in fs.ls(path, detail=False)
        if PurePosixPath(entry).name.endswith(SHARD_SUFFIX) and fs.isfile(entry)
    )
    if not names:
        raise InvalidDatasetError(
            f"{location}: the folder holds no *{SHARD_SUFFIX} file; expected CSV shards such as part-00000.csv"
        )
    base, paths = location.rstrip("/"), [f"{path.rstrip('/')}/{name}" for name in names]
    return Shards(
        [f"{base}/{name}" for name in names],
        _content_key(fs, paths),
        single_file=False,
        total_bytes=sum(fs.size(shard) for shard in paths),
    )


def workers_needed(shards: Shards) -> int:
    """How many Dask workers train on `shards` within their memory limit: one per CSV_BYTES_PER_WORKER of CSV, at
    least MIN_WORKERS. A worker's peak grows with the rows it holds (its share of the training rows, as pandas
    frames and XGBoost's quantized matrix), so the workers follow the data and each one's peak stays bounded."""
    return max(MIN_WORKERS, -(-shards.total_bytes // CSV_BYTES_PER_WORKER))


def _content_key(fs: fsspec.AbstractFileSystem, paths: list[str]) -> str:
    """SHA-256 over each file's name and content digest (local files) or the version facts its store reports."""
    digest = hashlib.sha256()
    local = "file" in fs.protocol
    for path in paths:
        facts = file_sha256(path) if local else version_facts(fs, path)
        digest.update(f"{path}\0{facts}\n".encode())
    return digest.hexdigest()


def shard_name(uri: str) -> str:
    """The file name of a shard, as errors and the data set digest name it."""
    return PurePosixPath(url_to_fs(uri)[1]).name


def dataset_sha256(splits: list[ShardSplit], single_file: bool) -> str:
    """The data set's digest: a single CSV's own SHA-256; for a folder, the SHA-256 of its shards' `sha256sum`
    listing in name order, so that `LC_ALL=C sha256sum *.csv | sha256sum` in the folder gives the same value."""
    if single_file:
        (split,) = splits
        return split.sha256
    listing = "".join(f"{split.sha256}  {split.name}\n" for split in sorted(splits, key=lambda split: split.name))
    return hashlib.sha256(listing.encode()).hexdigest()


def row_hash_split(table: pa.Table, test_split_ratio: float, seed: int) -> np.ndarray:
    """The row-hash split: which rows are test rows, those whose hash of (seed, every value of the row) falls below
    test_split_ratio. Each row is a test row with probability test_split_ratio, so the test part holds about, not
    exactly, that share of the rows (flyte.split.exact_shuffle_split takes an exact count, but needs all rows at once).

    The hash is SplitMix64 over the seed and each value's 64-bit pattern, mapped to [0, 1). A row's side depends on
    nothing else: not on its shard, its position, the shard count or the number of workers; identical rows fall on
    the same side, so a duplicated row never lands in both training and test.
    """
    hashes = _mix(np.full(table.num_rows, seed, dtype=np.uint64) + _GAMMA)
    for name in COLUMNS:
        values = table.column(name).to_numpy()
        if values.dtype.kind == "f":
            values = values + 0.0  # -0.0 and 0.0 are the same value
        hashes = _mix(hashes ^ _mix(values.view(np.uint64) + _GAMMA))
    return (hashes >> np.uint64(11)).astype(np.float64) * 2.0**-53 < test_split_ratio


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's output function: a bijection of 64-bit integers, each output bit depending on every input bit."""
    values = (values ^ (values >> np.uint64(30))) * _MIX_1
    values = (values ^ (values >> np.uint64(27))) * _MIX_2
    return values ^ (values >> np.uint64(31))


def split_shard(
    uri: str, train_uri: str, test_uri: str, test_split_ratio: float, seed: int, storage_options: StorageOptions
) -> ShardSplit:
    """Validate one shard, split its rows by row_hash_split and write the two parts as Parquet files at the given URIs
    (a part with no rows is not written). Errors name the shard."""
    with local_copy(uri, storage_options) as path:
        table = load_table(path, source=uri, columns=COLUMN_TYPES)
        sha256 = file_sha256(path)
    is_test = pa.array(row_hash_split(table, test_split_ratio, seed))
    counts = []
    for part, part_uri in ((table.filter(pc.invert(is_test)), train_uri), (table.filter(is_test), test_uri)):
        if part.num_rows:
            _write_parquet(part, part_uri, storage_options)
        labels = part.column(LABEL).to_numpy()
        counts.append(np.bincount(labels, minlength=2).tolist())
    return ShardSplit(shard_name(uri), sha256, train_labels=counts[0], test_labels=counts[1])


@contextmanager
def local_copy(uri: str, storage_options: StorageOptions) -> Iterator[str]:
    """A local path of the file at `uri`: the file itself if it is local, else a temporary download of it."""
    fs, path = filesystem(uri, storage_options)
    if "file" in fs.protocol:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="shard-") as folder:
        local = os.path.join(folder, shard_name(uri))
        with named_storage_errors(uri, storage_options):
            fs.get(path, local)
        yield local


def _write_parquet(table: pa.Table, uri: str, storage_options: StorageOptions) -> None:
    fs, path = filesystem(uri, storage_options)
    fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
    with fs.open(path, "wb") as stream:
        pq.write_table(table, stream)
