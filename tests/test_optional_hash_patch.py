"""The fenced patch that keeps a HashMethod on an Optional input (flyte/workflows/optional_hash_patch.py)."""

from __future__ import annotations

import hashlib

import pytest
from flytekit import FlyteContextManager
from flytekit.core.type_engine import TypeEngine
from flytekit.types.file import FlyteFile

import flyte.workflows  # noqa: F401  (applies the patch)
from flyte.workflows.datatypes import DatasetFile
from flyte.workflows.optional_hash_patch import OPTIONAL_HASH_PATCH, hash_optional_values
from tests.conftest import synthetic_rows, write_csv

OPTIONAL_DATASET = DatasetFile | None


def literal_of(value):
    context = FlyteContextManager.current_context()
    return TypeEngine.to_literal(context, value, OPTIONAL_DATASET, TypeEngine.to_literal_type(OPTIONAL_DATASET))


def test_flytekit_alone_drops_the_hash_method_of_an_optional(tmp_path):
    """Why the patch exists. When this fails, flytekit hashes Optional values itself: delete the patch."""
    csv = write_csv(tmp_path / "patients.csv", synthetic_rows(20))
    unpatched = OPTIONAL_HASH_PATCH.original()
    assert unpatched(FlyteFile(str(csv)), OPTIONAL_DATASET) is None
    assert unpatched(FlyteFile(str(csv)), DatasetFile) == hashlib.sha256(csv.read_bytes()).hexdigest()


def test_a_file_given_to_the_optional_dataset_is_keyed_by_its_content(tmp_path):
    assert hash_optional_values()
    for seed in (0, 1):
        csv = write_csv(tmp_path / f"patients-{seed}.csv", synthetic_rows(20, seed=seed))
        assert literal_of(FlyteFile(str(csv))).hash == hashlib.sha256(csv.read_bytes()).hexdigest()


def test_none_keeps_no_hash():
    """None's key is the None literal; the bundled data it stands for is part of the cache version."""
    literal = literal_of(None)
    assert literal.hash is None
    assert literal.scalar.union.value.scalar.none_type is not None


@pytest.mark.parametrize("version", ["1.15.4", "1.17.0", "2.0.0", "dev"])
def test_the_fence_refuses_other_flytekit_releases(version):
    assert OPTIONAL_HASH_PATCH.why_not_applicable(version) is not None


def test_the_fence_admits_the_pinned_release():
    assert OPTIONAL_HASH_PATCH.why_not_applicable("1.16.31") is None
