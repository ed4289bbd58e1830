"""Tests for the libfm, RecBole atomic, CSV and parquet readers: bad input and real files."""

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlpzoo.data.readers import (
    count_rows,
    iter_table_blocks,
    read_atomic,
    read_libfm,
    read_libfm_frame,
    read_table,
    split_seq,
)
from mlpzoo.errors import DataError, DataMissingError

FRAPPE_FIELDS = [
    "user",
    "item",
    "cnt",
    "daytime",
    "weekday",
    "isweekend",
    "homework",
    "cost",
    "weather",
    "country",
]


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


# ----------------------------------------------------------------------------- libfm


def test_libfm_clean_file(tmp_path):
    path = write(tmp_path, "a.libfm", "-1 3:1 10:1 20:1\n1 4:1 11:1 21:1\r\n0 5:1 12:1 22:1.0\n")
    labels, idx = read_libfm(path)
    assert labels.dtype == np.float32 and idx.dtype == np.int64
    np.testing.assert_array_equal(labels, [0, 1, 0])
    np.testing.assert_array_equal(idx, [[3, 10, 20], [4, 11, 21], [5, 12, 22]])


def test_libfm_irregular_whitespace_matches_clean(tmp_path):
    clean = write(tmp_path, "clean.libfm", "1 0:1 7:1\n-1 2:1 8:1\n")
    messy = write(tmp_path, "messy.libfm", "\n1\t0:1   7:1 \n\n-1 2:1\t8:1\n\n")
    for a, b in zip(read_libfm(clean), read_libfm(messy)):
        np.testing.assert_array_equal(a, b)


def test_libfm_truncated_final_line_parses(tmp_path):
    path = write(tmp_path, "t.libfm", "1 0:1 7:1\n0 2:1 8:1")
    labels, idx = read_libfm(path)
    assert idx.shape == (2, 2)
    np.testing.assert_array_equal(idx[-1], [2, 8])


def test_libfm_truncated_final_line_incomplete(tmp_path):
    path = write(tmp_path, "t.libfm", "1 0:1 7:1\n0 2:1 8:")
    with pytest.raises(DataError, match=r"t\.libfm:2: feature '8:' is not idx:value") as err:
        read_libfm(path)
    one_line(err)


def test_libfm_wrong_number_of_fields(tmp_path):
    path = write(tmp_path, "f.libfm", "1 0:1 7:1 9:1\n0 2:1 8:1 9:1\n1 2:1 8:1\n")
    with pytest.raises(
        DataError,
        match=r"f\.libfm:3: expected 3 features, found 2; every libfm line must hold one idx:1 per field",
    ) as err:
        read_libfm(path)
    one_line(err)
    ok = write(tmp_path, "g.libfm", "1 0:1 7:1\n")
    with pytest.raises(DataError, match=r"g\.libfm:1: expected 3 features, found 2"):
        read_libfm(ok, num_fields=3)
    with pytest.raises(DataError, match=r"g\.libfm:1: expected 10 features, found 2"):
        read_libfm(ok, field_names=FRAPPE_FIELDS)
    with pytest.raises(DataError, match="num_fields=3 but 10 field_names"):
        read_libfm(ok, num_fields=3, field_names=FRAPPE_FIELDS)


def test_libfm_non_numeric_label(tmp_path):
    path = write(tmp_path, "l.libfm", "1 0:1\nabc 1:1\n")
    with pytest.raises(DataError, match=r"l\.libfm:2: label 'abc' is not a number") as err:
        read_libfm(path)
    one_line(err)
    path = write(tmp_path, "m.libfm", "1 0:1\n2 1:1\n")
    with pytest.raises(DataError, match=r"m\.libfm:2: label '2' is not -1, 0 or 1"):
        read_libfm(path)


def test_libfm_non_one_value_and_bad_tokens(tmp_path):
    path = write(tmp_path, "v.libfm", "1 0:1 5:1\n1 0:1 5:0.5\n")
    with pytest.raises(DataError, match=r"v\.libfm:2: feature '5:0.5' has value 0.5, not 1; .*one-hot") as err:
        read_libfm(path)
    one_line(err)
    for body, token in [
        ("1 0:1 5\n", "5"),
        ("1 0:1 x:1\n", "x:1"),
        ("1 0:1 1:1:1\n", "1:1:1"),
        ("1 0:1 -3:1\n", "-3:1"),
    ]:
        with pytest.raises(DataError, match=rf"b\.libfm:1: feature '{token}' is not idx:value"):
            read_libfm(write(tmp_path, "b.libfm", body))


def test_libfm_compensating_tokens_rejected(tmp_path):
    # Same space and colon counts as a valid line, but one token holds two colons.
    path = write(tmp_path, "c.libfm", "1 1:1:1 1\n")
    with pytest.raises(DataError, match=r"c\.libfm:1: feature '1:1:1'"):
        read_libfm(path)


def test_libfm_empty_missing_and_non_utf8(tmp_path):
    with pytest.raises(DataError, match=r"e\.libfm: file is empty") as err:
        read_libfm(write(tmp_path, "e.libfm", "\n  \n"))
    one_line(err)
    with pytest.raises(DataMissingError, match=r"nope\.libfm not found"):
        read_libfm(tmp_path / "nope.libfm")
    with pytest.raises(DataError, match=r"u\.libfm:2: line is not UTF-8"):
        read_libfm(write(tmp_path, "u.libfm", b"1 0:1\n1 \xff:1\n"))


def test_libfm_frame(tmp_path):
    a = write(tmp_path, "a.libfm", "1 0:1 5:1\n")
    b = write(tmp_path, "b.libfm", "-1 1:1 6:1\n0 2:1 7:1\n")
    frame = read_libfm_frame([a, b], ["user", "item"])
    assert list(frame.columns) == ["user", "item", "label"]
    assert frame["user"].dtype == np.int64 and frame["label"].dtype == np.float32
    assert frame["item"].tolist() == [5, 6, 7]
    assert frame["label"].tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(DataError, match=r"a\.libfm:1: expected 3 features"):
        read_libfm_frame([a, b], ["user", "item", "extra"])


# ----------------------------------------------------------------------------- atomic


def test_atomic_types_and_quotes(tmp_path):
    path = write(
        tmp_path,
        "x.item",
        'item_id:token\ttitle:token_seq\tscore:float\tvec:float_seq\n007\tSay "Hi", Bob\t4.5\t1 2\n8\tO\'Neil\t\t3\n',
    )
    frame = read_atomic(path)
    assert list(frame.columns) == ["item_id", "title", "score", "vec"]
    assert frame["item_id"].tolist() == ["007", "8"]
    assert frame["title"].tolist() == ['Say "Hi", Bob', "O'Neil"]
    assert frame["score"].dtype == np.float64 and np.isnan(frame["score"].iloc[1])
    assert frame.attrs["atomic_types"] == {
        "item_id": "token",
        "title": "token_seq",
        "score": "float",
        "vec": "float_seq",
    }
    assert split_seq(frame["title"]) == [["Say", '"Hi",', "Bob"], ["O'Neil"]]


def test_atomic_bad_header(tmp_path):
    path = write(tmp_path, "h.inter", "user_id:token\titem_id\n1\t2\n")
    with pytest.raises(DataError, match=r"h\.inter: header column 'item_id' has no ':type'") as err:
        read_atomic(path)
    one_line(err)
    path = write(tmp_path, "k.inter", "user_id:token\trating:int\n1\t2\n")
    with pytest.raises(DataError, match=r"k\.inter: header column 'rating:int' has unknown type 'int'"):
        read_atomic(path)
    with pytest.raises(DataError, match=r"z\.inter: file is empty"):
        read_atomic(write(tmp_path, "z.inter", ""))
    comma = write(tmp_path, "c.inter", "user_id:token,rating:float\n1,2\n")
    with pytest.raises(
        DataError, match=r"c\.inter: header column 'user_id:token,rating:float' has unknown type .*tabs"
    ):
        read_atomic(comma)


def test_atomic_bad_rows(tmp_path):
    path = write(tmp_path, "r.inter", "u:token\tr:float\n1\t2\n\n3\n")
    with pytest.raises(DataError, match=r"r\.inter:4: expected 2 tab-separated values, found 1") as err:
        read_atomic(path)
    one_line(err)
    path = write(tmp_path, "n.inter", "u:token\tr:float\n1\t2\n3\tfive\n")
    with pytest.raises(DataError, match=r"n\.inter:3: column 'r' value 'five' is not a number") as err:
        read_atomic(path)
    one_line(err)


# ----------------------------------------------------------------------------- tables


def test_read_table_csv_tsv_gz_parquet(tmp_path):
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.5, 1.5, 2.5]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_csv(tmp_path / "t.tsv", index=False, sep="\t")
    with gzip.open(tmp_path / "t.csv.gz", "wt") as fh:
        frame.to_csv(fh, index=False)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "t.parquet")
    for name in ("t.csv", "t.tsv", "t.csv.gz", "t.parquet"):
        got = read_table(tmp_path / name)
        assert got["a"].tolist() == [1, 2, 3] and got["b"].tolist() == ["x", "y", "z"], name
        assert list(read_table(tmp_path / name, columns=["c", "a"]).columns) == ["c", "a"], name
        assert count_rows(tmp_path / name) == 3, name


def test_read_table_missing_column(tmp_path):
    path = write(tmp_path, "m.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(DataError, match=r"m\.csv: column 'x' not found; available columns: a, b, c") as err:
        read_table(path, columns=["a", "x"])
    one_line(err)
    pq.write_table(pa.table({"a": [1]}), tmp_path / "m.parquet")
    with pytest.raises(DataError, match=r"m\.parquet: column 'x' not found; available columns: a"):
        read_table(tmp_path / "m.parquet", columns=["x"])


def test_read_table_wrong_delimiter(tmp_path):
    path = write(tmp_path, "s.csv", "a;b;c\n1;2;3\n")
    with pytest.raises(DataError, match=r"s\.csv: column 'a' not found; available columns: a;b;c .*sep=';'") as err:
        read_table(path, columns=["a"])
    one_line(err)
    assert read_table(path, columns=["b"], sep=";")["b"].tolist() == [2]


def test_read_table_bad_files(tmp_path):
    with pytest.raises(DataError, match=r"e\.csv: file is empty") as err:
        read_table(write(tmp_path, "e.csv", ""))
    one_line(err)
    with pytest.raises(
        DataError, match=r"x\.json: unsupported file type; supported extensions: .csv, .*\.parquet"
    ) as err:
        read_table(write(tmp_path, "x.json", "{}"))
    one_line(err)
    with pytest.raises(DataError, match=r"r\.csv: cannot parse as CSV \(Error tokenizing data.*line 3") as err:
        read_table(write(tmp_path, "r.csv", "a,b\n1,2\n3,4,5,6\n"))
    assert "\n" not in str(err.value) and err.value.__cause__ is not None
    with pytest.raises(DataError, match=r"u\.csv: cannot parse as CSV \(.*utf-8.*\); pass encoding=") as err:
        read_table(write(tmp_path, "u.csv", b"a,b\n1,caf\xe9\n"))
    one_line(err)
    with pytest.raises(DataError, match=r"p\.parquet: not a readable parquet file"):
        read_table(write(tmp_path, "p.parquet", b""))
    with pytest.raises(DataMissingError, match=r"gone\.csv not found"):
        read_table(tmp_path / "gone.csv")


def test_iter_blocks_csv_rechunks_and_types(tmp_path):
    n = 10_000
    frame = pd.DataFrame({"id": np.arange(n), "cat": np.arange(n) % 7, "x": np.linspace(0, 1, n)})
    frame.to_csv(tmp_path / "b.csv", index=False)
    blocks = list(
        iter_table_blocks(tmp_path / "b.csv", block_rows=3000, columns=["id", "cat"], column_types={"cat": pa.string()})
    )
    assert [len(b) for b in blocks] == [3000, 3000, 3000, 1000]
    assert list(blocks[0].columns) == ["id", "cat"]
    assert blocks[0]["cat"].iloc[3] == "3"
    assert pd.concat(blocks)["id"].tolist() == list(range(n))
    with pytest.raises(DataError, match=r"b\.csv: column 'nope' not found; available columns: id, cat, x") as err:
        next(iter_table_blocks(tmp_path / "b.csv", columns=["nope"]))
    one_line(err)


def test_iter_blocks_headerless_gz_and_parquet(tmp_path):
    with gzip.open(tmp_path / "h.txt.gz", "wt") as fh:
        fh.write("".join(f"{i % 2}\t{i}\tc{i % 3}\n" for i in range(500)))
    blocks = list(
        iter_table_blocks(tmp_path / "h.txt.gz", block_rows=200, delimiter="\t", column_names=["label", "i1", "c1"])
    )
    assert [len(b) for b in blocks] == [200, 200, 100]
    assert blocks[0].iloc[1].tolist() == [1, 1, "c1"]
    assert count_rows(tmp_path / "h.txt.gz", header=False) == 500
    pq.write_table(pa.table({"a": list(range(50)), "b": [str(i) for i in range(50)]}), tmp_path / "p.pq")
    blocks = list(iter_table_blocks(tmp_path / "p.pq", block_rows=20, columns=["a"], column_types={"a": pa.float64()}))
    assert [len(b) for b in blocks] == [20, 20, 10]
    assert list(blocks[0].columns) == ["a"] and blocks[0]["a"].dtype == np.float64


def test_iter_blocks_bad_files(tmp_path):
    with pytest.raises(DataError, match=r"e\.csv: file is empty") as err:
        list(iter_table_blocks(write(tmp_path, "e.csv", "")))
    one_line(err)
    # A column typed int from the first read block (4 MiB) that turns to text later.
    rows = "a\n" + "1234567\n" * 700_000 + "oops\n"
    with pytest.raises(DataError, match=r"l\.csv: cannot parse as CSV .*pass column_types") as err:
        list(iter_table_blocks(write(tmp_path, "l.csv", rows), block_rows=100_000))
    one_line(err)


def test_count_rows_without_final_newline(tmp_path):
    assert count_rows(write(tmp_path, "n.csv", "a\n1\n2")) == 2
    assert count_rows(write(tmp_path, "z.csv", "")) == 0


# ----------------------------------------------------------------------------- real files


def test_real_frappe(need_data):
    root = need_data("frappe")
    folder = root / "frappe"
    frame = read_libfm_frame([folder / "frappe.validation.libfm", folder / "frappe.test.libfm"], FRAPPE_FIELDS)
    assert len(frame) == 57_722 + 28_860
    assert list(frame.columns) == FRAPPE_FIELDS + ["label"]
    assert set(frame["label"].unique()) == {0.0, 1.0}
    assert frame["user"].between(0, 956).all()
    assert frame["item"].between(957, 5038).all()
    labels, idx = read_libfm(folder / "frappe.test.libfm", num_fields=10)
    assert idx.shape == (28_860, 10) and labels.shape == (28_860,)
    np.testing.assert_array_equal(idx, frame[FRAPPE_FIELDS].to_numpy()[57_722:])


def test_real_movielens(need_data):
    folder = need_data("movielens-100k") / "movielens-100k"
    inter = read_atomic(folder / "ml-100k.inter")
    assert inter.shape == (100_000, 4)
    assert list(inter.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert inter["user_id"].iloc[0] == "196" and inter["rating"].dtype == np.float64
    assert inter["rating"].between(1, 5).all()
    item = read_atomic(folder / "ml-100k.item")
    assert len(item) == 1682 and "class" in item.columns
    assert item.attrs["atomic_types"]["class"] == "token_seq"
    assert "Comedy" in split_seq(item["class"])[0]
    user = read_atomic(folder / "ml-100k.user")
    assert len(user) == 943 and user["user_id"].nunique() == 943


def test_real_csv_tables(need_data):
    root = need_data("ett")
    path = root / "ett" / "ETTh1.csv"
    assert count_rows(path) == 17_420
    frame = read_table(path, columns=["date", "OT"])
    assert frame.shape == (17_420, 2)
    blocks = list(iter_table_blocks(path, block_rows=5000))
    assert [len(b) for b in blocks] == [5000, 5000, 5000, 2420]
    assert list(blocks[0].columns) == ["date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def test_libfm_with_cr_only_line_ends(tmp_path):
    """Old Mac line ends (CR alone) read like LF and CRLF files."""
    from mlpzoo.data.readers import read_libfm

    for name, text in (
        ("lf", b"1 3:1 5:1\n0 2:1 4:1\n"),
        ("crlf", b"1 3:1 5:1\r\n0 2:1 4:1\r\n"),
        ("cr", b"1 3:1 5:1\r0 2:1 4:1\r"),
    ):
        labels, indices = read_libfm(_write_bytes(tmp_path / f"{name}.libfm", text))
        assert labels.tolist() == [1.0, 0.0] and indices.tolist() == [[3, 5], [2, 4]], name


def _write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path
