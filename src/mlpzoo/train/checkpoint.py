"""Checkpoints written atomically and verified by checksum on load.

The file is the ``torch.save`` payload followed by a one-line footer with its SHA-256 (torch.load
ignores bytes after the archive, so ``torch.load("best.pt")`` still works). It is written to a
temporary file, fsynced and renamed, so a reader (or a run resumed after SIGKILL) never sees a
half-written checkpoint, and checksum and payload can never disagree because of a crash. A file
whose payload does not match its checksum (overwritten, bit rot) or that cannot be read
(truncated) is refused with a one-line error. Plain ``torch.save`` files (no footer) load too.

Loading never runs code: ``torch.load(weights_only=True)`` rebuilds tensors and plain containers
only, and refuses any other pickled object (a file crafted to call ``os.system`` is rejected before
anything runs). The checksum is no defence against that (anyone can compute it), so the Trainer
stores everything a checkpoint needs (RNG states included) as tensors and plain Python values.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from mlpzoo.errors import CheckpointError
from mlpzoo.train.rundir import atomic_write_bytes

_FOOTER = re.compile(rb"mlpzoo-sha256:([0-9a-f]{64})\n")
_FOOTER_BYTES = len(b"mlpzoo-sha256:") + 64 + 1


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    atomic_write_bytes(path, payload + b"mlpzoo-sha256:" + hashlib.sha256(payload).hexdigest().encode() + b"\n")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(
            f"checkpoint {path} does not exist; train first or point to the run directory that holds it"
        )
    data = path.read_bytes()
    footer = _FOOTER.fullmatch(data[-_FOOTER_BYTES:])
    payload = data[:-_FOOTER_BYTES] if footer else data
    if footer and hashlib.sha256(payload).hexdigest() != footer.group(1).decode():
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated (checksum mismatch, {len(data)} bytes); "
            "delete it to start over, or restore it from a copy"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols before it refuses a foreign file
            return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"(?:unsupported GLOBAL|Unsupported global:(?: GLOBAL)?) ([\w.]+)", str(err))
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(
            f"checkpoint {path} holds Python objects other than tensors and plain data{what}, which "
            "mlpzoo never writes: it was refused unloaded (nothing in it ran); it is tampered with, "
            "from another tool or from an older mlpzoo; delete it, or restore the run from a trusted "
            "copy"
        ) from None
    except Exception as err:  # torch raises several types for damaged archives
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:120]}); delete it to start over"
        ) from err
