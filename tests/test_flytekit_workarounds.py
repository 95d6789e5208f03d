"""The flytekit workarounds (flyte/workflows/flytekit_workarounds.py): the fence they share, flytekit's own
behaviour beneath each one (these fail once flytekit fixes it: then delete the workaround), and what each does."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from pathlib import Path

import click
import pytest
from flytekit import Cache, FlyteContextManager, current_context, task
from flytekit.clis.sdk_in_container import run  # loaded first, as pyflyte does: the workaround wraps it
from flytekit.core.local_cache import LocalTaskCache
from flytekit.core.type_engine import TypeEngine
from flytekit.models.core.types import BlobType
from flytekit.models.interface import Variable
from flytekit.models.literals import (
    Blob,
    BlobMetadata,
    Literal,
    LiteralCollection,
    LiteralMap,
    LiteralOffloadedMetadata,
    Scalar,
)
from flytekit.models.types import LiteralType, SimpleType
from flytekit.types.file import FlyteFile

from flyte.workflows import flytekit_workarounds
from flyte.workflows.datatypes import DatasetFile
from flyte.workflows.flytekit_workarounds import (
    INPUTS_CHECKED_WHILE_READ,
    MISSING_OUTPUTS_ARE_A_MISS,
    OPTIONALS_KEEP_THEIR_HASH_METHOD,
    WORKAROUNDS,
    apply_flytekit_workarounds,
    outputs_still_exist,
)
from tests.conftest import synthetic_rows, write_csv

apply_flytekit_workarounds()
RUNS: list[str] = []
OPTIONAL_DATASET = DatasetFile | None


@task(cache=Cache(version="flytekit-workarounds-test"))
def write_text(text: str) -> FlyteFile:
    RUNS.append(text)
    path = Path(current_context().working_directory) / "text.txt"
    path.write_text(text)
    return FlyteFile(str(path))


def ids(workaround) -> str:
    return workaround.function


@pytest.mark.parametrize("workaround", WORKAROUNDS, ids=ids)
def test_the_installed_flytekit_is_inside_every_fence_and_patched(workaround):
    assert workaround.why_not_applicable() is None
    applied = getattr(workaround.owner_loaded(), workaround.function)
    assert applied.workaround == workaround.name and workaround.original() is not applied
    assert workaround.apply()  # applying it again changes nothing
    assert getattr(workaround.owner_loaded(), workaround.function) is applied


@pytest.mark.parametrize("workaround", WORKAROUNDS, ids=ids)
def test_another_release_or_signature_is_refused_with_the_reason(workaround):
    for version in ("1.15.4", "1.17.0", "2.0.0", "dev"):
        reason = workaround.why_not_applicable(version)
        assert reason == f"it was written for flytekit 1.16, this is flytekit {version}"

    def renamed(*parameters_of_another_release):
        return None

    reason = workaround.why_not_applicable("1.16.31", renamed)
    assert reason == f"{workaround.function} takes ('parameters_of_another_release',), not {workaround.parameters}"


def test_outside_its_fence_a_workaround_warns_once_and_changes_nothing(monkeypatch):
    original = MISSING_OUTPUTS_ARE_A_MISS.original()
    monkeypatch.setattr(LocalTaskCache, "get", staticmethod(original))
    monkeypatch.setattr(flytekit_workarounds, "_warned", set())
    fenced_out = dataclasses.replace(MISSING_OUTPUTS_ARE_A_MISS, release="0.1")
    with pytest.warns(RuntimeWarning, match=r"not applied: it was written for flytekit 0\.1, .*flyteorg/flyte#6393"):
        assert not fenced_out.apply()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not fenced_out.apply()
    assert LocalTaskCache.get is original


def test_flytekit_returns_a_cache_hit_whose_outputs_were_deleted_and_the_workaround_recomputes(monkeypatch):
    RUNS.clear()
    lookups = []
    patched, unpatched = LocalTaskCache.get, MISSING_OUTPUTS_ARE_A_MISS.original()

    def recording_get(*args, **kwargs):
        lookups.append((args, kwargs))
        return patched(*args, **kwargs)

    monkeypatch.setattr(LocalTaskCache, "get", staticmethod(recording_get))
    first = write_text(text="a")
    second = write_text(text="a")
    assert RUNS == ["a"] and second.path == first.path, "the second call should have been a local cache hit"
    assert len(lookups) == 2, "flytekit no longer looks a cached task up through LocalTaskCache.get"
    (task_name, cache_version, inputs, ignored), keywords = lookups[0]
    assert (task_name, cache_version, ignored, keywords) == (write_text.name, "flytekit-workarounds-test", (), {})
    assert isinstance(inputs, LiteralMap) and set(inputs.literals) == {"text"}

    os.remove(first.path)
    stale = unpatched(*lookups[-1][0])  # what flytekit itself answers
    assert stale is not None and stale.literals["o0"].scalar.blob.uri.endswith(first.path), (
        "flytekit itself treats a hit with missing outputs as a miss now: delete MISSING_OUTPUTS_ARE_A_MISS"
    )
    third = write_text(text="a")
    assert RUNS == ["a", "a"], "the hit with a deleted output was not recomputed"
    assert Path(third.path).read_text() == "a"


def blob(uri: str) -> Literal:
    blob_type = BlobType(format="", dimensionality=BlobType.BlobDimensionality.SINGLE)
    return Literal(scalar=Scalar(blob=Blob(metadata=BlobMetadata(type=blob_type), uri=uri)))


def offloaded(uri: str) -> Literal:
    literal_type = LiteralType(simple=SimpleType.INTEGER)
    return Literal(offloaded_metadata=LiteralOffloadedMetadata(uri=uri, size_bytes=8, inferred_type=literal_type))


@pytest.mark.parametrize("make_literal", [blob, offloaded], ids=["file", "offloaded literal"])
def test_outputs_exist_only_while_every_local_path_does(tmp_path, make_literal):
    kept, deleted = tmp_path / "kept", tmp_path / "deleted"
    kept.write_text("x")
    deleted.write_text("x")
    nested = Literal(collection=LiteralCollection(literals=[make_literal(str(kept)), make_literal(str(deleted))]))
    outputs = LiteralMap(literals={"o0": make_literal(f"file://{kept}"), "o1": nested})
    assert outputs_still_exist(outputs)
    deleted.unlink()
    assert not outputs_still_exist(outputs)
    assert outputs_still_exist(LiteralMap(literals={"o0": make_literal("s3://bucket/not/checked")}))


def literal_of(value):
    context = FlyteContextManager.current_context()
    return TypeEngine.to_literal(context, value, OPTIONAL_DATASET, TypeEngine.to_literal_type(OPTIONAL_DATASET))


def test_flytekit_drops_the_hash_method_of_an_optional_and_the_workaround_keys_the_file_by_content(tmp_path):
    csv = write_csv(tmp_path / "patients.csv", synthetic_rows(20))
    digest = hashlib.sha256(csv.read_bytes()).hexdigest()
    unpatched = OPTIONALS_KEEP_THEIR_HASH_METHOD.original()
    assert unpatched(FlyteFile(str(csv)), DatasetFile) == digest
    assert unpatched(FlyteFile(str(csv)), OPTIONAL_DATASET) is None, (
        "flytekit hashes Optional values itself now: delete OPTIONALS_KEEP_THEIR_HASH_METHOD"
    )
    assert literal_of(FlyteFile(str(csv))).hash == digest
    other = write_csv(tmp_path / "other.csv", synthetic_rows(20, seed=1))
    assert literal_of(FlyteFile(str(other))).hash == hashlib.sha256(other.read_bytes()).hexdigest() != digest
    none = literal_of(None)  # None's key is the None literal; the bundled data it stands for is in the cache version
    assert none.hash is None and none.scalar.union.value.scalar.none_type is not None


def read_option(to_click_option, python_type, text: str):
    """What `pyflyte run` makes of an option's text for a workflow input of `python_type`, run locally."""
    context = click.Context(click.Command("run"), obj=run.RunLevelParams())
    variable = Variable(type=TypeEngine.to_literal_type(python_type), description="")
    option = to_click_option(context, FlyteContextManager.current_context(), "x", variable, python_type, None, False)
    return option.type.convert(text, option, context)


@pytest.mark.parametrize("python_type, text", [(OPTIONAL_DATASET, "does-not-exist.csv"), (int, str(2**65))])
def test_flytekit_reads_a_missing_path_or_a_huge_int_as_it_is_and_the_workaround_refuses_it(python_type, text):
    """The messages themselves: tests/test_error_output.py, through pyflyte run."""
    read = read_option(INPUTS_CHECKED_WHILE_READ.original(), python_type, text)
    assert str(read) == text, "pyflyte run refuses this value itself now: delete INPUTS_CHECKED_WHILE_READ"
    with pytest.raises(click.BadParameter):
        read_option(run.to_click_option, python_type, text)


def test_the_workaround_passes_a_usable_value_through_as_flytekit_reads_it(tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_text("1\n")
    assert read_option(run.to_click_option, int, str(2**63 - 1)) == 2**63 - 1  # the largest int Flyte stores
    assert read_option(run.to_click_option, int, str(-(2**63))) == -(2**63)
    assert read_option(run.to_click_option, OPTIONAL_DATASET, str(csv)).path == str(csv)
