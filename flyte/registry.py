"""The model registry: every trained model recorded with its facts, its file kept by content, and the champion (the
model in use); a local folder of the user's own or a prefix of an object store (s3://...), the same code on both
through fsspec. No Flyte here.

Layout under the registry's location (docs/model-files.md, The model registry):

    models/<sha256>.json        model files, named by the SHA-256 of their bytes (written once, never changed)
    entries/<UTC time>-<sha256 prefix>-<random>.json   one record per training run, never overwritten
    champion/<number>.json      the champion history: the highest number is the champion

Every write creates a new key and never replaces one, so updates are atomic without locks: an entry's name is
unique, and the next champion's key is taken by a create-only write (locally a hard link of a complete temporary
file, which fails if the name exists; on S3 a PUT with `If-None-Match: *`). Of two runs that promote at once, one
takes the number and the other sees the new champion and compares again (flyte.promotion).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import stat
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from flyte.atomic_write import temporary_name
from flyte.errors import UserInputError
from flyte.storage import StorageOptions, filesystem, is_local

# The registry's location: a folder or an object store prefix (s3://bucket/model-registry). Unset: the workflows
# use a prefix of the cluster's blob store on a cluster, and default_local_location() locally.
REGISTRY_ENVIRONMENT_VARIABLE = "DIABETES_MODEL_REGISTRY"
# The prefix of the blob store's bucket a cluster run's registry lives under.
BLOB_STORE_REGISTRY_PREFIX = "model-registry"
_CHAMPION_DIGITS = 8


class RegistryError(UserInputError):
    """The registry's location cannot be used (not the user's own, world-writable, unreadable); the message says
    which location, why, and what to do."""


@dataclass(frozen=True)
class Entry:
    """One training run's model: what it is, how it scored, what it learnt from, and whether it became champion."""

    model_sha256: str
    metrics: dict[str, float]
    dataset_sha256: str
    dataset_source: str
    hyperparameters: dict[str, object]
    seed: int | None
    library_versions: dict[str, str]
    features: list[str]
    trained_at: str
    trained_by: str  # the execution that trained the model (a cached model keeps its first run's)
    recorded_at: str
    recorded_by: str  # the execution that recorded this entry
    promoted: bool
    comparison: dict[str, object]  # flyte.model_card.ChampionComparison as a dict


@dataclass(frozen=True)
class Champion:
    """The model in use: its place in the champion history and what decided it."""

    number: int
    model_sha256: str
    metric: str
    score: float  # the metric on the held-out rows of the run that promoted it
    metrics: dict[str, float] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    trained_at: str = ""
    promoted_at: str = ""
    promoted_by: str = ""  # the execution that promoted it
    # The comparison that made it champion (flyte.model_card.ChampionComparison as a dict): a rerun that trains the
    # same model file shows it again, so that its cached report stays valid.
    comparison: dict[str, object] = field(default_factory=dict)

    def description(self) -> str:
        """Which model, when and how good, in one line for people."""
        shown = [name for name in ("roc_auc", "accuracy") if name in self.metrics]
        scores = ", ".join(f"{name} {self.metrics[name]:.4f}" for name in shown)
        return (
            f"the champion (#{self.number}) of the model registry: SHA-256 {self.model_sha256}, trained "
            f"{self.trained_at}, promoted {self.promoted_at} by {self.promoted_by}; on its test rows {scores}"
        )


def default_local_location() -> Path:
    """The local registry: a folder of the user's own, under $XDG_DATA_HOME (or ~/.local/share)."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "diabetes-xgboost" / BLOB_STORE_REGISTRY_PREFIX


def configured_location() -> str | None:
    """The location set in REGISTRY_ENVIRONMENT_VARIABLE, if any."""
    return os.environ.get(REGISTRY_ENVIRONMENT_VARIABLE) or None


def blob_store_location(raw_output_prefix: str) -> str | None:
    """The registry under a remote store's bucket (s3://bucket/model-registry for s3://bucket/any/prefix), or
    None for a local prefix."""
    scheme, _, rest = raw_output_prefix.partition("://")
    if not rest or scheme in ("file", "local"):
        return None
    return f"{scheme}://{rest.split('/', 1)[0]}/{BLOB_STORE_REGISTRY_PREFIX}"


class ModelRegistry:
    """A registry at `location` (a local folder or a URI such as s3://bucket/model-registry), opened with
    `storage_options` (flyte.storage; none: fsspec's defaults, for S3 the standard AWS variables)."""

    def __init__(self, location: str | os.PathLike, storage_options: StorageOptions | None = None):
        location = os.fspath(location)
        self.is_local = is_local(location)
        if self.is_local:
            location = str(Path(location).expanduser().absolute())
        self.fs, root = filesystem(location, storage_options or {})
        self.location, self._root = location, root.rstrip("/")
        if self.is_local:
            self._make_private_folder(Path(self._root))

    def _path(self, *parts: str) -> str:
        return "/".join((self._root, *parts))

    def uri(self, *parts: str) -> str:
        """A key of the registry as a location users and other tools understand."""
        return "/".join((self.location.rstrip("/"), *parts))

    # Models, by content.

    def model_key(self, sha256: str) -> str:
        return self._path("models", f"{sha256}.json")

    def store_model(self, data: bytes) -> str:
        """Keep a model file's bytes under their SHA-256 (once: the same bytes are never written twice); return it."""
        sha256 = hashlib.sha256(data).hexdigest()
        self._create(self.model_key(sha256), data)  # False: already kept, the same bytes
        return sha256

    def model_local_path(self, sha256: str, cache_folder: str | os.PathLike) -> Path:
        """A local path of the model file `sha256`: in place for a local registry, else downloaded into
        `cache_folder`. The caller checks the digest when it loads it (flyte.model_file.load_model)."""
        if self.is_local:
            return Path(self.model_key(sha256))
        local = Path(cache_folder) / f"{sha256}.json"
        self.fs.get_file(self.model_key(sha256), str(local))
        return local

    # Entries: one per training run, under a name no other run can take.

    def record(self, entry: Entry) -> str:
        """Add `entry`; return its key. Concurrent runs each add their own: no entry is lost."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")  # to the microsecond: names sort as recorded
        key = self._path("entries", f"{stamp}-{entry.model_sha256[:12]}-{secrets.token_hex(6)}.json")
        if not self._create(key, _json_bytes(asdict(entry))):
            raise FileExistsError(f"{key}: exists; entry names are unique")  # 48 random bits: does not happen
        return key

    def entries(self) -> list[Entry]:
        """Every recorded entry, oldest first."""
        return [Entry(**self._read_json(key)) for key in self._names("entries")]

    # The champion: a history of create-only keys, the highest number in use.

    def champion(self) -> Champion | None:
        """The current champion, or None before the first promotion."""
        names = self._names("champion")
        return Champion(**self._read_json(names[-1])) if names else None

    def champions(self) -> list[Champion]:
        """Every champion so far, first to current."""
        return [Champion(**self._read_json(key)) for key in self._names("champion")]

    def try_promote(self, champion: Champion) -> bool:
        """Make `champion` (numbered one above the champion it beat, or 1) the champion, unless another run took
        that number first: then False, and nothing changed."""
        key = self._path("champion", f"{champion.number:0{_CHAMPION_DIGITS}d}.json")
        return self._create(key, _json_bytes(asdict(champion)))

    # Storage.

    def _names(self, folder: str) -> list[str]:
        """The keys of a folder's *.json records in name order (nothing if the folder does not exist yet)."""
        try:
            listed = self.fs.ls(self._path(folder), detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return sorted(key for key in listed if PurePosixPath(key).name.endswith(".json"))

    def _read_json(self, key: str) -> dict:
        with self.fs.open(key, "rb") as stream:
            return json.loads(stream.read())

    def _create(self, key: str, data: bytes) -> bool:
        """Write `data` at `key` only if nothing is there, whole or not at all; False if something already was."""
        if self.is_local:
            path = Path(key)
            path.parent.mkdir(mode=0o700, exist_ok=True)
            temporary = temporary_name(path)
            try:
                temporary.write_bytes(data)
                os.link(temporary, path)  # atomic, and fails if the name is taken: a complete file or none
            except FileExistsError:
                return False
            finally:
                temporary.unlink(missing_ok=True)
            return True
        try:
            self.fs.pipe_file(key, data, mode="create")  # s3fs: PUT with If-None-Match: *
        except FileExistsError:  # S3 names the failed condition
            return False
        except OSError as error:  # SeaweedFS, MinIO: a 412 without the condition's name, which s3fs calls EINVAL
            self.fs.invalidate_cache(key)  # the listing cached by champion() predates the other run's write
            if error.errno == errno.EINVAL and self.fs.exists(key):
                return False
            raise
        return True

    def _make_private_folder(self, folder: Path) -> None:
        """Create the local registry folder as the user's own (mode 700), or check that an existing one is: a
        folder others can write to could be given a planted champion."""
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            status = folder.stat()
        except OSError as error:
            raise RegistryError(
                f"model registry {folder}: cannot be created or read ({error.strerror or error}); set "
                f"{REGISTRY_ENVIRONMENT_VARIABLE} to a folder of your own"
            ) from None
        if status.st_uid != os.getuid():
            raise RegistryError(
                f"model registry {folder}: owned by another user (uid {status.st_uid}, you are {os.getuid()}); "
                f"refused, since its owner could replace the champion. Set {REGISTRY_ENVIRONMENT_VARIABLE} to a "
                "folder of your own"
            )
        if status.st_mode & stat.S_IWOTH:
            raise RegistryError(
                f"model registry {folder}: writable by every user (mode {stat.filemode(status.st_mode)}); refused, "
                f"since anyone could replace the champion. Run `chmod o-w {folder}` or set "
                f"{REGISTRY_ENVIRONMENT_VARIABLE} to a folder of your own"
            )


def _json_bytes(content: dict) -> bytes:
    return json.dumps(content, indent=1, sort_keys=True).encode("utf-8")
