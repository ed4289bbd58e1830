"""The one owner of a run directory: paths and file names, atomic writes, the writer's lock, the fingerprint.

A run lives in ``<train.run_dir>/<train.run_name>/``::

    config.yaml        the resolved configuration (data, model, task, train)
    fingerprint.json   what the run depends on: configuration, model, data content, fitted schema
    schema.json        the fitted feature schema (CTR runs), so ``mlpzoo export`` can rebuild the model
    metrics.jsonl      one JSON line per finished epoch
    last.pt / best.pt  the checkpoint to resume from / the best weights (see ``train/checkpoint.py``)
    result.json, report.md, learning_curve.png   written when the run finishes

The writer holds an exclusive ``fcntl`` lock on ``<train.run_dir>/.<run_name>.lock`` (beside the
directory, so that nothing is written into a run directory before its fingerprint check passes, and
removed when the run ends); a second writer gets a one-line error naming the holder's PID. A run with
checkpoints resumes only when its stored fingerprint equals the new one: the fingerprint is taken over
content (the data tensors, the data files' bytes, the fitted schema), never over paths, so the same
config resumes from another directory or through a copied config file, and an appended or edited
training file refuses to resume.
Every file is written atomically (temporary file, fsync, rename); a failed write leaves no temporary file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch
import yaml

from mlpzoo.errors import CheckpointError, ConfigError, MlpzooError

__all__ = ["RunDir", "atomic_write_bytes", "atomic_write_text", "confined_name", "data_digest", "file_digest"]

# Files whose loss would lose work; a run directory holding any of them is never overwritten silently.
_WORK_FILES = ("last.pt", "best.pt", "metrics.jsonl", "result.json")
# Files that a whole-file hash reads completely; larger files are sampled (head, middle, tail).
_WHOLE_FILE_BYTES = 1 << 30
_SAMPLE_BYTES = 16 << 20


class RunDirError(MlpzooError):
    """A run directory that cannot be written (disk full, read-only) or is held by another process."""


def confined_name(name: Any, field: str) -> str:
    """``name`` if it names one entry inside its root: no separator, no ``..``, not absolute, not empty."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{field} = {name!r}; give a non-empty name such as 'my-run'")
    if name in (".", "..") or "/" in name or "\\" in name or "\x00" in name or os.path.isabs(name):
        safe = re.sub(r"[^\w.-]+", "-", name).strip(".-") or "run"
        raise ConfigError(
            f"{field} = {name!r} must be a plain name, not a path (no '/', '\\', '..' or absolute path), "
            f"so that it stays inside its root directory; use e.g. {safe!r}"
        )
    return name


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` via a fsynced temporary file and a rename; on failure remove the temporary file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise RunDirError(
            f"cannot write {path} ({err.strerror or err}); free disk space or choose a writable "
            "train.run_dir, then rerun (the run resumes from its last checkpoint)"
        ) from err


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's size and bytes (files over 1 GiB: of 16 MiB at the head, middle and tail)."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        if size <= _WHOLE_FILE_BYTES:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        else:
            for start in (0, size // 2, size - _SAMPLE_BYTES):
                handle.seek(start)
                digest.update(handle.read(_SAMPLE_BYTES))
    return digest.hexdigest()[:32]


def data_digest(data) -> str:
    """A digest of a data set's content: every tensor of ``data.as_batch()`` (dtype, shape and bytes)."""
    digest = hashlib.blake2b(type(data).__name__.encode(), digest_size=16)
    batch = data.as_batch() if hasattr(data, "as_batch") else None
    if batch is None:  # a stream: its files are fingerprinted by the caller
        digest.update(str(len(data) if hasattr(data, "__len__") else "?").encode())
        return digest.hexdigest()
    for key, tensor in sorted(_tensors(batch)):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data if tensor.numel() else b"")
    return digest.hexdigest()


def _tensors(batch, prefix: str = ""):
    if isinstance(batch, torch.Tensor):
        yield prefix or "x", batch
    elif isinstance(batch, dict):
        for key, value in batch.items():
            yield from _tensors(value, f"{prefix}.{key}" if prefix else str(key))


def digest(value: Any) -> str:
    """SHA-256 of a JSON-able value (keys sorted), shortened."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


class RunDir:
    """A run directory. ``RunDir.under(run_dir, run_name)`` for a run to write, ``RunDir(path)`` to read one."""

    CONFIG = "config.yaml"
    FINGERPRINT = "fingerprint.json"
    SCHEMA = "schema.json"
    METRICS = "metrics.jsonl"
    LAST = "last.pt"
    BEST = "best.pt"
    RESULT = "result.json"
    REPORT = "report.md"
    CURVE = "learning_curve.png"
    ALL_FILES = (CONFIG, FINGERPRINT, SCHEMA, METRICS, LAST, BEST, RESULT, REPORT, CURVE)

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock_handle = None

    @classmethod
    def under(cls, root: str | Path, name: str) -> "RunDir":
        """The run ``name`` inside ``root``, after checking that ``name`` stays inside it and ``root`` is a folder."""
        confined_name(name, "train.run_name")
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise ConfigError(
                f"train.run_dir = {str(root)!r} is a file, not a folder; use a folder for train.run_dir "
                "(it is created if missing)"
            )
        run = cls(root / name)
        if run.path.exists() and not run.path.is_dir():
            raise ConfigError(
                f"{run.path} is a file, not a run directory; choose another train.run_name or move the file away"
            )
        return run

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def last(self) -> Path:
        return self.path / self.LAST

    @property
    def best(self) -> Path:
        return self.path / self.BEST

    @property
    def lock_path(self) -> Path:
        return self.path.parent / f".{self.path.name}.lock"

    # ------------------------------------------------------------------ the writer's lock
    def lock(self) -> None:
        """Hold the run's exclusive lock until :meth:`release` (or the process ends, even by SIGKILL)."""
        while True:
            handle = self._open_lock_file()
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                handle.close()
                raise RunDirError(
                    f"run directory {self.path} is in use by process {holder}; wait for it to finish, "
                    "stop it, or choose another train.run_name"
                ) from None
            if self._still_linked(handle):
                break
            handle.close()  # the holder removed the file as we opened it: lock the new one
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle

    def release(self) -> None:
        """Remove the lock file (while still holding it, so no waiter can lock a removed file) and unlock."""
        if self._lock_handle is not None:
            self.lock_path.unlink(missing_ok=True)
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def _open_lock_file(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return open(self.lock_path, "a+")
        except OSError as err:
            raise RunDirError(
                f"cannot create {self.lock_path} ({err.strerror or err}); choose a writable train.run_dir"
            ) from err

    def _still_linked(self, handle) -> bool:
        try:
            return os.stat(self.lock_path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            return False

    # ------------------------------------------------------------------ starting a run
    def start(
        self, fingerprint: dict[str, str], labels: dict[str, str], resume: bool, config: dict, schema: dict | None
    ) -> bool:
        """Lock, check the fingerprint, then (and only then) write config, fingerprint and schema.

        Returns True when the run resumes from ``last.pt``. ``labels`` name a fingerprint component for
        the error (``{"train file": "data/train.csv"}``). With ``resume`` false every file of an earlier
        run here is deleted first (``train.resume: false`` means start over).
        """
        self.lock()
        try:
            resuming = self._check(fingerprint, labels, resume)
            self.path.mkdir(parents=True, exist_ok=True)
            if not resume:
                for name in self.ALL_FILES:
                    (self.path / name).unlink(missing_ok=True)
            atomic_write_text(self.file(self.CONFIG), yaml.safe_dump(_plain(config), sort_keys=False))
            atomic_write_text(self.file(self.FINGERPRINT), json.dumps(fingerprint, indent=2, sort_keys=True))
            if schema is not None:
                atomic_write_text(self.file(self.SCHEMA), json.dumps(schema))
        except BaseException:
            self.release()
            raise
        return resuming

    def _check(self, fingerprint: dict[str, str], labels: dict[str, str], resume: bool) -> bool:
        if not resume or not any((self.path / name).exists() for name in _WORK_FILES):
            return False
        stored = self.read_fingerprint()
        fix = (
            "choose another train.run_name for a new run, or set train.resume: false to start over here "
            "(that deletes this run's checkpoints and results)"
        )
        if stored is None:
            raise ConfigError(
                f"run directory {self.path} holds a run without {self.FINGERPRINT} (an older mlpzoo, or "
                f"files copied in), so it cannot be checked against this configuration and data; {fix}"
            )
        changed = [k for k in (*fingerprint, *stored) if stored.get(k) != fingerprint.get(k)]
        if changed:
            # A changed file explains the rest (its tensors, vocabularies, embedding sizes): name it first.
            changed = sorted(dict.fromkeys(changed), key=lambda k: (k not in labels, k))
            first = f"{changed[0]} {labels[changed[0]]}" if changed[0] in labels else changed[0]
            also = f" (and with it: {', '.join(changed[1:])})" if len(changed) > 1 else ""
            raise ConfigError(
                f"cannot resume {self.path}: the {first} changed since the run started{also}; nothing "
                f"was overwritten; {fix}"
            )
        return self.last.exists()

    # ------------------------------------------------------------------ writing during a run
    def write_metrics(self, records: list[dict]) -> None:
        atomic_write_text(self.file(self.METRICS), "".join(json.dumps(record) + "\n" for record in records))

    def write_result(self, summary: dict) -> None:
        atomic_write_text(self.file(self.RESULT), json.dumps(summary, indent=2))

    # ------------------------------------------------------------------ reading
    def read_text(self, name: str) -> str:
        path = self.file(name)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"{path} does not exist; point to a run directory written by mlpzoo train or the Trainer"
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(
                f"{path} is not UTF-8 text (damaged or replaced); restore it from a copy, or run the training again"
            ) from None

    def read_config(self) -> dict:
        try:
            config = yaml.safe_load(self.read_text(self.CONFIG))
        except yaml.YAMLError as err:
            raise ConfigError(
                f"{self.file(self.CONFIG)} is not valid YAML (torn or edited: {str(err).splitlines()[0]}); "
                "restore it from a copy, or run the training again"
            ) from None
        if not isinstance(config, dict):
            raise ConfigError(
                f"{self.file(self.CONFIG)} holds no mapping (torn or edited); restore it from a copy, or "
                "run the training again"
            )
        return config

    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.read_text(name))
        except json.JSONDecodeError as err:
            raise ConfigError(
                f"{self.file(name)} is not valid JSON (torn or edited at line {err.lineno}); restore it "
                "from a copy, or run the training again"
            ) from None

    def read_schema(self) -> dict:
        schema = self.read_json(self.SCHEMA)
        if not isinstance(schema, dict):
            raise ConfigError(
                f"{self.file(self.SCHEMA)} holds no schema mapping (torn or edited); restore it from a "
                "copy, or run the training again"
            )
        return schema

    def read_fingerprint(self) -> dict | None:
        if not self.file(self.FINGERPRINT).exists():
            return None
        stored = self.read_json(self.FINGERPRINT)
        return stored if isinstance(stored, dict) else None

    def read_metrics(self) -> list[dict]:
        """The epoch records; a torn line is an error naming the file and the line."""
        path = self.file(self.METRICS)
        if not path.exists():
            return []
        records = []
        for number, line in enumerate(self.read_text(self.METRICS).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise ConfigError(
                    f"{path}:{number} is not a JSON record (torn or edited); restore it from a copy, or "
                    "run the training again"
                ) from None
            if not isinstance(record, dict):
                raise ConfigError(
                    f"{path}:{number} is not a JSON object (edited); restore it from a copy, or run the training again"
                )
            records.append(record)
        return records

    def checkpoint(self) -> Path:
        """The checkpoint to rebuild the model from: ``best.pt``, else ``last.pt``."""
        found = next((p for p in (self.best, self.last) if p.exists()), None)
        if found is None:
            raise CheckpointError(f"{self.path} has no {self.BEST} or {self.LAST}; train the run first")
        return found


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
