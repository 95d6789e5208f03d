"""Subprocesses without network: a `sitecustomize` that refuses every name lookup and connection beyond loopback.

Python imports `sitecustomize` at start-up from the first folder on PYTHONPATH that has one, so every Python
process started with `without_network(folder)` in its environment (and every Python process it starts) fails
fast, with an error naming the host, instead of reaching the network. Loopback stays open for local HTTP servers.
"""

from pathlib import Path

GUARD = '''
import ipaddress
import socket


def _is_loopback(host):
    if isinstance(host, bytes):
        host = host.decode()
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def getaddrinfo(host, *args, **kwargs):
    if not _is_loopback(host):
        raise socket.gaierror(socket.EAI_NONAME, f"no network in this test: lookup of {host} refused")
    return _getaddrinfo(host, *args, **kwargs)


def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise OSError(f"no network in this test: connection to {address[0]} refused")


def connect(self, address):
    _check(self, address)
    return _connect(self, address)


def connect_ex(self, address):
    _check(self, address)
    return _connect_ex(self, address)


socket.getaddrinfo = getaddrinfo
socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
'''


def without_network(folder: Path) -> dict[str, str]:
    """Environment variables that cut every Python process started with them off the network (loopback stays)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(GUARD)
    return {"PYTHONPATH": str(folder)}
