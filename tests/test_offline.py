"""The network guard the offline tests rely on (tests/offline.py) really cuts a subprocess off, loopback apart."""

import subprocess
import sys

import pytest

from tests.offline import without_network

PROBE = """
import socket
server = socket.create_server(("127.0.0.1", 0))
with socket.create_connection(server.getsockname(), timeout=5):
    print("loopback: open")
server.close()
try:
    socket.getaddrinfo("pypi.org", 443)
    print("lookup: open")
except OSError as error:
    print("lookup:", error)
with socket.socket() as raw:
    raw.settimeout(5)
    try:
        raw.connect(("8.8.8.8", 53))
        print("connection: open")
    except OSError as error:
        print("connection:", error)
"""

@pytest.mark.slow
def test_the_guard_refuses_lookups_and_connections_beyond_loopback(tmp_path):
    env = {"PATH": "/usr/bin:/bin", **without_network(tmp_path / "offline")}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "loopback: open",
        "lookup: [Errno -2] no network in this test: lookup of pypi.org refused",
        "connection: no network in this test: connection to 8.8.8.8 refused",
    ]
