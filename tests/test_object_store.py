"""Object stores: the storage settings come from flytekit's data configuration (flyte.workflows.storage), and a
location the store cannot serve gives a short error that names it (flyte.storage), against a real S3-compatible
store (the `object_store` fixture: SeaweedFS on loopback)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd
import pytest
from flytekit import FlyteContextManager
from flytekit.core.data_persistence import FileAccessProvider

from flyte.digest import file_sha256
from flyte.errors import UserInputError
from flyte.model_file import MODEL_FILE_NAME, load_model, save_model
from flyte.storage import StorageError, check_readable, filesystem, storage_error
from flyte.workflows.datatypes import stored_output_path
from flyte.workflows.storage import storage_options, storage_options_by_protocol
from tests.conftest import (
    REAL_DATASET,
    REPO_ROOT,
    closed_port,
    own_environment,
    provenance,
    synthetic_rows,
    write_csv,
)
from tests.object_store import ObjectStore
from tests.reference import plain_accuracy

PYFLYTE = Path(sys.executable).with_name("pyflyte")
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


@pytest.mark.slow
def test_shards_are_listed_and_keyed_by_their_objects_with_the_settings_given(object_store):
    from flyte.dataset import InvalidDatasetError
    from flyte.shards import find_shards

    store = object_store.filesystem()
    folder = object_store.url("test-find-shards/shards/")
    for name in ("part-00001.csv", "part-00000.csv", "notes.txt"):
        store.pipe(folder + name, b"1,2\n")
    shards = find_shards(folder, store_options(object_store))
    assert shards.uris == [folder + "part-00000.csv", folder + "part-00001.csv"]
    store.pipe(folder + "part-00001.csv", b"3,4\n")  # overwritten in place
    assert find_shards(folder, store_options(object_store)).content_key != shards.content_key
    with pytest.raises(StorageError, match=f"^{folder}: the store at {object_store.endpoint} refused the access key"):
        find_shards(folder, store_options(object_store, secret="not-the-secret"))
    with pytest.raises(InvalidDatasetError, match="no such file or folder"):
        find_shards(object_store.url("test-find-shards/absent/"), store_options(object_store))


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
    """botocore's own connect timeout and retries only delay the same ConnectTimeoutError: one attempt of 1 s."""
    uri = object_store.url("test-object-store/present.csv")
    options = store_options(object_store, endpoint=silent_endpoint)
    options["s3"]["config_kwargs"] = {"connect_timeout": 1, "retries": {"max_attempts": 1}}
    with pytest.raises(StorageError, match=f"^{uri}: the store at {silent_endpoint} did not answer "
                       r"\(ConnectTimeoutError: "):
        check_readable(uri, options)


def test_an_endpoint_that_refuses_the_connection_is_named():
    """botocore reports a refused connection as its own EndpointConnectionError, not Python's ConnectionError: the
    same message as a store that does not answer. One attempt: botocore's retries only delay the same error."""
    endpoint = f"http://127.0.0.1:{closed_port()}"
    options = {"s3": {"key": "key", "secret": "secret", "client_kwargs": {"endpoint_url": endpoint},
                      "config_kwargs": {"retries": {"max_attempts": 1}}}}  # fmt: skip
    with pytest.raises(StorageError, match=rf"^s3://bucket/pima.csv: the store at {endpoint} did not answer "
                       r"\(EndpointConnectionError: .*\); check the endpoint in FLYTE_AWS_ENDPOINT"):
        check_readable("s3://bucket/pima.csv", options)


def test_a_file_output_is_stored_under_a_remote_raw_output_prefix_and_left_to_flytekit_otherwise(tmp_path):
    """flytekit 1.16 uploads a task's file output under a remote prefix only when given its place."""
    context = FlyteContextManager.current_context()
    assert stored_output_path(tmp_path / "model.json") is None  # the local default: flytekit's own choice
    remote = FileAccessProvider(local_sandbox_dir=str(tmp_path), raw_output_prefix="s3://bucket/raw")
    with FlyteContextManager.with_context(context.with_file_access(remote)):
        first, second = (stored_output_path(tmp_path / "model.json") for _ in range(2))
    assert re.fullmatch(r"s3://bucket/raw/[0-9a-f]{32}/model\.json", first) and first != second


@pytest.mark.parametrize("reason", [ConnectionRefusedError(111, "Connection refused"), TimeoutError("timed out")])
def test_the_sockets_own_refusal_or_timeout_anywhere_in_the_chain_is_a_store_that_did_not_answer(reason):
    """As a store client without errors of its own (aiohttp's, under gcsfs and adlfs) passes them on."""
    error = RuntimeError("request failed")
    error.__cause__ = reason
    described = storage_error("gs://bucket/pima.csv", error, "https://storage.example")
    assert str(described) == (
        "gs://bucket/pima.csv: the store at https://storage.example did not answer (RuntimeError: request failed); "
        "check the endpoint in FLYTE_AWS_ENDPOINT or the storage section of the Flyte config, and that the store is "
        "running"
    )
    assert storage_error("gs://bucket/pima.csv", RuntimeError("a bug")) is None  # not about the store: kept as is


def test_local_files_need_no_store(tmp_path: Path):
    csv = tmp_path / "a.csv"
    csv.write_text("1\n")
    fs, path = filesystem(str(csv), {"s3": {"client_kwargs": {"endpoint_url": "http://127.0.0.1:1"}}})
    assert fs.cat(path) == b"1\n"


# End to end: `pyflyte run` as a user on the sandbox runs it, the store's endpoint and keys in the FLYTE_AWS_*
# variables (flytekit reads them when it starts: a subprocess), with a HOME and so a local cache of its own.


@dataclass
class Run:
    returncode: int
    output: str

    def value(self, name: str) -> str:
        return re.search(rf"\b{name}=([^,)\s]+)", self.output).group(1)

    @property
    def accuracy(self) -> float:
        return float(self.value("accuracy"))


def pyflyte_run(store: ObjectStore, home: Path, workflow: str, *args: str, run_options: tuple = ()) -> Run:
    module = {"diabetes_xgboost_model": "example", "diabetes_xgboost_batch_inference": "inference"}[workflow]
    env = own_environment(home, COLUMNS="1000", **store.environment())
    command = [str(PYFLYTE), "run", *run_options, f"flyte/workflows/{module}.py", workflow, *args]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    return Run(done.returncode, done.stdout + done.stderr)


@pytest.mark.slow
def test_a_dataset_in_the_store_trains_as_the_local_file_into_a_raw_output_prefix_and_its_cache_follows_the_object(
    object_store, tmp_path
):
    uri, prefix = object_store.url("test-dataset/pima.csv"), object_store.url("test-dataset/runs")
    store = object_store.filesystem()
    store.put(str(REAL_DATASET), uri)
    home = tmp_path / "home"

    def run_on_the_store() -> Run:
        run = pyflyte_run(object_store, home, "diabetes_xgboost_model", "--dataset", uri,
                          run_options=("--raw-output-data-prefix", prefix))  # fmt: skip
        assert run.returncode == 0, run.output
        return run

    def model_in_the_store(keys):
        (model,) = [key for key in keys if key.endswith(f"/{MODEL_FILE_NAME}")]
        store.get(model, str(tmp_path / MODEL_FILE_NAME))
        return load_model(tmp_path / MODEL_FILE_NAME)

    cold = run_on_the_store()
    assert cold.accuracy == pytest.approx(plain_accuracy(REAL_DATASET), abs=1e-12)
    objects = store.find(prefix)
    names = [PurePosixPath(key).name for key in objects]
    assert names.count(MODEL_FILE_NAME) == names.count("evaluation-report.html") == 1
    assert names.count("00000") == 3  # the train, test and predictions tables (Parquet)
    assert model_in_the_store(objects).training_data_sha256 == file_sha256(REAL_DATASET)

    hit = run_on_the_store()
    assert hit.accuracy == cold.accuracy
    rerun_objects = [key for key in store.find(prefix) if not key.endswith("script_mode.tar.gz")]
    assert rerun_objects == [key for key in objects if not key.endswith("script_mode.tar.gz")]  # all cache hits

    other = write_csv(tmp_path / "other.csv", synthetic_rows(1000, seed=4))
    store.put(str(other), uri)  # the object overwritten in place
    overwritten = run_on_the_store()
    assert overwritten.accuracy == pytest.approx(plain_accuracy(other), abs=1e-12)  # a miss: a new model
    assert model_in_the_store(set(store.find(prefix)) - set(objects)).training_data_sha256 == file_sha256(other)


@pytest.mark.slow
def test_batch_inference_with_a_model_and_patients_in_the_store(object_store, tmp_path):
    from xgboost import XGBClassifier

    from flyte.schema import COLUMNS, FEATURES, LABEL

    store = object_store.filesystem()
    data = pd.read_csv(REAL_DATASET, header=None, names=list(COLUMNS))
    classifier = XGBClassifier(n_estimators=20, max_depth=3).fit(data[list(FEATURES)], data[LABEL])
    model_file = tmp_path / "model.json"
    save_model(classifier, file_sha256(REAL_DATASET), model_file, provenance())
    patients = write_csv(tmp_path / "patients.csv", [row[:-1] for row in synthetic_rows(40, seed=5)])
    model_uri = object_store.url("test-inference/model.json")
    patients_uri = object_store.url("test-inference/patients.csv")
    store.put(str(model_file), model_uri)
    store.put(str(patients), patients_uri)
    run = pyflyte_run(object_store, tmp_path / "home", "diabetes_xgboost_batch_inference",
                      "--model", model_uri, "--patients", patients_uri)  # fmt: skip
    assert run.returncode == 0, run.output
    predictions = pd.read_csv(run.value("predictions_csv"))
    expected = classifier.predict(pd.read_csv(patients, header=None, names=list(FEATURES)))
    assert predictions["predicted"].tolist() == expected.tolist()

    absent = object_store.url("test-inference/absent.joblib.dat")
    missing = pyflyte_run(object_store, tmp_path / "home", "diabetes_xgboost_batch_inference",
                          "--model", absent, "--patients", patients_uri)  # fmt: skip
    assert missing.returncode == 1
    assert f"{absent}: the store at {object_store.endpoint} has no object at that key" in missing.output
    assert "Traceback" not in missing.output
