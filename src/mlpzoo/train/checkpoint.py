"""Checkpoints written atomically (temporary file, fsync, rename) and verified by checksum on load.

A reader never sees a half-written file: the rename is atomic, and a file whose SHA-256 does not
match its ``.sha256`` companion (truncated, overwritten, corrupted) is refused with a clear error.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import torch

from mlpzoo.errors import CheckpointError


def _atomic_write(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    # Checksum first: a crash between the two renames leaves a checksum that does not match the
    # old file, so the old file is reported rather than silently trusted.
    _atomic_write(path.with_name(path.name + ".sha256"), hashlib.sha256(payload).hexdigest().encode())
    _atomic_write(path, payload)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; train first or point to the run directory that holds it")
    payload = path.read_bytes()
    digest_file = path.with_name(path.name + ".sha256")
    if digest_file.exists():
        expected = digest_file.read_text().strip()
        if hashlib.sha256(payload).hexdigest() != expected:
            raise CheckpointError(f"checkpoint {path} is corrupt or truncated (checksum mismatch, {len(payload)} bytes); delete it to start over, or restore it from a copy")
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for damaged archives
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(err).__name__}: {str(err).splitlines()[0][:120]}); delete it to start over") from err
