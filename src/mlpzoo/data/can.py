"""DAGA CAN bus traces: a streaming reader, per-frame intrusion-detection features, time splits.

Data: the DAGA data set (Volvo V40, trace V40_03; SECloudUNIMORE/ACS, MIT licence), used by the
``cqmlp`` claim (Khandelwal & Shreejith, "Exploring Highly Quantised Neural Networks for
Intrusion Detection in Automotive CAN", 2023, arXiv:2401.11030). Each file is a zipped CSV with
the columns ``timestamp, CAN_ID (hex), DLC, PAYLOAD_HEX, PAYLOAD_BIN, ANOMALY``.

- :func:`iter_can_chunks` streams one zip: pyarrow's incremental CSV reader on the zip member
  (no unzipping to disk), ``chunk_bytes`` of CSV at a time, so peak memory does not depend on the
  trace length. Per-ID state (last two timestamps, last payload) carries across chunks.
- Malformed lines (wrong number of fields, bad hex, a DLC that disagrees with the payload, a
  binary payload that disagrees with the hex one, an unknown ANOMALY value, an ID beyond 11
  bits, a bad timestamp) are dropped and counted in a :class:`ReadSummary` (one warning per
  file); a header without the required columns raises :class:`DataError`.
- Features per frame (past frames only, never the label): 11 CAN-ID bits, 64 payload bits, DLC,
  64 payload-change bits against the previous frame of the same ID, a "first frame of this ID"
  flag, and four timing features (log inter-arrival since the previous frame of the same ID, the
  interval before that, their log ratio, and the log time since the previous frame of any ID).
  Every feature lies in [0, 1]: bits stay bits, times are ``log10`` scaled over 1 us .. 10 s.
- Labels (:data:`CAN_CLASSES`): the trace a frame comes from names the attack, ``ANOMALY`` says
  whether the frame is injected; legitimate frames of every trace are ``normal``.
- :func:`load_can` reads the five traces and splits each one by time (never shuffled across the
  split point): the first ``train`` fraction of its duration is training data, the next
  ``valid`` fraction validation, the rest test.

The DLC column holds the payload length in bits in these files (64 for 8 bytes) although the
data set's README says bytes; a DLC equal to either the bit or the byte length of the hex
payload is accepted (the two never coincide for a non-empty payload).
"""

from __future__ import annotations

import math
import os
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from mlpzoo.data.paths import require_file
from mlpzoo.errors import DataError

__all__ = [
    "CAN_CLASSES",
    "CAN_COLUMNS",
    "CAN_TRACES",
    "FEATURE_NAMES",
    "NUM_FEATURES",
    "CanChunk",
    "CanData",
    "CanTrace",
    "ReadSummary",
    "iter_can_chunks",
    "load_can",
    "read_can_trace",
]

PathLike = str | os.PathLike[str]

CAN_COLUMNS = ("timestamp", "CAN_ID", "DLC", "PAYLOAD_HEX", "PAYLOAD_BIN", "ANOMALY")
CAN_CLASSES = ("normal", "dos", "id_fuzzing", "payload_fuzzing", "replay")
# File -> the class its injected frames belong to.
CAN_TRACES = {
    "clean__V40_03.can.zip": "normal",
    "DenialOfService__lowestID_V40_03.can.zip": "dos",
    "MessageIDFuzzing__V40_03.can.zip": "id_fuzzing",
    "PayloadFuzzing__ID_145_V40_03.can.zip": "payload_fuzzing",
    "SingleIDReplay__ID_145_V40_03.can.zip": "replay",
}

ID_BITS, PAYLOAD_BITS, MAX_HEX = 11, 64, 16
_ID_HEX = 8  # widest CAN_ID string parsed (29-bit extended IDs are then refused as > 11 bits)
_LOG_T_MIN, _LOG_T_SPAN = -6.0, 7.0  # times encoded as (log10 t + 6) / 7: 1 us -> 0, 10 s -> 1
_LOG_RATIO_SPAN = 8.0  # log2 of interval ratios encoded over [-8, 8] -> [0, 1]
FEATURE_NAMES = (
    [f"id_bit{i}" for i in range(ID_BITS)]
    + [f"payload_bit{i}" for i in range(PAYLOAD_BITS)]
    + ["dlc"]
    + [f"payload_change_bit{i}" for i in range(PAYLOAD_BITS)]
    + ["first_of_id", "log_dt_same_id", "log_prev_dt_same_id", "log_dt_ratio", "log_dt_any"]
)
NUM_FEATURES = len(FEATURE_NAMES)

# ASCII -> nibble value, 255 for a character that is not a hex digit.
_HEX_LUT = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_LUT[_c] = _i
    _HEX_LUT[ord(chr(_c).upper())] = _i


@dataclass
class ReadSummary:
    """What reading one trace found: rows kept and malformed rows counted by reason."""

    source: str
    rows_kept: int = 0
    malformed: Counter = field(default_factory=Counter)
    chunks: int = 0

    @property
    def rows_malformed(self) -> int:
        return sum(self.malformed.values())

    def __str__(self) -> str:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.malformed.items())) or "none"
        return (
            f"{self.source}: {self.rows_kept} frames kept in {self.chunks} chunks, "
            f"{self.rows_malformed} malformed ({reasons})"
        )


@dataclass
class CanChunk:
    """Consecutive frames of one trace: features ``(n, NUM_FEATURES)`` float32, labels, timestamps."""

    features: np.ndarray
    labels: np.ndarray
    timestamps: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


class _FrameState:
    """Per-ID memory across chunks: the last two timestamps and the last payload of each ID."""

    def __init__(self) -> None:
        size = 1 << ID_BITS
        self.last_t = np.full(size, np.nan)
        self.last2_t = np.full(size, np.nan)
        self.last_payload = np.zeros(size, dtype=np.uint64)
        self.global_t = math.nan


# ----------------------------------------------------------------------------- parsing


def _padded_chars(column: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Characters of a string column as a ``(n, width)`` uint8 matrix (zero padded) and lengths."""
    column = pc.fill_null(column.cast(pa.string()), "")
    buffers = column.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32, count=len(column) + 1, offset=column.offset * 4)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets).astype(np.int64)
    position = offsets[:-1, None].astype(np.int64) + np.arange(width)
    inside = np.arange(width) < lengths[:, None]
    chars = np.zeros((len(column), width), dtype=np.uint8)
    if data.size:
        chars[inside] = data[position[inside]]
    return chars, lengths


def _hex_values(chars: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nibbles of left-aligned hex strings and whether every character is a hex digit."""
    nibbles = _HEX_LUT[chars]
    inside = np.arange(chars.shape[1]) < lengths[:, None]
    valid = ~np.any(inside & (nibbles == 255), axis=1)
    return np.where(inside, nibbles, 0).astype(np.uint64), valid


def _parse(batch: pa.RecordBatch, summary: ReadSummary) -> dict[str, np.ndarray]:
    """Parse a batch of string columns; drops and counts malformed rows."""
    n = batch.num_rows
    bad = np.zeros(n, dtype=bool)

    def flag(reason: str, mask: np.ndarray) -> None:
        new = mask & ~bad
        if new.any():
            summary.malformed[reason] += int(new.sum())
            bad[:] |= mask

    t = _to_float(batch["timestamp"])
    flag("bad timestamp", ~np.isfinite(t))

    id_chars, id_len = _padded_chars(batch["CAN_ID"], _ID_HEX)
    id_nib, id_ok = _hex_values(id_chars, id_len)
    flag("bad CAN_ID hex", ~id_ok | (id_len == 0) | (id_len > _ID_HEX))
    shift = (4 * (np.clip(id_len, 0, _ID_HEX)[:, None] - 1 - np.arange(_ID_HEX))).clip(0).astype(np.uint64)
    can_id = np.where(np.arange(_ID_HEX) < id_len[:, None], id_nib << shift, 0).sum(axis=1)
    flag("CAN_ID beyond 11 bits", can_id >= (1 << ID_BITS))

    hex_chars, hex_len = _padded_chars(batch["PAYLOAD_HEX"], MAX_HEX)
    nibbles, hex_ok = _hex_values(hex_chars, hex_len)
    flag("bad PAYLOAD_HEX", ~hex_ok | (hex_len > MAX_HEX) | (hex_len % 2 == 1))
    payload = (nibbles << (4 * (MAX_HEX - 1 - np.arange(MAX_HEX))).astype(np.uint64)).sum(axis=1, dtype=np.uint64)
    payload_bits = ((payload[:, None] >> np.arange(PAYLOAD_BITS - 1, -1, -1, dtype=np.uint64)) & np.uint64(1)).astype(
        np.uint8
    )

    dlc = _to_float(batch["DLC"])
    flag("DLC disagrees with payload length", ~((dlc == 4 * hex_len) | (dlc == hex_len // 2)))

    bin_chars, bin_len = _padded_chars(batch["PAYLOAD_BIN"], PAYLOAD_BITS)
    in_bin = np.arange(PAYLOAD_BITS) < bin_len[:, None]
    bin_digits = np.where(in_bin, bin_chars.astype(np.int16) - ord("0"), 0)
    flag(
        "PAYLOAD_BIN disagrees with PAYLOAD_HEX",
        (bin_len != 4 * hex_len) | np.any(in_bin & (bin_digits != payload_bits), axis=1),
    )

    anomaly = pc.utf8_upper(pc.utf8_trim_whitespace(pc.fill_null(batch["ANOMALY"], "")))
    is_true = np.asarray(pc.equal(anomaly, "TRUE"))
    flag("bad ANOMALY", ~(is_true | np.asarray(pc.equal(anomaly, "FALSE"))))

    keep = ~bad
    return {
        "t": t[keep],
        "id": can_id[keep].astype(np.int64),
        "payload": payload[keep],
        "payload_bits": payload_bits[keep],
        "dlc_bytes": (hex_len[keep] // 2),
        "anomaly": is_true[keep],
    }


_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def _to_float(column: pa.Array) -> np.ndarray:
    """Strings to float64 in Arrow (no Python objects); anything unparsable becomes NaN (counted by the caller)."""
    valid = pc.fill_null(pc.match_substring_regex(column, _NUMBER), False)
    return pc.cast(pc.utf8_trim_whitespace(pc.if_else(valid, column, "nan")), pa.float64()).to_numpy(
        zero_copy_only=False
    )


# ----------------------------------------------------------------------------- features


def _log_time(dt: np.ndarray) -> np.ndarray:
    """Times in seconds -> [0, 1]; missing (no earlier frame) reads as the longest time."""
    out = (np.log10(np.maximum(dt, 10.0**_LOG_T_MIN)) - _LOG_T_MIN) / _LOG_T_SPAN
    return np.where(np.isfinite(dt), np.clip(out, 0.0, 1.0), 1.0)


def _features(frames: dict[str, np.ndarray], state: _FrameState) -> np.ndarray:
    """Per-frame features from the frames and the state before them; advances the state."""
    n = len(frames["t"])
    if n == 0:
        return np.zeros((0, NUM_FEATURES), dtype=np.float32)
    t, ids, payload = frames["t"], frames["id"], frames["payload"]
    # Previous frame of the same ID: sort by ID (stable keeps time order within an ID).
    order = np.argsort(ids, kind="stable")
    sid, st, sp = ids[order], t[order], payload[order]
    first = np.r_[True, sid[1:] != sid[:-1]]
    second = np.r_[False, first[:-1]] & ~first
    prev_t = np.r_[np.nan, st[:-1]]
    prev_t[first] = state.last_t[sid[first]]
    prev2_t = np.r_[np.nan, np.nan, st[:-2]][:n]
    prev2_t[first] = state.last2_t[sid[first]]
    prev2_t[second] = state.last_t[sid[second]]
    prev_p = np.r_[np.uint64(0), sp[:-1]].astype(np.uint64)
    prev_p[first] = state.last_payload[sid[first]]
    seen_before = np.isfinite(prev_t)
    last = np.r_[sid[1:] != sid[:-1], True]
    state.last_t[sid[last]] = st[last]
    state.last2_t[sid[last]] = prev_t[last]
    state.last_payload[sid[last]] = sp[last]

    unsort = np.empty_like(order)
    unsort[order] = np.arange(n)
    dt_same = (st - prev_t)[unsort]
    prev_dt = (prev_t - prev2_t)[unsort]
    change = np.where(seen_before, sp ^ prev_p, np.uint64(0))[unsort]
    first_of_id = (~seen_before)[unsort]
    dt_any = np.diff(np.r_[state.global_t, t])
    if n:
        state.global_t = float(t[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log2(np.maximum(dt_same, 1e-9) / np.maximum(prev_dt, 1e-9))
    ratio = np.where(np.isfinite(ratio), np.clip(ratio / (2 * _LOG_RATIO_SPAN) + 0.5, 0.0, 1.0), 0.5)

    shifts = np.arange(PAYLOAD_BITS - 1, -1, -1, dtype=np.uint64)
    out = np.empty((n, NUM_FEATURES), dtype=np.float32)
    out[:, :ID_BITS] = (ids[:, None] >> np.arange(ID_BITS - 1, -1, -1)) & 1
    c = ID_BITS
    out[:, c : c + PAYLOAD_BITS] = frames["payload_bits"]
    c += PAYLOAD_BITS
    out[:, c] = frames["dlc_bytes"] / 8.0
    c += 1
    out[:, c : c + PAYLOAD_BITS] = (change[:, None] >> shifts) & np.uint64(1)
    c += PAYLOAD_BITS
    out[:, c] = first_of_id
    out[:, c + 1] = _log_time(np.maximum(dt_same, 0.0))
    out[:, c + 2] = _log_time(np.maximum(prev_dt, 0.0))
    out[:, c + 3] = ratio
    out[:, c + 4] = _log_time(np.maximum(dt_any, 0.0))
    return out


# ----------------------------------------------------------------------------- reading


def iter_can_chunks(
    path: PathLike,
    attack_class: str = "normal",
    chunk_bytes: int = 1 << 22,
    max_rows: int | None = None,
    summary: ReadSummary | None = None,
) -> Iterator[CanChunk]:
    """Stream one zipped DAGA trace as feature chunks of about ``chunk_bytes`` of CSV each.

    ``attack_class`` (one of :data:`CAN_CLASSES`) labels the frames whose ANOMALY is true;
    ``max_rows`` stops after that many CSV rows (malformed ones included). Pass a
    :class:`ReadSummary` to receive the counts; a warning names malformed rows in any case.
    """
    if attack_class not in CAN_CLASSES:
        raise DataError(f"attack_class={attack_class!r} is not one of {', '.join(CAN_CLASSES)}")
    p = Path(path)
    summary = summary if summary is not None else ReadSummary(p.name)
    label = CAN_CLASSES.index(attack_class)
    state = _FrameState()
    rows_seen = 0

    def invalid_row(row) -> str:  # a line with too few or too many fields
        summary.malformed["wrong number of fields"] += 1
        return "skip"

    try:
        archive = zipfile.ZipFile(p)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{p}: not a readable zip file ({exc}); re-download it") from None
    with archive:
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            raise DataError(f"{p}: expected one CSV file inside the zip, found {len(members)}; re-download the trace")
        with archive.open(members[0]) as stream:
            header = [c.strip() for c in stream.readline().decode("utf-8", "replace").strip().split(",")]
        missing = [c for c in CAN_COLUMNS if c not in header]
        if missing:
            raise DataError(
                f"{p}: the header lacks column(s) {', '.join(missing)}; a DAGA trace has the columns "
                f"{', '.join(CAN_COLUMNS)}: re-download the trace or rename the columns"
            )
        with archive.open(members[0]) as stream:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(block_size=int(chunk_bytes), use_threads=False),
                parse_options=pacsv.ParseOptions(invalid_row_handler=invalid_row),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in CAN_COLUMNS},
                    include_columns=list(CAN_COLUMNS),
                    strings_can_be_null=False,
                ),
            )
            for batch in reader:
                if max_rows is not None:
                    if rows_seen >= max_rows:
                        break
                    batch = batch.slice(0, max_rows - rows_seen)
                rows_seen += batch.num_rows
                frames = _parse(batch, summary)
                if len(frames["t"]) == 0:
                    continue
                features = _features(frames, state)
                summary.rows_kept += len(features)
                summary.chunks += 1
                yield CanChunk(features, np.where(frames["anomaly"], label, 0).astype(np.int64), frames["t"])
    if summary.rows_malformed:
        warnings.warn(f"malformed CAN rows dropped: {summary}", stacklevel=2)


@dataclass
class CanTrace:
    """A whole trace in memory (features, labels, timestamps) with its read summary."""

    name: str
    features: np.ndarray
    labels: np.ndarray
    timestamps: np.ndarray
    summary: ReadSummary


def read_can_trace(
    path: PathLike, attack_class: str = "normal", max_rows: int | None = None, chunk_bytes: int = 1 << 22
) -> CanTrace:
    """Read a trace into memory (the chunks concatenated)."""
    summary = ReadSummary(Path(path).name)
    chunks = list(iter_can_chunks(path, attack_class, chunk_bytes, max_rows, summary))
    if not chunks:
        empty = np.zeros((0, NUM_FEATURES), np.float32)
        return CanTrace(Path(path).name, empty, np.zeros(0, np.int64), np.zeros(0), summary)
    return CanTrace(
        Path(path).name,
        np.concatenate([c.features for c in chunks]),
        np.concatenate([c.labels for c in chunks]),
        np.concatenate([c.timestamps for c in chunks]),
        summary,
    )


@dataclass
class CanData:
    """The five traces split by time: ``x``/``y`` per split, and which trace each row came from."""

    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    trace: dict[str, np.ndarray]
    summaries: list[ReadSummary]
    classes: tuple[str, ...] = CAN_CLASSES
    traces: tuple[str, ...] = tuple(CAN_TRACES)

    def class_counts(self, split: str) -> dict[str, int]:
        counts = np.bincount(self.y[split], minlength=len(self.classes))
        return dict(zip(self.classes, counts.tolist()))


def time_split(timestamps: np.ndarray, train: float, valid: float) -> np.ndarray:
    """Split ids (0 train, 1 valid, 2 test) by the fraction of the trace's duration each frame falls in."""
    if not (0 < train and 0 <= valid and train + valid < 1):
        raise DataError(f"time split train={train}, valid={valid}: need train > 0, valid >= 0 and train + valid < 1")
    if len(timestamps) == 0:
        return np.zeros(0, np.int64)
    start, span = timestamps[0], max(timestamps[-1] - timestamps[0], 1e-12)
    position = (timestamps - start) / span
    return np.where(position < train, 0, np.where(position < train + valid, 1, 2))


def load_can(
    data_dir: PathLike | None = None,
    max_rows: int | None = None,
    train: float = 0.6,
    valid: float = 0.1,
    files: tuple[str, ...] = tuple(CAN_TRACES),
) -> CanData:
    """The DAGA traces as train/valid/test arrays, each trace split by time.

    ``max_rows`` reads only the first rows of each trace (the quick budget); the split
    fractions then apply to the part read.
    """
    per_split: dict[str, dict[str, list]] = {s: {"x": [], "y": [], "trace": []} for s in ("train", "valid", "test")}
    summaries = []
    for index, name in enumerate(files):
        if name not in CAN_TRACES:
            raise DataError(f"{name!r} is not a DAGA trace of the can data set; known: {', '.join(CAN_TRACES)}")
        # A short read needs only a short first chunk (about 110 bytes of CSV a row).
        chunk = (1 << 22) if max_rows is None else int(min(1 << 22, max(1 << 16, 128 * max_rows)))
        trace = read_can_trace(require_file("can", name, data_dir), CAN_TRACES[name], max_rows, chunk)
        summaries.append(trace.summary)
        split = time_split(trace.timestamps, train, valid)
        for code, split_name in enumerate(("train", "valid", "test")):
            rows = split == code
            per_split[split_name]["x"].append(trace.features[rows])
            per_split[split_name]["y"].append(trace.labels[rows])
            per_split[split_name]["trace"].append(np.full(int(rows.sum()), index, np.int64))
        del trace
    x = {s: np.concatenate(v["x"]) for s, v in per_split.items()}
    y = {s: np.concatenate(v["y"]) for s, v in per_split.items()}
    tr = {s: np.concatenate(v["trace"]) for s, v in per_split.items()}
    return CanData(x, y, tr, summaries, CAN_CLASSES, tuple(files))
