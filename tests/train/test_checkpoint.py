"""Checkpoint files: checksum in the same file, atomic replacement, plain torch files accepted."""

import io

import pytest
import torch

from mlpzoo.errors import CheckpointError
from mlpzoo.train.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip_and_atomic_replacement(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint({"w": torch.arange(3)}, path)
    save_checkpoint({"w": torch.arange(4)}, path)
    assert torch.equal(load_checkpoint(path)["w"], torch.arange(4))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary or companion files left


def test_flipped_byte_is_reported(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint({"w": torch.zeros(100)}, path)
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(path)


def test_torch_load_reads_our_files(tmp_path):
    save_checkpoint({"w": torch.arange(3)}, tmp_path / "c.pt")
    assert torch.equal(torch.load(tmp_path / "c.pt", weights_only=True)["w"], torch.arange(3))


def test_plain_torch_file_loads(tmp_path):
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer)
    (tmp_path / "plain.pt").write_bytes(buffer.getvalue())
    assert torch.equal(load_checkpoint(tmp_path / "plain.pt")["w"], torch.ones(2))


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


def test_python_objects_are_refused_unloaded(tmp_path):
    """weights_only loading: a numpy array (what older checkpoints held for RNG state) is refused, not unpickled."""
    import numpy as np

    save_checkpoint({"rng": np.random.get_state()}, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="refused unloaded"):
        load_checkpoint(tmp_path / "old.pt")
