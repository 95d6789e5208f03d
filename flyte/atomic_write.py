"""Write an output file whole or not at all, and say which step and which path failed when it cannot be written."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class OutputWriteError(OSError):
    """An output could not be written (full disk, read-only or missing folder); the message names the step and path.

    Nothing is left at the path: the output was being written under a temporary name in the same folder.
    """

    def __str__(self) -> str:
        return self.strerror


def temporary_name(path: str | os.PathLike) -> Path:
    """A name beside `path`, unique to this write, that readers of `path` never look at."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")


def write_failed(error: OSError, step: str, path: str | os.PathLike) -> OutputWriteError:
    """`error` (ENOSPC, EROFS, ...) as an OutputWriteError that names the step and the path."""
    reason = error.strerror or str(error)
    return OutputWriteError(error.errno, f"{step}: could not write {path}: {reason}; nothing was written there")


@contextmanager
def atomic_output(path: str | os.PathLike, step: str) -> Iterator[Path]:
    """Yield a temporary path in `path`'s folder to write to; on success rename it to `path` (atomically), on any
    failure delete it. OSErrors become OutputWriteError naming `step` and `path`."""
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputWriteError(errno.ENOENT, f"{step}: cannot write {path}: the folder {path.parent} does not exist")
    temporary = temporary_name(path)
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        raise write_failed(error, step, path) from error
    finally:
        temporary.unlink(missing_ok=True)
