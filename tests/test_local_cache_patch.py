"""The fenced local-cache patch: flytekit still consults its local cache the way the patch assumes, a hit whose
outputs were deleted (files, folders, offloaded values) is recomputed, and outside its fence the patch stays out."""

from __future__ import annotations

import dataclasses
import os
import warnings
from importlib import metadata
from pathlib import Path

import pytest
from flytekit import Cache, current_context, task
from flytekit.core.local_cache import LocalTaskCache
from flytekit.models.core.types import BlobType
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

import flyte.workflows  # noqa: F401  (applies the patch, as importing any workflow module does)
from flyte.workflows import flytekit_patch
from flyte.workflows.local_cache_patch import (
    LOCAL_CACHE_PATCH,
    outputs_still_exist,
    recompute_cache_hits_with_missing_outputs,
)

RUNS: list[str] = []


@task(cache=Cache(version="local-cache-patch-test"))
def write_text(text: str) -> FlyteFile:
    RUNS.append(text)
    path = Path(current_context().working_directory) / "text.txt"
    path.write_text(text)
    return FlyteFile(str(path))


def unpatched_get():
    """flytekit's own LocalTaskCache.get, beneath the patch if it is applied."""
    return LOCAL_CACHE_PATCH.original()


def test_the_installed_flytekit_is_inside_the_fence_and_patched():
    assert LOCAL_CACHE_PATCH.why_not_applicable(metadata.version("flytekit"), unpatched_get()) is None
    assert LocalTaskCache.get.patched_by == "flyte.workflows.local_cache_patch"
    patched = LocalTaskCache.get
    assert recompute_cache_hits_with_missing_outputs()  # applying it again changes nothing
    assert LocalTaskCache.get is patched and unpatched_get() is not patched


def test_flytekit_consults_the_local_cache_as_the_patch_assumes(monkeypatch):
    RUNS.clear()
    lookups = []
    patched = LocalTaskCache.get

    def recording_get(*args, **kwargs):
        lookups.append((args, kwargs))
        return patched(*args, **kwargs)

    monkeypatch.setattr(LocalTaskCache, "get", staticmethod(recording_get))
    first = write_text(text="a")
    second = write_text(text="a")
    assert RUNS == ["a"], "the second call should have been a local cache hit"
    assert second.path == first.path
    assert len(lookups) == 2, "flytekit no longer looks a cached task up through LocalTaskCache.get"
    (task_name, cache_version, inputs, ignored), keywords = lookups[0]
    assert (task_name, cache_version, ignored, keywords) == (write_text.name, "local-cache-patch-test", (), {})
    assert isinstance(inputs, LiteralMap) and set(inputs.literals) == {"text"}

    os.remove(first.path)
    stale = patched.__wrapped__(*lookups[-1][0])  # what flytekit itself answers
    assert stale is not None and stale.literals["o0"].scalar.blob.uri.endswith(first.path), (
        "flytekit itself now treats a hit with missing outputs as a miss (flyteorg/flyte#6393 fixed): "
        "delete flyte/workflows/local_cache_patch.py"
    )
    third = write_text(text="a")
    assert RUNS == ["a", "a"], "the hit with a deleted output was not recomputed"
    assert Path(third.path).read_text() == "a"


def blob(uri: str) -> Literal:
    blob_type = BlobType(format="", dimensionality=BlobType.BlobDimensionality.SINGLE)
    return Literal(scalar=Scalar(blob=Blob(metadata=BlobMetadata(type=blob_type), uri=uri)))


def offloaded(uri: str) -> Literal:
    return Literal(
        offloaded_metadata=LiteralOffloadedMetadata(
            uri=uri, size_bytes=8, inferred_type=LiteralType(simple=SimpleType.INTEGER)
        )
    )


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


def test_another_flytekit_release_or_signature_is_refused_with_the_reason():
    reason = LOCAL_CACHE_PATCH.why_not_applicable("1.17.0", unpatched_get())
    assert reason == "it was written for flytekit 1.16.x, this is flytekit 1.17.0"

    def get(task_name, cache_version, input_literal_map):
        return None

    reason = LOCAL_CACHE_PATCH.why_not_applicable("1.16.31", get)
    assert reason == (
        "LocalTaskCache.get takes ('task_name', 'cache_version', 'input_literal_map'), not the "
        "('task_name', 'cache_version', 'input_literal_map', 'cache_ignore_input_vars') it wraps"
    )


def test_outside_its_fence_the_patch_warns_once_and_changes_nothing(monkeypatch):
    original = unpatched_get()
    monkeypatch.setattr(LocalTaskCache, "get", staticmethod(original))
    monkeypatch.setattr(flytekit_patch, "_warned", set())
    fenced_out = dataclasses.replace(LOCAL_CACHE_PATCH, versions=frozenset({(0, 1)}))
    with pytest.warns(RuntimeWarning, match=r"not applied: it was written for flytekit 0\.1\.x, this is flytekit"):
        assert not fenced_out.apply()
    assert LocalTaskCache.get is original
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not fenced_out.apply()
    assert LocalTaskCache.get is original

    def get(task_name, cache_version, input_literal_map):
        return None

    monkeypatch.setattr(LocalTaskCache, "get", staticmethod(get))
    monkeypatch.setattr(flytekit_patch, "_warned", set())  # a new process
    with pytest.warns(RuntimeWarning, match=r"LocalTaskCache.get takes \('task_name', 'cache_version', 'input_lit"):
        assert not LOCAL_CACHE_PATCH.apply()
    assert LocalTaskCache.get is get
