"""Where local runs leave their trained models, so that the predict command line can take the newest one.

`pyflyte run` (flytekit 1.16) keeps a local run's outputs in folders it makes under the temporary directory
(tempfile.gettempdir(): $TMPDIR, else /tmp), named flyte* (flytekit.configuration.LocalConfig.local_sandbox_path),
or under $FLYTE_SDK_LOCAL_SANDBOX when that is set, and never deletes them. Every training workflow's fit task saves
its model there as MODEL_FILE_NAME. A run answered from the cache trains nothing: the newest model is the one
trained last.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flyte.errors import UserInputError
from flyte.model_file import MODEL_FILE_NAME


class NoLocalModelError(UserInputError, FileNotFoundError):
    """No local run has left a model file; the message says how to train one or name a file."""


def local_run_folders() -> list[Path]:
    """The folders flytekit keeps local runs' outputs in."""
    sandbox = os.environ.get("FLYTE_SDK_LOCAL_SANDBOX")
    folders = [Path(sandbox)] if sandbox else []
    return folders + sorted(Path(tempfile.gettempdir()).glob("flyte*"))


def newest_local_model() -> Path:
    """The model file a local run of a training workflow saved last (by modification time)."""
    newest, newest_time = None, None
    for folder in local_run_folders():
        for path in folder.rglob(MODEL_FILE_NAME):
            try:
                modified = path.stat().st_mtime
            except OSError:  # deleted meanwhile (a cleaner, another run)
                continue
            if newest_time is None or modified > newest_time:
                newest, newest_time = path, modified
    if newest is None:
        raise NoLocalModelError(
            f"no model file ({MODEL_FILE_NAME}) from a local run under {tempfile.gettempdir()}/flyte*: train one "
            "with `pyflyte run flyte/workflows/example.py diabetes_xgboost_model`, or give a model file's path"
        )
    return newest
