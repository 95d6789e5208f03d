"""Object stores: the storage settings come from flytekit's data configuration (flyte.workflows.storage), and a
location the store cannot serve gives a short error that names it (flyte.storage), against a real S3-compatible
store (the `object_store` fixture: SeaweedFS on loopback)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from flyte.errors import UserInputError
from flyte.storage import StorageError, check_readable, filesystem
from flyte.workflows.storage import storage_options, storage_options_by_protocol
from tests.object_store import ObjectStore

FLYTE_AWS = ("FLYTE_AWS_ENDPOINT", "FLYTE_AWS_ACCESS_KEY_ID", "FLYTE_AWS_SECRET_ACCESS_KEY")


@pytest.fixture
def no_flyte_config(monkeypatch, tmp_path):
    """No FLYTE_AWS_* variable and no Flyte config file: each test sets what it needs. flytekit looks for its
    config file once per process (get_config_file is cached): forgotten before and after."""
    from flytekit.configuration.file import get_config_file

    for name in (*FLYTE_AWS, "FLYTECTL_CONFIG", "_FLYTECTL_CONFIG_PYFLYTE_OVERRIDE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    get_config_file.cache_clear()
    yield
    get_config_file.cache_clear()


def test_settings_from_the_flyte_aws_variables(no_flyte_config, monkeypatch):
    monkeypatch.setenv("FLYTE_AWS_ENDPOINT", "http://minio.example:9000")
    monkeypatch.setenv("FLYTE_AWS_ACCESS_KEY_ID", "minio")
    monkeypatch.setenv("FLYTE_AWS_SECRET_ACCESS_KEY", "miniostorage")
    options = storage_options("s3://my-s3-bucket/data/pima.csv")
    assert options["client_kwargs"] == {"endpoint_url": "http://minio.example:9000"}
    assert (options["key"], options["secret"]) == ("minio", "miniostorage")
    assert storage_options_by_protocol()["s3"] == options


def test_settings_from_the_storage_section_of_the_config(no_flyte_config, monkeypatch, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        "storage:\n  connection:\n    endpoint: http://minio.example:9000\n    access-key: minio\n"
        "    secret-key: miniostorage\n"
    )
    monkeypatch.setenv("FLYTECTL_CONFIG", str(config))
    options = storage_options("s3://my-s3-bucket/data/pima.csv")
    assert options["client_kwargs"] == {"endpoint_url": "http://minio.example:9000"}
    assert (options["key"], options["secret"]) == ("minio", "miniostorage")


def test_local_paths_and_urls_take_no_settings(no_flyte_config, monkeypatch):
    monkeypatch.setenv("FLYTE_AWS_ENDPOINT", "http://minio.example:9000")
    assert storage_options("/data/pima.csv") == storage_options("https://example.com/pima.csv") == {}


def store_options(store: ObjectStore, secret: str | None = None, endpoint: str | None = None) -> dict:
    return {"s3": {"key": store.access_key, "secret": secret or store.secret_key,
                   "client_kwargs": {"endpoint_url": endpoint or store.endpoint}}}


@pytest.mark.slow
def test_the_settings_reach_the_store(object_store, no_flyte_config, monkeypatch):
    for name, value in object_store.environment().items():
        monkeypatch.setenv(name, value)
    uri = object_store.url("test-object-store/settings.csv")
    object_store.filesystem().pipe(uri, b"1,2\n")
    fs, path = filesystem(uri, storage_options_by_protocol())
    assert fs.cat(path) == b"1,2\n"


@pytest.mark.slow
def test_a_missing_object_bucket_or_wrong_keys_are_named(object_store):
    uri = object_store.url("test-object-store/present.csv")
    object_store.filesystem().pipe(uri, b"1\n")
    assert "ETag" in check_readable(uri, store_options(object_store))
    missing = object_store.url("test-object-store/absent.csv")
    with pytest.raises(StorageError, match=f"^{missing}: the store at {object_store.endpoint} has no object"):
        check_readable(missing, store_options(object_store))
    with pytest.raises(StorageError, match="^s3://no-such-bucket/a.csv: the store at .* has no such bucket"):
        check_readable("s3://no-such-bucket/a.csv", store_options(object_store))
    with pytest.raises(StorageError, match="refused the access key .*FLYTE_AWS_SECRET_ACCESS_KEY"):
        check_readable(uri, store_options(object_store, secret="not-the-secret"))
    assert issubclass(StorageError, UserInputError)


@pytest.fixture
def silent_endpoint():
    """An endpoint that takes no connection: a listening socket whose queue is full, so that further connection
    attempts get no answer (as a firewall that drops packets)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    queued = []
    for _ in range(3):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        queued.append(client)
    yield f"http://127.0.0.1:{port}"
    for client in queued:
        client.close()
    server.close()


@pytest.mark.slow
def test_an_endpoint_that_does_not_answer_is_named(object_store, silent_endpoint):
    uri = object_store.url("test-object-store/present.csv")
    with pytest.raises(StorageError, match=f"^{uri}: the store at {silent_endpoint} did not answer"):
        check_readable(uri, store_options(object_store, endpoint=silent_endpoint))


def test_local_files_need_no_store(tmp_path: Path):
    csv = tmp_path / "a.csv"
    csv.write_text("1\n")
    fs, path = filesystem(str(csv), {"s3": {"client_kwargs": {"endpoint_url": "http://127.0.0.1:1"}}})
    assert fs.cat(path) == b"1\n"
