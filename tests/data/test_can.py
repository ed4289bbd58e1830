"""DAGA CAN traces: real-data reading, malformed lines, past-only features, streaming memory, time split."""

import tracemalloc
import zipfile

import numpy as np
import pytest

from mlpzoo.data.can import (
    CAN_CLASSES,
    FEATURE_NAMES,
    NUM_FEATURES,
    ReadSummary,
    iter_can_chunks,
    load_can,
    read_can_trace,
    time_split,
)
from mlpzoo.errors import DataError

HEADER = "timestamp,CAN_ID,DLC,PAYLOAD_HEX,PAYLOAD_BIN,ANOMALY"


def _row(t: float, can_id: int, payload: int, anomaly: str = "False", nbytes: int = 8) -> str:
    hex_payload = f"{payload:0{2 * nbytes}X}" if nbytes else ""
    bits = f"{payload:0{8 * nbytes}b}" if nbytes else ""
    return f"{float(t)!r},{can_id:X},{8 * nbytes},{hex_payload},{bits},{anomaly}"


def _write_zip(path, lines, header=HEADER):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("trace.can.txt", "\n".join([header, *lines]) + "\n")
    return path


def test_reads_real_trace_with_row_limit(need_data):
    root = need_data("can")
    trace = read_can_trace(root / "can" / "DenialOfService__lowestID_V40_03.can.zip", "dos", max_rows=3000)
    assert trace.features.shape == (3000, NUM_FEATURES) == (3000, len(FEATURE_NAMES))
    assert trace.summary.rows_malformed == 0 and trace.summary.rows_kept == 3000
    assert set(np.unique(trace.labels)) == {0, CAN_CLASSES.index("dos")}  # DoS starts at row 905
    assert trace.features.min() >= 0 and trace.features.max() <= 1
    # First frame: CAN_ID 0x010, payload 000000002FB031F8, DLC 64 bits = 8 bytes.
    first = trace.features[0]
    assert first[:11].tolist() == [int(b) for b in f"{0x10:011b}"]
    assert first[11:75].tolist() == [int(b) for b in f"{0x2FB031F8:064b}"]
    assert first[75] == 1.0 and first[FEATURE_NAMES.index("first_of_id")] == 1.0
    assert np.all(np.diff(trace.timestamps) >= 0)


def test_malformed_lines_are_counted_not_fatal(tmp_path):
    good = [_row(0.001 * i, 0x100 + i % 3, i) for i in range(6)]
    bad = {
        "bad PAYLOAD_HEX": "0.1,100,64,00000000000000GG," + "0" * 64 + ",False",
        "DLC disagrees with payload length": "0.2,100,32,0000000000000001," + "0" * 63 + "1,False",
        "wrong number of fields": "0.3,100,64,0000000000000000",
        "PAYLOAD_BIN disagrees with PAYLOAD_HEX": "0.4,100,64,0000000000000001," + "0" * 64 + ",False",
        "bad ANOMALY": "0.5,100,64,0000000000000000," + "0" * 64 + ",maybe",
        "bad timestamp": "soon,100,64,0000000000000000," + "0" * 64 + ",False",
        "bad CAN_ID hex": "0.6,XYZ,64,0000000000000000," + "0" * 64 + ",False",
        "CAN_ID beyond 11 bits": "0.7,800,64,0000000000000000," + "0" * 64 + ",False",
    }
    extra_fields = "0.8,100,64,0000000000000000," + "0" * 64 + ",False,surplus"
    lines = good[:3] + list(bad.values()) + [extra_fields] + good[3:] + [_row(0.9, 0x7FF, 0xAB, "TRUE", nbytes=1)]
    path = _write_zip(tmp_path / "bad.zip", lines)
    summary = ReadSummary("bad.zip")
    with pytest.warns(UserWarning, match="malformed CAN rows"):
        chunks = list(iter_can_chunks(path, "replay", summary=summary))
    assert summary.rows_kept == 7 == sum(len(c) for c in chunks)
    expected = {reason: 1 for reason in bad}
    expected["wrong number of fields"] = 2
    assert dict(summary.malformed) == expected
    last = chunks[-1]
    assert last.labels[-1] == CAN_CLASSES.index("replay") and last.features[-1, 75] == 1 / 8  # one-byte payload
    assert "malformed" in str(summary) and "\n" not in str(summary)


def test_missing_header_column_is_a_data_error(tmp_path):
    path = _write_zip(
        tmp_path / "nohdr.zip", ["0.0,10,64,00,0000,False"], header="timestamp,CAN_ID,DLC,PAYLOAD_HEX,ANOMALY"
    )
    with pytest.raises(DataError, match="PAYLOAD_BIN") as info:
        list(iter_can_chunks(path))
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="attack_class"):
        list(iter_can_chunks(path, "ddos"))


def _reference_features(rows):
    """Slow per-frame reference of the timing and payload-change features (past frames only)."""
    last_t, last2_t, last_p, previous = {}, {}, {}, None
    out = []
    for t, can_id, payload in rows:
        seen = can_id in last_t
        dt = t - last_t[can_id] if seen else np.inf
        prev_dt = last_t[can_id] - last2_t[can_id] if seen and can_id in last2_t else np.inf
        change = payload ^ last_p[can_id] if seen else 0
        dt_any = t - previous if previous is not None else np.inf

        def enc(d):
            return 1.0 if not np.isfinite(d) else min(max((np.log10(max(d, 1e-6)) + 6) / 7, 0.0), 1.0)

        if np.isfinite(dt) and np.isfinite(prev_dt):
            ratio = min(max(np.log2(max(dt, 1e-9) / max(prev_dt, 1e-9)) / 16 + 0.5, 0.0), 1.0)
        else:
            ratio = 0.5
        out.append(
            [*[(change >> (63 - i)) & 1 for i in range(64)], float(not seen), enc(dt), enc(prev_dt), ratio, enc(dt_any)]
        )
        if seen:
            last2_t[can_id] = last_t[can_id]
        last_t[can_id], last_p[can_id], previous = t, payload, t
    return np.array(out, dtype=np.float32)


def test_features_match_slow_reference_across_chunks(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    times = np.cumsum(rng.exponential(2e-4, n))
    ids = rng.choice([0x10, 0x1D0, 0x291, 0x7FF, 0x145], n)
    payloads = rng.integers(0, 2**63, n) * rng.integers(0, 2, n)
    rows = list(zip(times.tolist(), ids.tolist(), payloads.tolist()))
    path = _write_zip(tmp_path / "t.zip", [_row(t, i, p) for t, i, p in rows])
    trace = read_can_trace(path, chunk_bytes=1 << 16)
    assert trace.summary.chunks > 3  # state must carry across chunk boundaries
    np.testing.assert_allclose(trace.features[:, 76:], _reference_features(rows), atol=1e-6)


def test_streaming_memory_does_not_grow_with_trace_length(tmp_path):
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.exponential(1e-3, 5000))
    block = [_row(ti, int(i), int(p)) for ti, i, p in zip(t, rng.integers(0, 2048, 5000), rng.integers(0, 2**62, 5000))]

    def peak(repeats: int) -> tuple[int, int]:
        path = _write_zip(tmp_path / f"long{repeats}.zip", block * repeats)
        tracemalloc.start()
        chunks = sum(1 for _ in iter_can_chunks(path, chunk_bytes=1 << 16))
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return size, chunks

    # Past ~20k rows the reader's read-ahead (a fixed number of blocks) is full; from there on
    # peak memory stays flat while the trace triples.
    short, short_chunks = peak(5)
    long, long_chunks = peak(15)
    assert short_chunks > 10 and long_chunks >= 3 * short_chunks - 2
    assert long < 1.2 * short


def test_time_split_orders_train_valid_test():
    t = np.linspace(5.0, 15.0, 101)
    split = time_split(t, 0.6, 0.1)
    assert np.all(np.diff(split) >= 0)  # never shuffled across the split points
    assert t[split == 0].max() < 11.0 <= t[split == 1].min() and t[split == 1].max() < 12.0 <= t[split == 2].min()
    with pytest.raises(DataError):
        time_split(t, 0.9, 0.2)


def test_load_can_labels_every_attack(need_data):
    need_data("can")
    data = load_can(max_rows=4000, train=0.6, valid=0.1)
    assert sum(len(y) for y in data.y.values()) == 5 * 4000
    counts = data.class_counts("train")
    assert counts["normal"] > 0 and counts["dos"] > 0
    for split in ("train", "valid", "test"):
        assert data.x[split].shape == (len(data.y[split]), NUM_FEATURES)
        # The clean trace (index 0) holds normal frames only.
        assert np.all(data.y[split][data.trace[split] == 0] == 0)
