"""Streaming data: schema fitting in blocks, StreamingTable batches, shuffling, row ranges, training."""

import gzip
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import mlpzoo
from mlpzoo.data.schema import FeatureSchema
from mlpzoo.data.streaming import (
    CRITEO_COLUMNS,
    StreamingTable,
    criteo_schema,
    fit_schema_streaming,
    write_synthetic_criteo,
)
from mlpzoo.errors import ConfigError, DataError

ROWS, BLOCK = 5000, 1000
CATEGORICAL = CRITEO_COLUMNS[14:]


@pytest.fixture(scope="module")
def criteo(tmp_path_factory):
    path = write_synthetic_criteo(
        tmp_path_factory.mktemp("criteo") / "criteo.tsv", ROWS, seed=3, chunk_rows=1500, max_cardinality=2000
    )
    frame = pd.read_csv(path, sep="\t", header=None, names=CRITEO_COLUMNS, dtype={c: str for c in CATEGORICAL})
    schema = criteo_schema(min_count=2)
    fitted = fit_schema_streaming(schema, path, block_rows=BLOCK, column_names=CRITEO_COLUMNS)
    return path, frame, schema, fitted


def table(path, schema, **kwargs):
    kwargs = {"block_rows": BLOCK, "column_names": CRITEO_COLUMNS, **kwargs}
    return StreamingTable(path, schema, **kwargs)


def collect(batches) -> dict[str, torch.Tensor]:
    batches = list(batches)
    return {k: torch.cat([b[k] for b in batches]) for k in ("categorical", "numeric", "label")}


def rows_sorted(data: dict[str, torch.Tensor]) -> np.ndarray:
    """Rows as integer vectors (ids, numeric bits, label bits), sorted: equal iff same multiset of rows."""
    rows = np.column_stack(
        [data["categorical"].numpy(), data["numeric"].numpy().view(np.int32), data["label"].numpy().view(np.int32)]
    )
    return rows[np.lexsort(rows.T[::-1])]


def assert_same_fit(a: FeatureSchema, b: FeatureSchema) -> None:
    for fa, fb in zip(a.categorical, b.categorical, strict=True):
        assert fa.vocab == fb.vocab, fa.name
        assert [int(c) for c in fa.counts] == [int(c) for c in fb.counts], fa.name
    for fa, fb in zip(a.numeric, b.numeric, strict=True):
        assert fa.stats.keys() == fb.stats.keys()
        for key in fa.stats:
            assert math.isclose(fa.stats[key], fb.stats[key], rel_tol=1e-9, abs_tol=1e-12), (fa.name, key)


def test_generator_has_missing_values_and_clicks(criteo):
    _, frame, _, _ = criteo
    assert frame.shape == (ROWS, 40)
    assert 0.1 < frame["label"].mean() < 0.4
    assert frame[CRITEO_COLUMNS[1:14]].isna().any().sum() >= 5
    assert frame[CATEGORICAL].isna().any().sum() >= 5
    assert frame["C1"].dropna().str.fullmatch(r"[0-9a-f]{8}").all()


def test_fit_streaming_equals_fit_on_whole_frame(criteo):
    path, frame, schema, fitted = criteo
    assert_same_fit(schema.fit(frame), fitted)
    assert any(len(f.vocab) > 50 for f in fitted.categorical)
    # max_rows and row_range fit on those rows only
    assert_same_fit(
        schema.fit(frame.iloc[:3210]),
        fit_schema_streaming(schema, path, block_rows=700, column_names=CRITEO_COLUMNS, max_rows=3210),
    )
    assert_same_fit(
        schema.fit(frame.iloc[1234:4321]),
        fit_schema_streaming(schema, path, block_rows=BLOCK, column_names=CRITEO_COLUMNS, row_range=(1234, 4321)),
    )


def test_unshuffled_batches_equal_tensor_table(criteo):
    path, frame, _, fitted = criteo
    expected = fitted.encode(frame)
    data = table(path, fitted, shuffle_blocks=2)
    assert len(data) == ROWS and data.num_batches(300) == 17
    batches = list(data.iter_batches(300))
    assert len(batches) == 17 and {len(b["label"]) for b in batches[:-1]} == {300}
    got = collect(batches)
    assert batches[0]["categorical"].dtype == torch.int64 and batches[0]["numeric"].dtype == torch.float32
    assert batches[0]["label"].dtype == torch.float32 and batches[0]["sequences"] == {}
    assert torch.equal(got["categorical"], expected.categorical)
    assert torch.equal(got["numeric"], expected.numeric)
    assert torch.equal(got["label"], expected.label)
    assert set(batches[0]) == set(next(expected.iter_batches(300)))


def test_shuffled_epoch_is_a_seeded_permutation(criteo):
    path, _, _, fitted = criteo
    data = table(path, fitted, shuffle_blocks=2)
    plain = collect(data.iter_batches(256))
    batches = list(data.iter_batches(256, shuffle=True, seed=7, epoch=1))
    assert len(batches) == data.num_batches(256) and {len(b["label"]) for b in batches[:-1]} == {256}
    first = collect(batches)
    assert np.array_equal(rows_sorted(first), rows_sorted(plain))
    assert not torch.equal(first["categorical"], plain["categorical"])
    again = collect(data.iter_batches(256, shuffle=True, seed=7, epoch=1))
    assert all(torch.equal(first[k], again[k]) for k in first)
    other = collect(data.iter_batches(256, shuffle=True, seed=7, epoch=2))
    assert not torch.equal(first["categorical"], other["categorical"])
    # rows from different blocks are mixed within a batch
    head = batches[0]["categorical"]
    positions = [int(np.flatnonzero((plain["categorical"] == row).all(1).numpy())[0]) for row in head[:20]]
    assert len({p // BLOCK for p in positions}) > 1


def test_row_ranges_partition_the_rows(criteo):
    path, _, _, fitted = criteo
    plain = collect(table(path, fitted).iter_batches(500))
    bounds = [0, 3333, 4000, ROWS]
    parts = [table(path, fitted, row_range=(a, b)) for a, b in zip(bounds, bounds[1:])]
    assert [len(p) for p in parts] == [3333, 667, 1000]
    assert [p.row_range for p in parts] == [(0, 3333), (3333, 4000), (4000, ROWS)]
    joined = [collect(p.iter_batches(500)) for p in parts]
    for key in plain:
        assert torch.equal(torch.cat([j[key] for j in joined]), plain[key])
    shuffled = collect(parts[1].iter_batches(100, shuffle=True, seed=1))
    assert np.array_equal(rows_sorted(shuffled), rows_sorted(joined[1]))
    # ranges past the end are clipped; empty ranges give no batches
    assert len(table(path, fitted, row_range=(4500, 10**9))) == 500
    empty = table(path, fitted, row_range=(ROWS, ROWS + 10))
    assert len(empty) == 0 and list(empty.iter_batches(10)) == [] and list(empty.iter_batches(10, shuffle=True)) == []
    with pytest.raises(DataError, match="row_range"):
        table(path, fitted, row_range=(10, 5))


@pytest.mark.parametrize("fmt", ["csv_header", "tsv_gz", "parquet"])
def test_other_formats_match(criteo, tmp_path, fmt):
    path, frame, schema, fitted = criteo
    if fmt == "csv_header":
        other, kwargs = tmp_path / "c.csv", {}
        frame.to_csv(other, index=False)
    elif fmt == "tsv_gz":
        other, kwargs = tmp_path / "c.tsv.gz", {"column_names": CRITEO_COLUMNS}
        with gzip.open(other, "wb") as fh:
            fh.write(path.read_bytes())
    else:
        other, kwargs = tmp_path / "c.parquet", {}
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), other, row_group_size=700)
    assert_same_fit(fitted, fit_schema_streaming(schema, other, block_rows=BLOCK, **kwargs))
    kwargs = {"block_rows": BLOCK, "shuffle_blocks": 2, **kwargs}
    expected = collect(table(path, fitted, row_range=(1100, 4100)).iter_batches(400))
    data = StreamingTable(other, fitted, row_range=(1100, 4100), **kwargs)
    got = collect(data.iter_batches(400))
    assert all(torch.equal(got[k], expected[k]) for k in got)
    shuffled = collect(data.iter_batches(400, shuffle=True, seed=3))
    assert np.array_equal(rows_sorted(shuffled), rows_sorted(expected))


def test_errors_name_the_problem(criteo, tmp_path):
    path, _, schema, fitted = criteo
    with pytest.raises(ConfigError, match="no vocabulary"):
        table(path, schema)
    with pytest.raises(DataError, match="delimiter"):
        list(StreamingTable(path, fitted, column_names=CRITEO_COLUMNS, delimiter=",").iter_batches(100))
    gz = tmp_path / "c.tsv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    for source in (path, gz):
        with pytest.raises(DataError, match="'C26' not found"):
            StreamingTable(source, fitted, column_names=CRITEO_COLUMNS[:-1] + ["other"])
    with pytest.raises(ConfigError, match="group"):
        StreamingTable(path, FeatureSchema(**{**fitted.__dict__, "group": "C1"}), column_names=CRITEO_COLUMNS)
    blank = tmp_path / "blank.tsv"
    blank.write_bytes(path.read_bytes().replace(b"\n", b"\n\n", 1))
    with pytest.raises(DataError, match="blank lines"):
        list(StreamingTable(blank, fitted, column_names=CRITEO_COLUMNS).iter_batches(100))


def test_sequence_fields_stream_like_tensor_table(tmp_path):
    rng = np.random.default_rng(0)
    items = np.array([f"i{k}" for k in range(30)])
    frame = pd.DataFrame(
        {
            "item": items[rng.integers(0, 30, 700)],
            "hist": [" ".join(items[rng.integers(0, 30, rng.integers(0, 8))]) for _ in range(700)],
            "x": rng.normal(size=700),
            "label": rng.integers(0, 2, 700),
        }
    )
    path = tmp_path / "seq.csv"
    frame.to_csv(path, index=False)
    frame = pd.read_csv(path, dtype={"item": str, "hist": str})
    assert frame["hist"].isna().any()
    schema = FeatureSchema.from_dict(
        {"categorical": ["item"], "numeric": ["x"], "sequence": [{"name": "hist", "shares": "item", "max_len": 5}]}
    )
    fitted = fit_schema_streaming(schema, path, block_rows=128)
    assert_same_fit(schema.fit(frame), fitted)
    expected = fitted.encode(frame)
    data = StreamingTable(path, fitted, block_rows=128, shuffle_blocks=2)
    batches = list(data.iter_batches(100))
    assert torch.equal(torch.cat([b["sequences"]["hist"] for b in batches]), expected.sequences["hist"])
    shuffled = list(data.iter_batches(100, shuffle=True, seed=1))
    order = torch.cat([b["label"] for b in shuffled])
    hist = torch.cat([b["sequences"]["hist"] for b in shuffled])
    assert len(order) == 700
    assert sorted(map(tuple, hist.tolist())) == sorted(map(tuple, expected.sequences["hist"].tolist()))


def test_trainer_fits_on_streaming_tables(criteo):
    path, _, _, fitted = criteo
    train = table(path, fitted, row_range=(0, 4000), shuffle_blocks=2)
    valid = table(path, fitted, row_range=(4000, ROWS))
    torch.manual_seed(0)
    model = mlpzoo.create_model("dnn", schema=fitted, hidden_units=(16,))
    trainer = mlpzoo.Trainer(
        mlpzoo.get_task("binary_ctr"),
        model,
        {"epochs": 1, "batch_size": 512, "progress": False, "save_checkpoints": False},
    )
    result = trainer.fit(train, valid, test=valid)
    assert result.epochs_run == 1
    assert all(math.isfinite(v) for split in result.metrics.values() for v in split.values())
    assert 0.0 <= result.metrics["valid"]["auc"] <= 1.0
    assert result.metrics["valid"] == result.metrics["test"]
