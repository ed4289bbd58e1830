"""Training on files larger than memory: streamed schema fitting and a block-streaming data source.

- :func:`fit_schema_streaming` fits a :class:`FeatureSchema` in one pass over a file in row blocks
  (category counts and numeric running statistics), giving the same vocabularies and statistics
  as ``schema.fit`` on the whole frame read with pandas.
- :class:`StreamingTable` serves encoded batches from the file block by block with the data-source
  protocol of :class:`TensorTable` (``len``, ``num_batches``, ``iter_batches``), so the Trainer
  uses it unchanged. Memory is bounded by ``shuffle_blocks * block_rows`` encoded rows.
- :func:`criteo_schema` / :data:`CRITEO_COLUMNS` describe the Criteo format (headerless TSV) and
  :func:`write_synthetic_criteo` writes a synthetic file of that format (tests, benchmarks).

Files are read with pyarrow. An uncompressed CSV/TSV is indexed once (newlines counted in binary
chunks, as :func:`count_rows` does) so that any block is read by seeking to its bytes: a
``row_range`` reads only its own blocks, and a shuffled epoch also visits blocks in a random
order. Gzipped CSV and parquet are read sequentially (parquet skips row groups outside the range).
As in ``pandas.read_csv``, an empty CSV field is missing (categorical: OOV; numeric: filled).
Rows are counted as lines, so CSV values spanning lines and blank lines are refused.
"""

from __future__ import annotations

import gzip
import io
import math
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import torch

from mlpzoo.data.readers import check_columns, count_rows, existing_file, file_kind, first_line, rechunk
from mlpzoo.data.schema import OOV, CategoricalField, FeatureSchema, NumericField
from mlpzoo.data.tensors import Batch, TensorTable
from mlpzoo.errors import ConfigError, DataError

__all__ = ["CRITEO_COLUMNS", "StreamingTable", "criteo_schema", "fit_schema_streaming", "write_synthetic_criteo"]

PathLike = str | os.PathLike[str]

CRITEO_NUMERIC = [f"I{i}" for i in range(1, 14)]
CRITEO_CATEGORICAL = [f"C{i}" for i in range(1, 27)]
CRITEO_COLUMNS = ["label", *CRITEO_NUMERIC, *CRITEO_CATEGORICAL]

_SCAN_CHUNK = 1 << 24


def criteo_schema(min_count: int = 10) -> FeatureSchema:
    """Criteo display-ads schema: ``label``, numeric I1..I13 (mean fill, z-score), categorical C1..C26.

    The integer features are heavy-tailed; they are standardised as they are (no log transform).
    Read Criteo files with ``column_names=CRITEO_COLUMNS`` and ``delimiter="\\t"``.
    """
    return FeatureSchema(
        categorical=[CategoricalField(name, min_count=min_count) for name in CRITEO_CATEGORICAL],
        numeric=[NumericField(name, fill="mean", normalize="standard") for name in CRITEO_NUMERIC],
        label="label",
    )


# ----------------------------------------------------------------------------- block reading


def _clip_range(row_range: tuple[int, int] | None, total: int, p: Path) -> tuple[int, int]:
    if row_range is None:
        return 0, total
    start, stop = (int(v) for v in row_range)
    if start < 0 or stop < start:
        raise DataError(f"{p}: row_range={tuple(row_range)} must be (start, stop) with 0 <= start <= stop")
    return min(start, total), min(stop, total)


class _BlockSource:
    """Rows ``[start, stop)`` of one file as pyarrow tables of ``block_rows`` rows (the last may be short).

    ``columns`` are read with ``column_types`` (pyarrow types); blocks are numbered from ``start``.
    ``seekable`` sources (uncompressed CSV/TSV) can read their blocks in any order.
    """

    def __init__(
        self,
        path: PathLike,
        columns: list[str],
        column_types: dict,
        block_rows: int,
        column_names: list[str] | None,
        delimiter: str | None,
        row_range: tuple[int, int] | None,
    ):
        self.path = existing_file(path)
        if block_rows < 1:
            raise DataError(f"block_rows={block_rows} must be at least 1")
        self.block_rows = int(block_rows)
        self.columns = list(dict.fromkeys(columns))
        self.column_types = {c: column_types[c] for c in self.columns}
        self.column_names = list(column_names) if column_names is not None else None
        self.kind = file_kind(self.path)
        self.delimiter = delimiter or ("\t" if self.kind == "tsv" else ",")
        self.seekable = self.kind != "parquet" and not self.path.name.lower().endswith(".gz")
        if self.kind == "parquet":
            meta = pq.ParquetFile(self.path)
            check_columns(self.path, self.columns, meta.schema_arrow.names)
            self.start, self.stop = _clip_range(row_range, meta.metadata.num_rows, self.path)
        else:
            self.names = self._header_names() if self.column_names is None else self.column_names
            check_columns(self.path, self.columns, self.names)
            if self.seekable:
                self._index(row_range)
            else:
                self.start, self.stop = _clip_range(
                    row_range, count_rows(self.path, header=self.column_names is None), self.path
                )

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def num_blocks(self) -> int:
        return -(-len(self) // self.block_rows)

    # --- uncompressed CSV: a byte index of block starts ---------------------------------------
    def _header_names(self) -> list[str]:
        opener = gzip.open if self.path.name.lower().endswith(".gz") else open
        with opener(self.path, "rb") as fh:
            first = fh.readline()
        if not first.strip():
            raise DataError(f"{self.path}: file is empty or has no header; pass column_names for a headerless file")
        try:
            return pacsv.read_csv(io.BytesIO(first), parse_options=self._parse_options()).column_names
        except pa.ArrowInvalid as exc:
            raise DataError(f"{self.path}:1: cannot parse the header ({first_line(exc)}); check the delimiter") from exc

    def _index(self, row_range: tuple[int, int] | None) -> None:
        header = self.column_names is None
        h = int(header)
        start = 0 if row_range is None else max(int(row_range[0]), 0)
        stop_line = None if row_range is None else h + int(row_range[1])
        total_lines, starts, stop_offset, size = self._scan(h + start, self.block_rows, stop_line)
        self.start, self.stop = _clip_range(row_range, max(total_lines - h, 0), self.path)
        self._starts = starts[: self.num_blocks]
        self._end = (
            stop_offset
            if (row_range is not None and self.stop == int(row_range[1]) and stop_offset is not None)
            else size
        )

    def _scan(self, first_line: int, step: int, stop_line: int | None) -> tuple[int, list[int], int | None, int]:
        """Count lines; byte offsets of lines ``first_line + k * step`` and of ``stop_line``.

        Line ``L`` starts after the ``L``-th newline (line 0 at byte 0).
        """
        starts: list[int] = [0] if first_line == 0 else []
        next_line = step if first_line == 0 else first_line
        stop_offset = 0 if stop_line == 0 else None
        seen, pos, last = 0, 0, b"\n"
        with open(self.path, "rb") as fh:
            while chunk := fh.read(_SCAN_CHUNK):
                hi = seen + chunk.count(b"\n")
                need_block = next_line <= hi
                need_stop = stop_offset is None and stop_line is not None and stop_line <= hi
                if need_block or need_stop:
                    newlines = np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10)
                    if need_block:
                        lines = np.arange(next_line, hi + 1, step)
                        starts.extend((pos + newlines[lines - seen - 1] + 1).tolist())
                        next_line = int(lines[-1]) + step
                    if need_stop:
                        stop_offset = pos + int(newlines[stop_line - seen - 1]) + 1
                seen, pos, last = hi, pos + len(chunk), chunk[-1:]
        total_lines = seen + int(last != b"\n")
        return total_lines, starts, stop_offset, pos

    def _parse_options(self) -> pacsv.ParseOptions:
        return pacsv.ParseOptions(delimiter=self.delimiter)

    def _convert_options(self) -> pacsv.ConvertOptions:
        # Empty strings are missing, as pandas.read_csv reads them.
        return pacsv.ConvertOptions(
            column_types=self.column_types, include_columns=self.columns, strings_can_be_null=True
        )

    def _parse_error(self, exc: BaseException, where: str) -> DataError:
        return DataError(
            f"{self.path}: cannot parse {where} ({first_line(exc)}); check the delimiter "
            f"(now {self.delimiter!r}) and column_names, or the value types of the schema's columns"
        )

    def _read_block(self, k: int) -> pa.Table:
        a = self._starts[k]
        b = self._starts[k + 1] if k + 1 < len(self._starts) else self._end
        first = self.start + k * self.block_rows
        expected = min(self.block_rows, self.stop - first)
        with open(self.path, "rb") as fh:
            fh.seek(a)
            data = fh.read(b - a)
        try:
            table = pacsv.read_csv(
                pa.BufferReader(data),
                read_options=pacsv.ReadOptions(column_names=self.names),
                parse_options=self._parse_options(),
                convert_options=self._convert_options(),
            )
        except pa.ArrowInvalid as exc:
            raise self._parse_error(exc, f"rows {first}..{first + expected - 1}") from exc
        if table.num_rows != expected:
            raise DataError(
                f"{self.path}: rows {first}..{first + expected - 1} parsed into {table.num_rows} rows; streaming "
                "counts rows as lines, so remove blank lines and values spanning lines"
            )
        return table

    # --- sequential sources (gzip, parquet) ---------------------------------------------------
    def _sequential(self) -> Iterator[pa.Table]:
        if self.kind == "parquet":
            parquet = pq.ParquetFile(self.path)
            groups, offset, first = [], 0, None
            for g in range(parquet.metadata.num_row_groups):
                n = parquet.metadata.row_group(g).num_rows
                if offset + n > self.start and offset < self.stop:
                    groups.append(g)
                    first = offset if first is None else first
                offset += n
            batches = (
                parquet.iter_batches(batch_size=self.block_rows, row_groups=groups, columns=self.columns)
                if groups
                else iter(())
            )
            first_row = first or 0
        else:
            try:
                reader = pacsv.open_csv(
                    pa.input_stream(str(self.path), compression="detect"),
                    read_options=pacsv.ReadOptions(column_names=self.column_names, block_size=1 << 22),
                    parse_options=self._parse_options(),
                    convert_options=self._convert_options(),
                )
            except pa.ArrowInvalid as exc:
                raise self._parse_error(exc, "the first rows") from exc
            batches, first_row = reader, 0

        def clipped() -> Iterator[pa.RecordBatch]:
            position = first_row
            for table in rechunk(iter(batches), self.block_rows):
                lo, hi = max(self.start - position, 0), min(self.stop - position, table.num_rows)
                position += table.num_rows
                if hi > lo:
                    yield from table.slice(lo, hi - lo).to_batches()
                if position >= self.stop:
                    return

        try:
            for table in rechunk(clipped(), self.block_rows):
                yield self._cast(table)
        except pa.ArrowInvalid as exc:
            raise self._parse_error(exc, "a block") from exc

    def _cast(self, table: pa.Table) -> pa.Table:
        for name, kind in self.column_types.items():
            i = table.schema.get_field_index(name)
            if table.schema.field(i).type != kind:
                table = table.set_column(i, name, pc.cast(table.column(i), kind))
        return table

    # --- iteration ----------------------------------------------------------------------------
    def blocks(self, order: list[int] | None = None) -> Iterator[pa.Table]:
        """The blocks in file order, or in ``order`` (block numbers; seekable sources only)."""
        if not self.seekable:
            yield from self._sequential()
            return
        for k in range(self.num_blocks) if order is None else order:
            yield self._read_block(k)


def _read_types(schema: FeatureSchema, label: bool = True) -> dict:
    types = {f.name: pa.string() for f in schema.categorical}
    types.update({f.name: pa.float64() for f in schema.numeric})
    types.update({s.name: pa.string() for s in schema.sequence})
    if label:
        types[schema.label] = pa.float64()
    return types


# ----------------------------------------------------------------------------- fitting


def _merge_counts(total: pa.Table | None, block: pa.Table) -> pa.Table:
    if total is None:
        return block
    merged = pa.concat_tables([total, block]).group_by("token").aggregate([("count", "sum")])
    return merged.rename_columns(["count" if name == "count_sum" else name for name in merged.column_names])


def fit_schema_streaming(
    schema: FeatureSchema,
    path: PathLike,
    block_rows: int = 262_144,
    column_names: list[str] | None = None,
    delimiter: str | None = None,
    max_rows: int | None = None,
    row_range: tuple[int, int] | None = None,
) -> FeatureSchema:
    """A copy of ``schema`` fitted in one pass over ``path`` in blocks of ``block_rows`` rows.

    Same result as ``schema.fit(frame)`` on the rows read whole with pandas: vocabularies by the
    rules of :meth:`CategoricalField.fit` (``min_count``; by count, then token) and numeric
    ``stats`` (mean, population std, min, max of the finite values). Fit on training rows only:
    ``row_range`` and/or ``max_rows`` (the first ``max_rows`` rows of the range) select them.
    """
    p = existing_file(path)
    fields = schema.categorical + schema.numeric
    if row_range is None and max_rows is not None:
        row_range = (0, int(max_rows))
    elif max_rows is not None:
        row_range = (int(row_range[0]), min(int(row_range[1]), int(row_range[0]) + int(max_rows)))
    source = _BlockSource(
        p, [f.name for f in fields], _read_types(schema, label=False), block_rows, column_names, delimiter, row_range
    )
    counts: dict[str, pa.Table | None] = {f.name: None for f in schema.categorical}
    moments = {f.name: [0, 0.0, 0.0, math.inf, -math.inf] for f in schema.numeric}  # n, mean, M2, min, max
    for table in source.blocks():
        for f in schema.categorical:
            vc = pc.value_counts(table.column(f.name))
            block = pa.table({"token": vc.field("values"), "count": vc.field("counts")})
            counts[f.name] = _merge_counts(counts[f.name], block.filter(pc.is_valid(block.column("token"))))
        for f in schema.numeric:
            x = table.column(f.name).to_numpy()
            x = x[np.isfinite(x)]
            if x.size:
                n, mean, m2, lo, hi = moments[f.name]
                bn, bmean = x.size, float(x.mean())
                bm2 = float(((x - bmean) ** 2).sum())
                delta, total = bmean - mean, n + bn
                # Chan et al.'s pairwise update: stable where sum / sum-of-squares would cancel.
                moments[f.name] = [
                    total,
                    mean + delta * bn / total,
                    m2 + bm2 + delta * delta * n * bn / total,
                    min(lo, float(x.min())),
                    max(hi, float(x.max())),
                ]
    categorical = []
    for f in schema.categorical:
        table = counts[f.name]
        tokens = [] if table is None else table.column("token").to_pylist()
        values = np.zeros(0, np.int64) if table is None else table.column("count").to_numpy()
        categorical.append(f.from_counts(tokens, values))
    numeric = []
    for f in schema.numeric:
        n, mean, m2, lo, hi = moments[f.name]
        if n == 0:
            raise DataError(f"numeric field {f.name!r} has no finite training value; drop it or fix the column")
        numeric.append(
            replace(f, stats={"mean": float(mean), "std": float(math.sqrt(m2 / n)) or 1.0, "min": lo, "max": hi})
        )
    return replace(schema, categorical=categorical, numeric=numeric)


# ----------------------------------------------------------------------------- streaming table


def _concat(tables: list[TensorTable]) -> TensorTable:
    if len(tables) == 1:
        return tables[0]
    return TensorTable(
        torch.cat([t.categorical for t in tables]),
        torch.cat([t.numeric for t in tables]),
        {k: torch.cat([t.sequences[k] for t in tables]) for k in tables[0].sequences},
        torch.cat([t.label for t in tables]),
    )


def _clone(table: TensorTable) -> TensorTable:
    return TensorTable(
        table.categorical.clone(),
        table.numeric.clone(),
        {k: v.clone() for k, v in table.sequences.items()},
        table.label.clone(),
    )


class StreamingTable:
    """Encoded batches streamed from a file, with :class:`TensorTable`'s data-source protocol.

    Args:
        path: CSV/TSV (optionally ``.gz``) or parquet file.
        schema: a fitted schema (e.g. from :func:`fit_schema_streaming`); its ``label`` column is read.
        block_rows: rows read and encoded at a time.
        shuffle_blocks: blocks held in the shuffle buffer; memory is bounded by
            ``shuffle_blocks * block_rows`` encoded rows (plus one block being read).
        column_names: names of a headerless CSV's columns (e.g. :data:`CRITEO_COLUMNS`).
        delimiter: CSV delimiter (default tab for ``.tsv``, else comma).
        row_range: ``(start, stop)`` data rows of the file to serve (e.g. the first 80 % for training).

    Shuffled epochs read the blocks in a random order (uncompressed CSV; else file order), hold up
    to ``shuffle_blocks`` of them, and emit batches from a permutation of the buffer, carrying the
    remainder over; the order is a function of ``(seed, epoch)``. Unshuffled iteration is in file order.
    """

    def __init__(
        self,
        path: PathLike,
        schema: FeatureSchema,
        block_rows: int = 262_144,
        shuffle_blocks: int = 4,
        column_names: list[str] | None = None,
        delimiter: str | None = None,
        row_range: tuple[int, int] | None = None,
    ):
        if schema.group is not None:
            raise ConfigError(
                f"StreamingTable does not serve group column {schema.group!r} (gAUC); "
                "use an in-memory TensorTable for grouped evaluation or drop schema.group"
            )
        for f in schema.categorical:
            f._require_fitted()
        for f in schema.numeric:
            if f.stats is None:
                raise ConfigError(
                    f"numeric field {f.name!r} has no statistics yet; fit the schema first (fit_schema_streaming)"
                )
        if shuffle_blocks < 1:
            raise ConfigError(f"shuffle_blocks={shuffle_blocks} must be at least 1")
        self.schema = schema
        self.shuffle_blocks = int(shuffle_blocks)
        columns = [schema.label] + schema.columns
        self._source = _BlockSource(path, columns, _read_types(schema), block_rows, column_names, delimiter, row_range)
        self.path = self._source.path
        self.block_rows = self._source.block_rows
        self.row_range = (self._source.start, self._source.stop)
        self._vocab = [pa.array(f.vocab, type=pa.string()) for f in schema.categorical]

    def __len__(self) -> int:
        return len(self._source)

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def __repr__(self) -> str:
        rows = f"{self.row_range[0]}..{self.row_range[1]}"
        return f"StreamingTable({str(self.path)!r}, rows={rows}, block_rows={self.block_rows})"

    # --- encoding -----------------------------------------------------------------------------
    def encode_block(self, table: pa.Table) -> TensorTable:
        """Encode a pyarrow block exactly as ``schema.encode`` encodes the same rows of a frame."""
        schema = self.schema
        n = table.num_rows
        categorical = np.empty((n, len(schema.categorical)), np.int64)
        for j, (f, vocab) in enumerate(zip(schema.categorical, self._vocab)):
            codes = pc.fill_null(pc.index_in(table.column(f.name), value_set=vocab), -1).to_numpy()
            categorical[:, j] = np.where(codes < 0, OOV, codes.astype(np.int64) + 2)
        numeric = np.empty((n, len(schema.numeric)), np.float32)
        for j, f in enumerate(schema.numeric):
            numeric[:, j] = f.encode(pd.Series(table.column(f.name).to_numpy()))
        sequences = {
            s.name: torch.from_numpy(schema._encode_sequence(s, table.column(s.name).to_pandas()))
            for s in schema.sequence
        }
        label = schema._encode_label(pd.Series(table.column(schema.label).to_numpy()), f"{self.path}")
        return TensorTable(torch.from_numpy(categorical), torch.from_numpy(numeric), sequences, torch.from_numpy(label))

    def to_tensor_table(self) -> TensorTable:
        """All rows in memory (small files and tests)."""
        parts = [self.encode_block(t) for t in self._source.blocks()]
        return _concat(parts) if parts else self.encode_block(self._empty())

    def _empty(self) -> pa.Table:
        types = _read_types(self.schema)
        return pa.table({c: pa.array([], type=types[c]) for c in [self.schema.label] + self.schema.columns})

    # --- batches ------------------------------------------------------------------------------
    def iter_batches(self, batch_size: int, shuffle: bool = False, seed: int = 0, epoch: int = 0) -> Iterator[Batch]:
        """Batches of ``batch_size`` rows (the last may be short): in file order, or shuffled by ``(seed, epoch)``."""
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size} must be at least 1")
        if shuffle:
            yield from self._shuffled(batch_size, torch.Generator().manual_seed(seed * 100_003 + epoch))
            return
        carry: TensorTable | None = None
        for block in self._source.blocks():
            table = self.encode_block(block)
            start = 0
            if carry is not None:  # complete the batch begun at the end of the last block
                head = table.select(slice(0, batch_size - len(carry)))
                carry, start = _concat([carry, head]), len(head)
                if len(carry) < batch_size:
                    continue
                yield carry.as_batch()
                carry = None
            end = start + (len(table) - start) // batch_size * batch_size
            for s in range(start, end, batch_size):
                yield table.select(slice(s, s + batch_size)).as_batch()
            if end < len(table):
                carry = _clone(table.select(slice(end, len(table))))
        if carry is not None:
            yield carry.as_batch()

    def _shuffled(self, batch_size: int, generator: torch.Generator) -> Iterator[Batch]:
        source = self._source
        order = torch.randperm(source.num_blocks, generator=generator).tolist() if source.seekable else None
        capacity = min(self.shuffle_blocks * self.block_rows + batch_size, len(self) + 1)
        schema = self.schema
        # One preallocated buffer: blocks are written in place, batches are gathered from a permutation.
        buffer = TensorTable(
            torch.empty((capacity, len(schema.categorical)), dtype=torch.int64),
            torch.empty((capacity, len(schema.numeric)), dtype=torch.float32),
            {s.name: torch.empty((capacity, s.max_len), dtype=torch.int64) for s in schema.sequence},
            torch.empty(capacity, dtype=torch.float32),
        )
        held, blocks_held = 0, 0

        def write(table: TensorTable, at: int) -> None:
            rows = slice(at, at + len(table))
            buffer.categorical[rows] = table.categorical
            buffer.numeric[rows] = table.numeric
            for k, v in table.sequences.items():
                buffer.sequences[k][rows] = v
            buffer.label[rows] = table.label

        def flush(final: bool) -> Iterator[Batch]:
            nonlocal held
            perm = torch.randperm(held, generator=generator)
            end = held if final else held // batch_size * batch_size
            for s in range(0, end, batch_size):
                yield buffer.select(perm[s : s + batch_size]).as_batch()
            rest = buffer.select(perm[end:held])  # a copy (fewer than batch_size rows), moved to the front
            held = len(rest)
            if held:
                write(rest, 0)

        for block in source.blocks(order):
            write(self.encode_block(block), held)
            held += block.num_rows
            blocks_held += 1
            if blocks_held >= self.shuffle_blocks:
                yield from flush(final=False)
                blocks_held = 0
        if held:
            yield from flush(final=True)


# ----------------------------------------------------------------------------- synthetic Criteo


def write_synthetic_criteo(
    path: PathLike, rows: int, seed: int = 0, chunk_rows: int = 250_000, max_cardinality: int = 100_000
) -> Path:
    """Write a synthetic Criteo-format TSV (no header; :data:`CRITEO_COLUMNS`) in bounded memory.

    label: clicks drawn from a logistic model of eight categorical fields (per-category effects)
    and four integer fields, about 25 % positive. I1..I13: heavy-tailed (log-normal) integers,
    each column with its own share of missing (empty) fields. C1..C26: 8-hex-digit tokens drawn
    from Zipf-like laws with cardinalities from 10 to ``max_cardinality``, some with missing fields.
    Written ``chunk_rows`` rows at a time; the same ``(rows, seed, chunk_rows)`` give the same file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cards = np.geomspace(10, max(max_cardinality, 10), len(CRITEO_CATEGORICAL)).round().astype(np.int64)
    rng.shuffle(cards)
    cdfs, dictionaries, effects = [], [], []
    signal = set(rng.choice(len(CRITEO_CATEGORICAL), 8, replace=False).tolist())
    for j, card in enumerate(cards):
        weights = 1.0 / np.arange(1, card + 1) ** rng.uniform(1.05, 1.3)
        cdf = np.cumsum(weights)
        cdfs.append(cdf / cdf[-1])
        ids = np.unique(rng.integers(0, 2**32, int(card * 1.2) + 16, dtype=np.uint64))
        rng.shuffle(ids)
        dictionaries.append(pa.array(np.char.mod("%08x", ids[:card]).tolist(), type=pa.string()))
        effects.append(rng.normal(0.0, 0.7, card) if j in signal else None)
    cat_missing = rng.choice([0.0, 0.0, 0.0, 0.02, 0.1, 0.3, 0.45], len(CRITEO_CATEGORICAL))
    mu, sigma = rng.uniform(0.0, 4.0, 13), rng.uniform(0.5, 1.8, 13)
    int_missing = np.where(rng.random(13) < 0.3, 0.0, rng.uniform(0.0, 0.45, 13))
    weights = np.zeros(13)
    weights[rng.choice(13, 4, replace=False)] = rng.choice([-0.5, 0.5], 4)
    fields = (
        [pa.field("label", pa.int8())]
        + [pa.field(c, pa.int64()) for c in CRITEO_NUMERIC]
        + [pa.field(c, pa.string()) for c in CRITEO_CATEGORICAL]
    )
    options = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    with pacsv.CSVWriter(str(path), pa.schema(fields), write_options=options) as writer:
        for index, begin in enumerate(range(0, rows, chunk_rows)):
            n = min(chunk_rows, rows - begin)
            crng = np.random.default_rng([seed, index])
            logit = np.full(n, -1.45)
            columns = []
            z = crng.normal(mu, sigma, (n, 13))
            ints = np.floor(np.exp(z)).astype(np.int64)
            missing = crng.random((n, 13)) < int_missing
            logit += np.where(missing, 0.0, (z - mu) / sigma * weights).sum(axis=1)
            columns += [pa.array(ints[:, j], mask=missing[:, j]) for j in range(13)]
            for j in range(len(CRITEO_CATEGORICAL)):
                idx = np.minimum(np.searchsorted(cdfs[j], crng.random(n)), cards[j] - 1)
                miss = crng.random(n) < cat_missing[j]
                if effects[j] is not None:
                    logit += np.where(miss, 0.0, effects[j][idx])
                indices = pa.array(idx.astype(np.int32), mask=miss)
                columns.append(pa.DictionaryArray.from_arrays(indices, dictionaries[j]).dictionary_decode())
            label = (crng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
            writer.write_table(pa.Table.from_arrays([pa.array(label)] + columns, schema=pa.schema(fields)))
    return path
