"""Readers for the file formats of the real data sets, with one-line errors on bad input.

- libfm text (Frappe): ``label idx:1 idx:1 ...`` -> labels and per-field feature indices;
- RecBole atomic files (MovieLens): tab-separated with ``name:type`` headers;
- CSV / TSV (optionally gzipped) and parquet tables, whole or streamed in row blocks.

Every error names the file and, where it can, the line or column, and says how to fix it.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mlpzoo.errors import DataError, DataMissingError

__all__ = [
    "ATOMIC_TYPES",
    "count_rows",
    "iter_table_blocks",
    "read_atomic",
    "read_libfm",
    "read_libfm_frame",
    "read_table",
    "split_seq",
]

PathLike = str | os.PathLike[str]

ATOMIC_TYPES = ("token", "token_seq", "float", "float_seq")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_SUPPORTED = ", ".join(_CSV_SUFFIXES + tuple(s + ".gz" for s in _CSV_SUFFIXES) + _PARQUET_SUFFIXES)


def existing_file(path: PathLike) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DataMissingError(f"{p} not found; check the path or the data directory (MLPZOO_DATA)")
    return p


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ----------------------------------------------------------------------------- libfm


def _expected_fields(num_fields: int | None, field_names: list[str] | None) -> int | None:
    if field_names is None:
        return num_fields
    if num_fields is not None and num_fields != len(field_names):
        raise DataError(
            f"num_fields={num_fields} but {len(field_names)} field_names were given; "
            "pass one of them or make them agree"
        )
    return len(field_names)


def _libfm_fast(data: bytes, num_fields: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Vectorised parse of a clean file (single spaces, one ``idx:1`` per field, labels -1/0/1).

    Returns None on anything unusual; the line-by-line reader then parses it or says which
    line is wrong, so this path only has to be sure never to accept a malformed file.
    """
    data = data.replace(b"\r\n", b"\n")  # Frappe ships CRLF line ends
    if not data.endswith(b"\n"):
        data += b"\n"
    buf = np.frombuffer(data, dtype=np.uint8)
    sep_pos = np.flatnonzero((buf == ord(" ")) | (buf == ord(":")) | (buf == ord("\n")))
    seps = buf[sep_pos]
    n_rows = int(np.count_nonzero(seps == ord("\n")))
    period, rest = divmod(len(seps), n_rows)
    if rest or period % 2 == 0 or sep_pos[0] == 0 or np.any(np.diff(sep_pos) == 1):
        return None  # ragged lines or an empty token (blank line, double space, leading space)
    n_fields = period // 2
    if n_fields == 0 or (num_fields is not None and n_fields != num_fields):
        return None
    # Each line's separators must be exactly " : : ... :\n", so every feature is one idx:val.
    pattern = np.array([ord(" "), ord(":")] * n_fields + [ord("\n")], dtype=np.uint8)
    if not np.array_equal(seps.reshape(n_rows, period), np.broadcast_to(pattern, (n_rows, period))):
        return None
    types = {"f0": pa.float64()}
    for j in range(n_fields):
        types[f"f{2 * j + 1}"] = pa.int64()
        types[f"f{2 * j + 2}"] = pa.float64()
    try:
        table = pacsv.read_csv(
            io.BytesIO(data.replace(b":", b" ")),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    labels = table.column(0).to_numpy()
    indices = np.column_stack([table.column(2 * j + 1).to_numpy() for j in range(n_fields)])
    values = np.column_stack([table.column(2 * j + 2).to_numpy() for j in range(n_fields)])
    if not (np.isin(labels, (-1.0, 0.0, 1.0)).all() and (values == 1.0).all() and (indices >= 0).all()):
        return None
    return (labels > 0).astype(np.float32), indices.astype(np.int64, copy=False)


def _libfm_slow(data: bytes, name: str, num_fields: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Line-by-line parse: accepts any whitespace and blank lines, and names the bad line."""
    labels: list[float] = []
    rows: list[list[int]] = []
    expected = num_fields
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{name}:{lineno}: line is not UTF-8 text; libfm files hold ASCII numbers only") from None
        parts = line.split()
        if not parts:
            continue
        try:
            label = float(parts[0])
        except ValueError:
            raise DataError(
                f"{name}:{lineno}: label {parts[0]!r} is not a number; "
                "each libfm line must start with a label -1, 0 or 1"
            ) from None
        if label not in (-1.0, 0.0, 1.0):
            raise DataError(
                f"{name}:{lineno}: label {parts[0]!r} is not -1, 0 or 1; "
                "read_libfm reads binary labels (clicked or not), so write each label as -1, 0 or 1"
            )
        found = len(parts) - 1
        if expected is None:
            expected = found
        if found != expected:
            raise DataError(
                f"{name}:{lineno}: expected {expected} features, found {found}; "
                "every libfm line must hold one idx:1 per field"
            )
        row = []
        for token in parts[1:]:
            idx, sep, val = token.partition(":")
            try:
                index = int(idx)
                value = float(val)
            except ValueError:
                index, value = -1, float("nan")
            if not sep or index < 0 or ":" in val or value != value:
                raise DataError(
                    f"{name}:{lineno}: feature {token!r} is not idx:value with a non-negative "
                    "integer idx; write each feature as idx:1"
                )
            if value != 1.0:
                raise DataError(
                    f"{name}:{lineno}: feature {token!r} has value {val}, not 1; read_libfm reads "
                    "one-hot categorical libfm (one idx:1 per field), so re-encode numeric fields"
                )
            row.append(index)
        labels.append(label)
        rows.append(row)
    if not rows:
        raise DataError(f"{name}: no libfm lines in the file; expected lines 'label idx:1 idx:1 ...'")
    if expected == 0:
        raise DataError(f"{name}:1: lines hold a label but no features; write features as idx:1")
    label_arr = (np.asarray(labels, dtype=np.float64) > 0).astype(np.float32)
    return label_arr, np.asarray(rows, dtype=np.int64)


def read_libfm(
    path: PathLike,
    num_fields: int | None = None,
    field_names: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read a one-hot categorical libfm file (``label idx:1 idx:1 ...``, as Frappe).

    Returns ``(labels, indices)``: float32 labels of shape (N,) with -1/1 and 0/1 both mapped
    to 0/1, and int64 feature indices of shape (N, F), one column per field in file order.
    Every line must hold the same number of features: ``num_fields`` (or
    ``len(field_names)``) if given, else the first line's.
    """
    p = existing_file(path)
    expected = _expected_fields(num_fields, field_names)
    # Line ends: LF, CRLF (Frappe) and the old Mac CR alone all end a line.
    data = p.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not data.strip():
        raise DataError(f"{p}: file is empty; expected libfm lines 'label idx:1 idx:1 ...'")
    return _libfm_fast(data, expected) or _libfm_slow(data, str(p), expected)


def read_libfm_frame(paths: list[PathLike], field_names: list[str]) -> pd.DataFrame:
    """Concatenate libfm files in order into one table: int64 ``field_names`` + float32 ``label``."""
    if not paths:
        raise DataError("read_libfm_frame got no paths; pass at least one libfm file")
    parts = [read_libfm(p, field_names=field_names) for p in paths]
    indices = np.concatenate([idx for _, idx in parts])
    frame = pd.DataFrame(indices, columns=list(field_names))
    frame["label"] = np.concatenate([lab for lab, _ in parts])
    return frame


# ----------------------------------------------------------------------------- RecBole atomic


def _atomic_header(p: Path) -> list[tuple[str, str]]:
    try:
        with p.open("r", encoding="utf-8", newline="") as fh:
            header = fh.readline().rstrip("\r\n")
    except UnicodeDecodeError:
        raise DataError(f"{p}:1: header is not UTF-8 text; save the file as UTF-8") from None
    if not header.strip():
        raise DataError(f"{p}: file is empty or has no header; expected a tab-separated 'name:type' header")
    fields = []
    for column in header.split("\t"):
        name, sep, kind = column.partition(":")
        if not sep or not name:
            raise DataError(
                f"{p}: header column {column!r} has no ':type'; write it as name:type with type "
                f"one of {', '.join(ATOMIC_TYPES)} (columns are tab-separated)"
            )
        if kind not in ATOMIC_TYPES:
            raise DataError(
                f"{p}: header column {column!r} has unknown type {kind!r}; "
                f"use one of {', '.join(ATOMIC_TYPES)} and separate columns with tabs"
            )
        fields.append((name, kind))
    names = [n for n, _ in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"{p}: header repeats column {duplicates[0]!r}; give each column its own name")
    return fields


def read_atomic(path: PathLike) -> pd.DataFrame:
    """Read a RecBole atomic file (tab-separated, header ``name:type``).

    Columns are renamed to ``name``; ``float`` becomes float64 and the other types stay
    strings (ids such as '196' keep their text; ``*_seq`` values stay one space-separated
    string, see :func:`split_seq`). The declared types are in ``df.attrs["atomic_types"]``.
    """
    p = existing_file(path)
    fields = _atomic_header(p)
    data = p.read_bytes()
    # pandas pads short lines with empty strings, so check the tab count of each line here;
    # this also gives the file line of each row for the errors below.
    row_lines = []
    for lineno, line in enumerate(data.splitlines()[1:], start=2):
        if not line.strip():
            continue
        found = line.count(b"\t") + 1
        if found != len(fields):
            raise DataError(
                f"{p}:{lineno}: expected {len(fields)} tab-separated values, found "
                f"{found}; write one value per header column (an empty field is allowed)"
            )
        row_lines.append(lineno)
    try:
        # QUOTE_NONE: movie titles hold commas and quotes that are part of the value.
        raw = pd.read_csv(
            io.BytesIO(data),
            sep="\t",
            quoting=csv.QUOTE_NONE,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8",
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{p}: cannot parse as a tab-separated UTF-8 atomic file ({first_line(exc)}); fix the encoding or the tabs"
        ) from exc
    raw.columns = [name for name, _ in fields]
    frame = pd.DataFrame(index=raw.index)
    for name, kind in fields:
        column = raw[name]
        if kind == "float":
            converted = pd.to_numeric(column.replace("", np.nan), errors="coerce")
            bad = np.flatnonzero((converted.isna() & (column != "")).to_numpy())
            if bad.size:
                row = int(bad[0])
                where = f"{p}:{row_lines[row]}" if len(row_lines) == len(raw) else f"{p}: row {row + 1}"
                raise DataError(
                    f"{where}: column {name!r} value {column.iloc[row]!r} is not a number; "
                    f"fix the value or declare the column {name}:token"
                )
            frame[name] = converted.astype(np.float64)
        else:
            frame[name] = column
    frame.attrs["atomic_types"] = dict(fields)
    return frame


def split_seq(series: pd.Series) -> list[list[str]]:
    """Split a ``token_seq``/``float_seq`` column into lists of tokens."""
    return [str(value).split() for value in series]


# ----------------------------------------------------------------------------- CSV / parquet


def file_kind(p: Path) -> str:
    name = p.name.lower()
    base = name[:-3] if name.endswith(".gz") else name
    if base.endswith(_CSV_SUFFIXES):
        return "tsv" if base.endswith(".tsv") else "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    raise DataError(f"{p}: unsupported file type; supported extensions: {_SUPPORTED} (convert the file to one of them)")


def _delimiter_hint(p: Path, available: list[str]) -> str:
    """A hint when a single header column suggests the file uses another delimiter."""
    if len(available) != 1:
        return ""
    for sep in (";", "\t", "|", ","):
        if sep in available[0]:
            return f" (the header looks {sep!r}-separated: pass sep={sep!r})"
    return ""


def check_columns(p: Path, columns: list[str] | None, available: list[str]) -> None:
    if columns is None:
        return
    for column in columns:
        if column not in available:
            raise DataError(
                f"{p}: column {column!r} not found; available columns: {', '.join(map(str, available))}"
                + _delimiter_hint(p, available)
            )


def _csv_error(p: Path, exc: BaseException) -> DataError:
    if isinstance(exc, UnicodeDecodeError):
        fix = "pass encoding=... for a file that is not UTF-8"
    elif isinstance(exc, (EOFError, OSError, zlib.error)):
        fix = "the file is truncated or not valid gzip; download or compress it again"
    else:
        fix = "check the delimiter and quoting (pass sep=...)"
    return DataError(f"{p}: cannot parse as CSV ({first_line(exc)}); {fix}")


def read_table(path: PathLike, columns: list[str] | None = None, **kwargs) -> pd.DataFrame:
    """Read a whole CSV/TSV (optionally ``.gz``) or parquet file into a DataFrame.

    ``columns`` selects (and orders) columns and must all exist; ``kwargs`` go to
    :func:`pandas.read_csv` or :func:`pyarrow.parquet.read_table`.
    """
    p = existing_file(path)
    kind = file_kind(p)
    if kind == "parquet":
        try:
            available = pq.read_schema(p).names
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{p}: not a readable parquet file ({first_line(exc)}); re-write it with pyarrow") from exc
        check_columns(p, columns, available)
        try:
            return pq.read_table(p, columns=columns, **kwargs).to_pandas()
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{p}: not a readable parquet file ({first_line(exc)}); re-write it with pyarrow") from exc
    if kind == "tsv":
        kwargs.setdefault("sep", "\t")
    try:
        if columns is not None:
            available = list(pd.read_csv(p, nrows=0, **kwargs).columns)
            check_columns(p, columns, available)
            frame = pd.read_csv(p, usecols=columns, **kwargs)[list(columns)]
        else:
            frame = pd.read_csv(p, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: file is empty; expected a header line and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError, zlib.error) as exc:
        raise _csv_error(p, exc) from exc
    return frame


def _arrow_csv_reader(
    p: Path,
    column_names: list[str] | None,
    columns: list[str] | None,
    column_types: dict | None,
    delimiter: str,
) -> pacsv.CSVStreamingReader:
    return pacsv.open_csv(
        pa.input_stream(str(p), compression="detect"),
        read_options=pacsv.ReadOptions(column_names=column_names, block_size=1 << 22),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(column_types=column_types, include_columns=columns),
    )


def rechunk(batches: Iterator[pa.RecordBatch], block_rows: int) -> Iterator[pa.Table]:
    """Regroup record batches into tables of exactly ``block_rows`` rows (the last may be short)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= block_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, block_rows)
            rest = table.slice(block_rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending)


def iter_table_blocks(
    path: PathLike,
    block_rows: int = 262_144,
    columns: list[str] | None = None,
    column_types: dict | None = None,
    column_names: list[str] | None = None,
    delimiter: str | None = None,
) -> Iterator[pd.DataFrame]:
    """Stream a CSV/TSV (optionally ``.gz``) or parquet file as DataFrames of ``block_rows`` rows.

    Memory stays bounded by the block size whatever the file size. ``column_types`` maps
    column names to pyarrow types (e.g. ``pa.string()`` for categorical ids); ``column_names``
    names the columns of a headerless CSV (Criteo-style files); ``columns`` selects columns.
    """
    p = existing_file(path)
    if block_rows < 1:
        raise DataError(f"block_rows={block_rows} must be at least 1")
    kind = file_kind(p)
    if kind == "parquet":
        parquet = pq.ParquetFile(p)
        check_columns(p, columns, parquet.schema_arrow.names)
        for batch in parquet.iter_batches(batch_size=block_rows, columns=columns):
            if column_types:
                table = pa.Table.from_batches([batch])
                schema = pa.schema([f.with_type(column_types.get(f.name, f.type)) for f in table.schema])
                batch = table.cast(schema)
            yield batch.to_pandas()
        return
    sep = delimiter or ("\t" if kind == "tsv" else ",")
    try:
        if columns is not None:
            with _arrow_csv_reader(p, column_names, None, None, sep) as probe:
                check_columns(p, columns, probe.schema.names)
        reader = _arrow_csv_reader(p, column_names, columns, column_types, sep)
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise DataError(f"{p}: file is empty; expected a header line and data rows") from None
        raise _csv_error(p, exc) from exc
    with reader:
        try:
            for table in rechunk(iter(reader), block_rows):
                yield table.to_pandas()
        except pa.ArrowInvalid as exc:
            raise DataError(
                f"{p}: cannot parse as CSV ({first_line(exc)}); pass column_types to fix a "
                "column whose type changes after the first block, or check the delimiter"
            ) from exc


def count_rows(path: PathLike, header: bool = True) -> int:
    """Number of data rows: parquet metadata, or newlines counted in binary chunks for CSV.

    Counts lines, so a CSV with quoted multi-line values is over-counted; ``header``
    says whether the first line is a header (not counted).
    """
    p = existing_file(path)
    if file_kind(p) == "parquet":
        return pq.ParquetFile(p).metadata.num_rows
    opener = gzip.open if p.name.lower().endswith(".gz") else open
    lines = 0
    last = b"\n"
    with opener(p, "rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1  # final line without a newline
    return max(lines - int(header), 0)
