"""The bad-input corpus (issue 8): malformed data files, configs and tensors.

Every case must raise an mlpzoo error (an :class:`~mlpzoo.errors.MlpzooError`, or a
ValueError/TypeError raised by mlpzoo's own code) whose message is one line, names the field,
file or argument at fault, and says how to fix it -- never a bare traceback from inside torch,
pandas or pyarrow. Cases owned by modules this corpus does not maintain are marked
``xfail(strict=True, reason="owner: <module>")`` until their owner fixes them (none at present).
Issue 18 adds the safety and integrity of runs (``SAFETY_CASES`` and the tests after them): hostile
checkpoints, resumes over changed data, names that leave their root, fits without a step, labels of
the wrong kind, divergence, torn files and full disks.
"""

from __future__ import annotations

import errno
import gzip
import os
import pickle
import re
import signal
import subprocess
import sys
import time
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from click.testing import CliRunner

from mlpzoo.errors import MlpzooError

# Words that show a message says what to do (or what is expected), not only what went wrong.
FIX = re.compile(
    r"\b(use|pass|fix|check|choose|give|set|must|expected?|expects|drop|replace|clean|download|save|"
    r"write|declare|match|encode|resize|build|pick|call|valid|one of|re-\w+|extract|rename|sort|"
    r"load with|run|needs?|only|should|keep|remove|cast|convert|move|put|did you mean)\b",
    re.IGNORECASE,
)


def assert_user_error(err: BaseException, *mentions: str) -> None:
    """``err`` is ours, one line, names every string in ``mentions`` and says how to fix it."""
    if not isinstance(err, MlpzooError):
        assert isinstance(err, (ValueError, TypeError)), f"{type(err).__name__} is not an mlpzoo error: {err}"
        origin = traceback.extract_tb(err.__traceback__)[-1].filename
        assert "/mlpzoo/" in origin.replace("\\", "/"), f"{type(err).__name__} raised from {origin}, not mlpzoo: {err}"
    message = str(err)
    assert message.strip(), "empty error message"
    assert "\n" not in message.strip(), f"message is not one line: {message!r}"
    for text in mentions:
        assert text.lower() in message.lower(), f"message does not name {text!r}: {message}"
    assert FIX.search(message), f"message does not say how to fix it: {message}"


@dataclass
class Case:
    id: str
    run: Callable[[Path], object]  # gets a fresh tmp_path; must raise
    mentions: tuple[str, ...] = ()
    owner: str | None = None  # module that must fix a failing case (xfail until then)


def params(cases: list[Case]):
    out = []
    for case in cases:
        marks = [pytest.mark.xfail(strict=True, reason=f"owner: {case.owner}")] if case.owner else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- shared fixtures


def ctr_schema(sequence: bool = False):
    from mlpzoo.data.schema import CategoricalField, FeatureSchema, NumericField, SequenceField

    frame = pd.DataFrame(
        {
            "user": list("abcabc"),
            "item": list("xyzzyx"),
            "price": [1.0, 2, 3, 4, 5, 6],
            "hist": ["x y", "y", "", "z x", "x", "y z"],
            "label": [0, 1, 0, 1, 1, 0],
        }
    )
    schema = FeatureSchema(
        categorical=[CategoricalField("user", source="user"), CategoricalField("item", source="item")],
        numeric=[NumericField("price")],
        sequence=[SequenceField("hist", shares="item", max_len=3)] if sequence else [],
    )
    return schema.fit(frame), frame


def ctr_batch(sequence: bool = False):
    schema, frame = ctr_schema(sequence)
    return schema, schema.encode(frame).as_batch()


def ctr_model(name: str, sequence: bool = False, **kwargs):
    from mlpzoo.registry import create_model

    schema, batch = ctr_batch(sequence)
    small = {"embedding_dim": 4}
    if name in ("dnn", "deepfm", "dcn", "dcnv2"):
        small["hidden_units"] = (8,)
    if name == "finalmlp":
        small.update(mlp1_hidden_units=(8,), mlp2_hidden_units=(4,), gate_hidden_units=(8,), num_heads=2)
    if name == "din":
        small.update(target_pairs=(("hist", "item"),), attention_hidden_units=(8,), hidden_units=(8,))
    model = create_model(name, schema=schema, **{**small, **kwargs})
    return model.eval(), batch


def replace_in(batch: dict, **changes) -> dict:
    return {**batch, **changes}


# --------------------------------------------------------------------------- data files


def _libfm(text: str | bytes, **kwargs):
    def run(tmp: Path):
        from mlpzoo.data.readers import read_libfm

        return read_libfm(write(tmp / "part.libfm", text), **kwargs)

    return run


def _atomic(text: str | bytes):
    def run(tmp: Path):
        from mlpzoo.data.readers import read_atomic

        return read_atomic(write(tmp / "ml.inter", text))

    return run


def _table(name: str, data: str | bytes, **kwargs):
    def run(tmp: Path):
        from mlpzoo.data.readers import read_table

        return read_table(write(tmp / name, data), **kwargs)

    return run


def _truncated_parquet(tmp: Path):
    from mlpzoo.data.readers import read_table

    path = tmp / "t.parquet"
    pd.DataFrame({"a": np.arange(100), "b": np.arange(100.0)}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:200])
    return read_table(path)


def _truncated_gzip_csv(tmp: Path):
    from mlpzoo.data.readers import read_table

    raw = gzip.compress(("a,b\n" + "".join(f"{i},{i}\n" for i in range(5000))).encode())
    return read_table(write(tmp / "t.csv.gz", raw[: len(raw) // 2]))


def _blocks_zero(tmp: Path):
    from mlpzoo.data.readers import iter_table_blocks

    return list(iter_table_blocks(write(tmp / "t.csv", "a,b\n1,2\n"), block_rows=0))


def _schema_fit_encode(frame: pd.DataFrame, encode: pd.DataFrame | None = None, **fields):
    def run(tmp: Path):
        from mlpzoo.data.schema import FeatureSchema

        schema = FeatureSchema.from_dict(fields)
        fitted = schema.fit(frame)
        return fitted.encode(frame if encode is None else encode, where="test frame")

    return run


def _schema_from_dict(spec: dict):
    def run(tmp: Path):
        from mlpzoo.data.schema import FeatureSchema

        return FeatureSchema.from_dict(spec)

    return run


def _encode_unfitted(tmp: Path):
    from mlpzoo.data.schema import CategoricalField, FeatureSchema

    return FeatureSchema(categorical=[CategoricalField("user")]).encode(pd.DataFrame({"user": ["a"], "label": [1]}))


GOOD = pd.DataFrame({"user": ["a", "b", "a"], "price": [1.0, 2.0, 3.0], "label": [0, 1, 0]})
SCHEMA = {"categorical": ["user"], "numeric": ["price"]}


def _load_files(train: str, valid: str, schema=None):
    def run(tmp: Path):
        from mlpzoo.data.datasets import load_files

        t = write(tmp / "train.csv", train)
        v = write(tmp / "valid.csv", valid)
        return load_files(str(t), str(v), schema or SCHEMA)

    return run


def _load_files_missing(tmp: Path):
    from mlpzoo.data.datasets import load_files

    return load_files(str(tmp / "nope.csv"), str(tmp / "nope2.csv"), SCHEMA)


MPEA_OK = {
    "FORMULA": ["Al0.5 Co1 Fe1", "Co1 Ni1"],
    "PROPERTY: BCC/FCC/other": ["BCC", "FCC"],
    "PROPERTY: YS (MPa)": [300.0, 400.0],
}


def _mpea(target: str = "phase", **columns):
    def run(tmp: Path):
        from mlpzoo.data.mpea import load_mpea

        return load_mpea(target, frame=pd.DataFrame({**MPEA_OK, **columns}))

    return run


def _mpea_file(data: bytes):
    def run(tmp: Path):
        from mlpzoo.data.mpea import load_mpea

        write(tmp / "mpea" / "MPEA_dataset.csv", data)
        return load_mpea("phase", data_dir=tmp)

    return run


def _function(name: str, **kwargs):
    def run(tmp: Path):
        from mlpzoo.data.functions import load_function

        return load_function(name, **kwargs)

    return run


def _evaluate_function(tmp: Path):
    from mlpzoo.data.functions import evaluate_function

    return evaluate_function("f1", np.zeros((4, 3)))


def _idx(images: bytes, labels: bytes):
    def run(tmp: Path):
        from mlpzoo.data.images import load_idx

        return load_idx(write(tmp / "img-idx3-ubyte", images), write(tmp / "lab-idx1-ubyte", labels))

    return run


def _idx_bytes(shape: tuple[int, ...], data_len: int | None = None) -> bytes:
    head = bytes([0, 0, 8, len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)
    return head + bytes(int(np.prod(shape)) if data_len is None else data_len)


def _cifar_batches(payload: bytes | None):
    def run(tmp: Path):
        from mlpzoo.data.images import load_cifar10_batches

        if payload is not None:
            write(tmp / "test_batch", payload)
        return load_cifar10_batches(tmp, "test")

    return run


def _can_zip(members: dict[str, str] | None, raw: bytes | None = None):
    def run(tmp: Path):
        from mlpzoo.data.can import read_can_trace

        path = tmp / "trace.zip"
        if raw is not None:
            write(path, raw)
        else:
            with zipfile.ZipFile(path, "w") as archive:
                for name, text in (members or {}).items():
                    archive.writestr(name, text)
        return read_can_trace(path)

    return run


def _ett(text: str | bytes):
    def run(tmp: Path):
        from mlpzoo.data.ett import load_ett

        write(tmp / "ett" / "ETTh1.csv", text)
        return load_ett("ETTh1", data_dir=tmp)

    return run


ETT_HEAD = "date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT\n"

DATA_CASES = [
    # libfm (Frappe)
    Case("libfm-empty", _libfm(""), ("part.libfm", "empty")),
    Case("libfm-truncated-last-line", _libfm("1 3:1 5:1\n0 2:1 4:"), ("part.libfm:2", "4:")),
    Case("libfm-ragged-line", _libfm("1 3:1 5:1\n0 2:1\n"), ("part.libfm:2", "expected 2 features")),
    Case("libfm-latin1-bytes", _libfm(b"1 3:1 5:1\n0 2:1 \xe9:1\n"), ("part.libfm:2", "UTF-8")),
    Case("libfm-comma-delimiter", _libfm("1,3:1,5:1\n"), ("part.libfm:1", "label")),
    Case("libfm-nan-label", _libfm("nan 3:1 5:1\n"), ("part.libfm:1", "label")),
    Case("libfm-inf-value", _libfm("1 3:inf 5:1\n"), ("part.libfm:1", "3:inf")),
    Case("libfm-float-index", _libfm("1 3.5:1 5:1\n"), ("part.libfm:1", "3.5:1")),
    Case("libfm-num-fields-disagree", _libfm("1 3:1\n", num_fields=3, field_names=["a", "b"]), ("num_fields=3",)),
    Case(
        "libfm-missing-file",
        lambda tmp: __import__("mlpzoo.data.readers", fromlist=["x"]).read_libfm(tmp / "gone.libfm"),
        ("gone.libfm",),
    ),
    # RecBole atomic (MovieLens)
    Case("atomic-empty", _atomic(""), ("ml.inter", "empty")),
    Case("atomic-header-without-types", _atomic("user_id\titem_id\n1\t2\n"), ("ml.inter", "user_id")),
    Case("atomic-comma-delimiter", _atomic("user_id:token,item_id:token\n1,2\n"), ("ml.inter", "tab")),
    Case("atomic-missing-tab", _atomic("user_id:token\trating:float\n1\t4\n2\n"), ("ml.inter:3", "expected 2")),
    Case(
        "atomic-float-not-number", _atomic("user_id:token\trating:float\n1\tfour\n"), ("ml.inter:2", "rating", "four")
    ),
    Case("atomic-latin1-body", _atomic(b"user_id:token\ttitle:token\n1\tCaf\xe9\n"), ("ml.inter", "UTF-8")),
    Case("atomic-latin1-header", _atomic(b"user_id:token\tt\xeftle:token\n1\tx\n"), ("ml.inter", "UTF-8")),
    # CSV / parquet tables
    Case("csv-empty", _table("t.csv", ""), ("t.csv", "empty")),
    Case("csv-wrong-delimiter", _table("t.csv", "a;b\n1;2\n", columns=["a", "b"]), ("t.csv", "'a'", "sep=';'")),
    Case("csv-latin1", _table("t.csv", b"a,b\n1,caf\xe9\n"), ("t.csv", "encoding")),
    Case("csv-ragged-row", _table("t.csv", "a,b\n1,2\n3,4,5,6\n"), ("t.csv",)),
    Case("csv-unsupported-extension", _table("t.xlsx", "a,b\n"), ("t.xlsx", ".csv")),
    Case("csv-gzip-truncated", _truncated_gzip_csv, ("t.csv.gz",)),
    Case("parquet-truncated", _truncated_parquet, ("t.parquet",)),
    Case("blocks-zero-rows", _blocks_zero, ("block_rows=0",)),
    # FeatureSchema fit / encode
    Case(
        "schema-numeric-inf",
        _schema_fit_encode(GOOD, GOOD.assign(price=[1.0, np.inf, 2.0]), **SCHEMA),
        ("price", "infinite"),
    ),
    Case(
        "schema-numeric-nan-fill-error",
        _schema_fit_encode(
            GOOD,
            GOOD.assign(price=[1.0, np.nan, 2.0]),
            categorical=["user"],
            numeric=[{"name": "price", "fill": "error"}],
        ),
        ("price", "NaN"),
    ),
    Case("schema-numeric-text", _schema_fit_encode(GOOD.assign(price=["1", "two", "3"]), **SCHEMA), ("price", "two")),
    Case("schema-numeric-all-nan", _schema_fit_encode(GOOD.assign(price=np.nan), **SCHEMA), ("price",)),
    Case("schema-label-nan", _schema_fit_encode(GOOD, GOOD.assign(label=[0, None, 1]), **SCHEMA), ("label", "row 1")),
    Case("schema-label-text", _schema_fit_encode(GOOD, GOOD.assign(label=["0", "yes", "1"]), **SCHEMA), ("label",)),
    Case("schema-label-inf", _schema_fit_encode(GOOD, GOOD.assign(label=[0.0, np.inf, 1.0]), **SCHEMA), ("label",)),
    Case(
        "schema-missing-column", _schema_fit_encode(GOOD, GOOD.drop(columns="price"), **SCHEMA), ("price", "test frame")
    ),
    Case("schema-encode-before-fit", _encode_unfitted, ("user", "fit")),
    Case("schema-unknown-key", _schema_from_dict({"categorical": ["a"], "lable": "y"}), ("lable",)),
    Case("schema-unknown-field-key", _schema_from_dict({"categorical": [{"name": "a", "min_cnt": 2}]}), ("min_cnt",)),
    Case("schema-fields-not-a-list", _schema_from_dict({"categorical": "user"}), ("categorical",)),
    Case(
        "schema-min-count-wrong-type",
        _schema_from_dict({"categorical": [{"name": "a", "min_count": "two"}]}),
        ("min_count",),
    ),
    Case(
        "schema-max-len-negative",
        _schema_from_dict({"categorical": ["a"], "sequence": [{"name": "h", "shares": "a", "max_len": -5}]}),
        ("max_len",),
    ),
    Case("schema-fill-unknown", _schema_from_dict({"numeric": [{"name": "p", "fill": "median"}]}), ("fill",)),
    Case(
        "schema-normalize-unknown",
        _schema_from_dict({"numeric": [{"name": "p", "normalize": "zscore"}]}),
        ("normalize",),
    ),
    Case(
        "schema-sequence-shares-unknown",
        _schema_from_dict({"categorical": ["a"], "sequence": [{"name": "h", "shares": "b"}]}),
        ("h", "'b'"),
    ),
    Case("schema-field-twice", _schema_from_dict({"categorical": ["a"], "numeric": ["a"]}), ("a", "twice")),
    # load_files (your own CSVs)
    Case("files-missing", _load_files_missing, ("nope.csv",)),
    Case(
        "files-valid-lacks-column",
        _load_files("user,price,label\na,1,0\nb,2,1\n", "user,label\na,0\n"),
        ("valid.csv", "price"),
    ),
    Case(
        "files-schema-unknown-key",
        _load_files("user,label\na,0\n", "user,label\na,0\n", {"categoricals": ["user"]}),
        ("categoricals",),
    ),
    Case("files-train-empty", _load_files("", "user,price,label\na,1,0\n"), ("train.csv", "empty")),
    # MPEA
    Case("mpea-unknown-target", _mpea("hardness"), ("hardness", "phase")),
    Case("mpea-malformed-formula", _mpea(FORMULA=["Al0.5 Xx1", "Co1 Ni1"]), ("row 0", "Xx1")),
    Case("mpea-empty-formula", _mpea(FORMULA=["Al1", ""]), ("row 1", "FORMULA")),
    Case("mpea-unknown-phase", _mpea(**{"PROPERTY: BCC/FCC/other": ["BCC", "HCP"]}), ("HCP",)),
    Case(
        "mpea-infinite-yield-strength",
        _mpea("yield_strength", **{"PROPERTY: YS (MPa)": [300.0, np.inf]}),
        ("YS (MPa)",),
    ),
    Case(
        "mpea-file-latin1",
        _mpea_file(b"FORMULA,PROPERTY: BCC/FCC/other\nAl1 Co1,BCC\nCo1,F\xe9C\n"),
        ("MPEA_dataset.csv",),
    ),
    Case("mpea-file-empty", _mpea_file(b""), ("MPEA_dataset.csv", "empty")),
    # KAN function suite
    Case("function-unknown", _function("f9"), ("f9", "f1")),
    Case("function-negative-size", _function("f1", n_train=-10, n_test=5), ("n_train=-10",)),
    Case("function-wrong-dim", _evaluate_function, ("f1", "(N, 2)")),
    # idx / CIFAR-10 batches
    Case(
        "idx-truncated", _idx(_idx_bytes((2, 28, 28), data_len=100), _idx_bytes((2,))), ("img-idx3-ubyte", "truncated")
    ),
    Case("idx-bad-magic", _idx(b"\x01\x02\x08\x03" + bytes(20), _idx_bytes((2,))), ("img-idx3-ubyte", "magic")),
    Case("idx-count-mismatch", _idx(_idx_bytes((2, 4, 4)), _idx_bytes((3,))), ("img-idx3-ubyte", "lab-idx1-ubyte")),
    Case("idx-empty", _idx(b"", _idx_bytes((2,))), ("img-idx3-ubyte",)),
    Case("cifar-batch-missing", _cifar_batches(None), ("test_batch",)),
    Case("cifar-batch-not-pickle", _cifar_batches(b"this is not a pickle"), ("test_batch",)),
    Case(
        "cifar-batch-wrong-shape",
        _cifar_batches(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})),
        ("test_batch", "3072"),
    ),
    Case(
        "cifar-batch-label-out-of-range",
        _cifar_batches(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [12]})),
        ("test_batch", "0..9"),
    ),
    # CAN traces
    Case("can-not-a-zip", _can_zip(None, raw=b"Timestamp,ID\n"), ("trace.zip", "zip")),
    Case("can-missing-columns", _can_zip({"t.csv": "Timestamp,ID\n1,2\n"}), ("trace.zip", "DLC")),
    Case("can-two-members", _can_zip({"a.csv": "x\n", "b.csv": "y\n"}), ("trace.zip", "one CSV")),
    # ETT
    Case("ett-non-numeric", _ett(ETT_HEAD + "2016-07-01 00:00:00,1,2,3,4,5,6,x7\n"), ("OT", "x7")),
    Case("ett-missing-column", _ett("date,HUFL\n2016-07-01 00:00:00,1\n"), ("HULL",)),
    Case("ett-bad-date", _ett(ETT_HEAD + "yesterday,1,2,3,4,5,6,7\n"), ("date", "yesterday")),
    Case("ett-empty-file", _ett(""), ("ETTh1.csv",)),
    Case("ett-latin1", _ett(ETT_HEAD.encode() + b"2016-07-01 00:00:00,1,2,3,4,5,6,\xe97\n"), ("ETTh1.csv",)),
]


@pytest.mark.parametrize("case", params(DATA_CASES))
def test_bad_data_file(case: Case, tmp_path: Path):
    with pytest.raises(Exception) as info:
        case.run(tmp_path)
    assert_user_error(info.value, *case.mentions)


# --------------------------------------------------------------------------- configs


def _train_config(**values):
    def run(tmp: Path):
        from mlpzoo.config import build_config
        from mlpzoo.train.config import TrainConfig

        return build_config(TrainConfig, values, "train")

    return run


def _create(name: str, **kwargs):
    def run(tmp: Path):
        from mlpzoo.registry import create_model

        return create_model(name, **kwargs)

    return run


def _create_ctr(name: str, **kwargs):
    def run(tmp: Path):
        return ctr_model(name, **kwargs)

    return run


def _task(name: str):
    def run(tmp: Path):
        from mlpzoo.tasks import get_task

        return get_task(name)

    return run


CONFIG_CASES = [
    Case("train-unknown-key", _train_config(epoch=3), ("train", "epoch", "valid keys")),
    Case("train-batch-size-string", _train_config(batch_size="64"), ("train.batch_size", "'64'")),
    Case("train-epochs-float", _train_config(epochs=2.5), ("train.epochs", "2.5")),
    Case("train-deterministic-string", _train_config(deterministic="yes"), ("train.deterministic",)),
    Case("train-batch-size-negative", _train_config(batch_size=-5), ("train.batch_size", "-5")),
    Case("train-eval-batch-size-zero", _train_config(eval_batch_size=0), ("train.eval_batch_size",)),
    Case("train-lr-negative", _train_config(lr=-0.1), ("train.lr",)),
    Case("train-optimizer-unknown", _train_config(optimizer="adamax"), ("train.optimizer", "adamax")),
    Case("train-device-unknown", _train_config(device="tpu"), ("train.device", "tpu")),
    Case("train-lr-decay-out-of-range", _train_config(lr_decay_factor=1.5), ("train.lr_decay_factor",)),
    Case("train-weight-decay-negative", _train_config(weight_decay=-1.0), ("train.weight_decay",)),
    Case("train-grad-clip-negative", _train_config(grad_clip_norm=-1.0), ("train.grad_clip_norm",)),
    Case("train-num-threads-zero", _train_config(num_threads=0), ("train.num_threads",)),
    Case("train-lr-nan", _train_config(lr=float("nan")), ("train.lr",)),
    Case("model-unknown-name", _create("finalmpl"), ("finalmpl", "finalmlp")),
    Case("model-unknown-kwarg", _create("kan_bspline", in_features=2, grid_sise=5), ("grid_sise",)),
    Case("model-kan-negative-width", _create("kan_bspline", in_features=-1), ("in", "-1")),
    Case("model-kan-zero-grid", _create("kan_bspline", in_features=2, grid_size=0), ("grid_size",)),
    Case("model-kan-bad-grid-range", _create("kan_rbf", in_features=2, grid_range=(1, -1)), ("grid_range",)),
    Case(
        "model-kan-unknown-layer",
        lambda tmp: __import__("mlpzoo.models.kan", fromlist=["x"]).KANNet(2, layer="spline"),
        ("layer", "bspline"),
    ),
    Case("model-mlp-negative-hidden", _create("mlp", in_features=4, hidden=(-3,)), ("hidden", "-3")),
    Case("model-mlp-width-string", _create("mlp", in_features="4"), ("in_features", "'4'")),
    Case("model-mlp-dropout-out-of-range", _create("mlp", in_features=4, dropout=1.5), ("dropout", "1.5")),
    Case("model-mlp-unknown-activation", _create("mlp", in_features=4, activation="swishy"), ("swishy", "relu")),
    Case("model-ctr-no-schema", _create("dnn", schema=None), ("schema",)),
    Case("model-ctr-schema-dict", _create("finalmlp", schema={"categorical": ["a"]}), ("schema",)),
    Case("model-ctr-negative-embedding", _create_ctr("dnn", embedding_dim=-2), ("embedding_dim", "-2")),
    Case("model-finalmlp-heads-indivisible", _create_ctr("finalmlp", num_heads=3), ("num_heads=3",)),
    Case("model-finalmlp-unknown-context", _create_ctr("finalmlp", stream1_context=("age",)), ("age",)),
    Case("model-ctr-regularizer-mode", _create_ctr("dnn", regularizer_mode="l1"), ("regularizer_mode",)),
    Case("model-vision-size-not-multiple", _create("mixer", img_size=30), ("img_size=30", "patch=4")),
    Case("model-vision-negative-depth", _create("mixer", depth=-1), ("depth",)),
    Case("task-unknown", _task("ranking"), ("ranking", "binary_ctr")),
]


@pytest.mark.parametrize("case", params(CONFIG_CASES))
def test_bad_config(case: Case, tmp_path: Path):
    with pytest.raises(Exception) as info:
        case.run(tmp_path)
    assert_user_error(info.value, *case.mentions)


# `mlpzoo train CONFIG.yaml`: the CLI turns the error into one red line and exit code 2.


def _files_spec(tmp: Path) -> dict:
    train = write(tmp / "train.csv", "user,price,label\na,1,0\nb,2,1\na,3,1\nb,1,0\n")
    return {
        "data": {"train": str(train), "valid": str(train), "schema": SCHEMA},
        "model": {"name": "dnn", "hidden_units": [4]},
        "train": {"epochs": 1, "run_dir": str(tmp / "runs"), "progress": False, "save_checkpoints": False},
    }


CLI_CASES = [
    ("unknown-section", lambda s: {**s, "optimiser": {"lr": 1}}, (), ("optimiser", "data, model, train")),
    ("not-a-mapping", lambda s: [1, 2, 3], (), ("expected a mapping",)),
    ("invalid-yaml", "model: [unclosed\n", (), ("not valid YAML",)),
    ("train-unknown-key", lambda s: {**s, "train": {**s["train"], "epoch": 3}}, (), ("train", "epoch")),
    (
        "train-batch-size-negative",
        lambda s: {**s, "train": {**s["train"], "batch_size": -5}},
        (),
        ("train.batch_size", "-5"),
    ),
    ("train-lr-string", lambda s: {**s, "train": {**s["train"], "lr": "fast"}}, (), ("train.lr", "fast")),
    ("model-name-missing", lambda s: {**s, "model": {"hidden_units": [4]}}, (), ("model.name",)),
    ("model-unknown", lambda s: {**s, "model": {"name": "dnnn"}}, (), ("dnnn", "dnn")),
    ("model-unknown-argument", lambda s: {**s, "model": {"name": "dnn", "hiden_units": [4]}}, (), ("hiden_units",)),
    ("data-name-and-files", lambda s: {**s, "data": {**s["data"], "name": "frappe"}}, (), ("data", "either name")),
    (
        "data-schema-unknown-key",
        lambda s: {**s, "data": {**s["data"], "schema": {"categorcal": ["user"]}}},
        (),
        ("categorcal",),
    ),
    ("task-unknown", lambda s: {**s, "task": "ranking"}, (), ("ranking",)),
    ("set-malformed", lambda s: s, ("--set", "epochs=3"), ("--set", "SECTION.KEY=VALUE")),
    ("set-negative-epochs", lambda s: s, ("--set", "train.epochs=-1"), ("train.epochs", "-1")),
    # issue 18: malformed --set, wrong-typed sections, a config that is not UTF-8
    ("set-no-equals", lambda s: s, ("--set", "train.epochs"), ("--set", "SECTION.KEY=VALUE")),
    ("set-empty-key", lambda s: s, ("--set", "=3"), ("--set", "SECTION.KEY=VALUE")),
    ("set-empty-field", lambda s: s, ("--set", "train.=3"), ("--set", "SECTION.KEY=VALUE")),
    ("set-nested-key", lambda s: s, ("--set", "train.lr.max=3"), ("--set", "SECTION.KEY=VALUE")),
    ("set-value-not-yaml", lambda s: s, ("--set", "train.epochs=[3"), ("--set", "not valid YAML")),
    ("set-into-scalar-section", lambda s: {**s, "task": "binary_ctr"}, ("--set", "task.name=x"), ("--set", "'task'")),
    ("section-train-scalar", lambda s: {**s, "train": 5}, (), ("train", "mapping")),
    ("section-model-list", lambda s: {**s, "model": ["dnn"]}, (), ("model", "mapping")),
    ("section-data-string", lambda s: {**s, "data": "frappe"}, (), ("data", "mapping")),
    ("section-model-null", lambda s: {**s, "model": None}, (), ("model.name",)),
    ("task-not-a-name", lambda s: {**s, "task": 5}, (), ("task", "5")),
    ("config-not-utf8", b"train:\n  run_name: caf\xe9\n", (), ("UTF-8",)),
    ("train-seed-overflow", lambda s: {**s, "train": {**s["train"], "seed": 2**70}}, (), ("train.seed",)),
    (
        "train-device-cuda-abc",
        lambda s: {**s, "train": {**s["train"], "device": "cuda:abc"}},
        (),
        ("train.device", "cuda:abc"),
    ),
]


@pytest.mark.parametrize("edit, extra, mentions", [pytest.param(*c[1:], id=c[0]) for c in CLI_CASES])
def test_bad_config_through_cli(edit, extra, mentions, tmp_path: Path):
    from mlpzoo.cli import main

    path = tmp_path / "config.yaml"
    if isinstance(edit, bytes):
        path.write_bytes(edit)
    elif isinstance(edit, str):
        path.write_text(edit)
    else:
        path.write_text(yaml.safe_dump(edit(_files_spec(tmp_path))))
    result = CliRunner().invoke(main, ["train", str(path), *extra])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for text in mentions:
        assert text.lower() in lines[0].lower(), lines[0]
    assert FIX.search(lines[0]), lines[0]


# --------------------------------------------------------------------------- tensors


def _ctr_forward(name: str, sequence: bool = False, **changes):
    def run(tmp: Path):
        model, batch = ctr_model(name, sequence)
        bad = {k: (v(batch) if callable(v) else v) for k, v in changes.items()}
        return model(replace_in(batch, **bad))

    return run


def _layer(build: Callable[[], torch.nn.Module], *inputs):
    def run(tmp: Path):
        module = build().eval()
        return module(*[x() if callable(x) else x for x in inputs])

    return run


def _kan(kind: str, x, **kwargs):
    def build():
        from mlpzoo.layers import kan

        cls = {
            "bspline": kan.BSplineKANLinear,
            "rbf": kan.RBFKANLinear,
            "relu": kan.ReLUKANLinear,
            "af": kan.AFKANLinear,
            "grkan": kan.GRKANLinear,
            "selectable": kan.SelectableKANLinear,
        }[kind]
        return cls(4, 3, **kwargs)

    return _layer(build, x)


def _mlp(**kwargs):
    from mlpzoo.layers.mlp import MLP

    return lambda: MLP(4, (8,), 2, **kwargs)


def _vision(name: str, x):
    def run(tmp: Path):
        from mlpzoo.registry import create_model

        model = create_model(name, dim=16, depth=1).eval()
        return model({"x": x})

    return run


def _net(name: str, x, **kwargs):
    def run(tmp: Path):
        from mlpzoo.registry import create_model

        return create_model(name, in_features=4, hidden=(5,), **kwargs).eval()({"x": x})

    return run


def _field_embedding(ids):
    from mlpzoo.layers.fields import FieldEmbedding

    return _layer(lambda: FieldEmbedding([3, 4], 2), ids)


def _gating(*inputs):
    from mlpzoo.layers.gating import FeatureGating

    return _layer(lambda: FeatureGating(6, 4, (8,)), *inputs)


def _fusion(*inputs):
    from mlpzoo.layers.fusion import BilinearFusion

    return _layer(lambda: BilinearFusion(4, 6, num_heads=2), *inputs)


def _interaction(kind: str, x):
    from mlpzoo.layers import interaction

    build = {
        "fm": interaction.FactorizationMachine,
        "cross": lambda: interaction.CrossNetwork(6, 2),
        "cross2": lambda: interaction.CrossNetworkV2(6, 2),
    }[kind]
    return _layer(build, x)


def _attention_unit(*inputs):
    from mlpzoo.layers.interest import LocalActivationUnit

    return _layer(lambda: LocalActivationUnit(4, (8,), activation="prelu"), *inputs)


def _loss(task: str, outputs, label):
    def run(tmp: Path):
        from mlpzoo.tasks import get_task

        return get_task(task).loss(outputs, {"label": label})

    return run


def _array_data(x, y):
    def run(tmp: Path):
        from mlpzoo.data.tensors import ArrayData

        return ArrayData(x, y)

    return run


def _tensor_table(tmp: Path):
    from mlpzoo.data.tensors import TensorTable

    return TensorTable(torch.zeros(4, 2, dtype=torch.long), torch.zeros(3, 1), {}, torch.zeros(4))


META = torch.device("meta")

TENSOR_CASES = [
    # CTR models (batches from TensorTable)
    Case(
        "ctr-wrong-field-count",
        _ctr_forward("dnn", categorical=lambda b: b["categorical"][:, :1]),
        ("batch['categorical']", "user"),
    ),
    Case(
        "ctr-float-ids",
        _ctr_forward("deepfm", categorical=lambda b: b["categorical"].float()),
        ("batch['categorical']", "integer"),
    ),
    Case("ctr-1d-ids", _ctr_forward("dcn", categorical=lambda b: b["categorical"][:, 0]), ("batch['categorical']",)),
    Case(
        "ctr-ids-out-of-range",
        _ctr_forward("finalmlp", categorical=lambda b: b["categorical"] + 1000),
        ("ids", "embedding table"),
    ),
    Case(
        "ctr-negative-ids",
        _ctr_forward("dcnv2", categorical=lambda b: b["categorical"] - 1000),
        ("ids", "embedding table"),
    ),
    Case(
        "ctr-numeric-wrong-width",
        _ctr_forward("dnn", numeric=lambda b: torch.zeros(len(b["label"]), 3)),
        ("batch['numeric']", "price"),
    ),
    Case(
        "ctr-numeric-1d", _ctr_forward("dualmlp", numeric=lambda b: b["numeric"][:, 0]), ("batch['numeric']", "price")
    ),
    Case("ctr-numeric-missing", _ctr_forward("dnn", numeric=None), ("batch['numeric']",)),
    Case("ctr-numeric-wrong-rows", _ctr_forward("dnn", numeric=lambda b: b["numeric"][:2]), ("batch['numeric']",)),
    Case("ctr-sequence-missing", _ctr_forward("din", sequence=True, sequences={}), ("hist",)),
    Case(
        "ctr-sequence-1d",
        _ctr_forward("din", sequence=True, sequences=lambda b: {"hist": b["sequences"]["hist"][:, 0]}),
        ("hist",),
    ),
    Case(
        "ctr-sequence-wrong-rows",
        _ctr_forward("din", sequence=True, sequences=lambda b: {"hist": b["sequences"]["hist"][:2]}),
        ("hist",),
    ),
    Case(
        "ctr-sequence-float",
        _ctr_forward("din", sequence=True, sequences=lambda b: {"hist": b["sequences"]["hist"].float()}),
        ("hist",),
    ),
    Case("ctr-batch-is-tensor", lambda tmp: ctr_model("dnn")[0](torch.zeros(2, 2)), ("batch",)),
    # KAN layers and nets
    Case("kan-bspline-wrong-width", _kan("bspline", torch.zeros(2, 5)), ("BSplineKANLinear", "4")),
    Case("kan-bspline-nan", _kan("bspline", torch.full((2, 4), float("nan"))), ("BSplineKANLinear", "NaN")),
    Case("kan-bspline-int-dtype", _kan("bspline", torch.zeros(2, 4, dtype=torch.long)), ("BSplineKANLinear", "float")),
    Case("kan-rbf-wrong-width", _kan("rbf", torch.zeros(2, 3)), ("RBFKANLinear",)),
    Case("kan-rbf-int-dtype", _kan("rbf", torch.zeros(2, 4, dtype=torch.int32)), ("RBFKANLinear", "float")),
    Case("kan-relu-wrong-width", _kan("relu", torch.zeros(2, 7)), ("ReLUKANLinear",)),
    Case("kan-af-wrong-width", _kan("af", torch.zeros(2, 7)), ("AFKANLinear",)),
    Case("kan-af-int-dtype", _kan("af", torch.zeros(2, 4, dtype=torch.long)), ("AFKANLinear", "float")),
    Case("kan-grkan-wrong-width", _kan("grkan", torch.zeros(2, 7), groups=2), ("7",)),
    Case("kan-grkan-int-dtype", _kan("grkan", torch.zeros(2, 4, dtype=torch.long), groups=2), ("float",)),
    Case("kan-selectable-wrong-width", _kan("selectable", torch.zeros(2, 7)), ("SelectableKANLinear",)),
    Case("kan-selectable-meta-device", _kan("selectable", torch.zeros(2, 4, device=META)), ("device",)),
    Case("kan-bspline-meta-device", _kan("bspline", torch.zeros(2, 4, device=META)), ("device",)),
    Case("kannet-wrong-width", _net("kan_rbf", torch.zeros(3, 6)), ("4",)),
    Case(
        "kannet-missing-x",
        lambda tmp: (
            __import__("mlpzoo.registry", fromlist=["x"])
            .create_model("kan_relu", in_features=4)
            .eval()({"features": torch.zeros(2, 4)})
        ),
        ("x",),
    ),
    Case("densemlp-wrong-width", _net("mlp", torch.zeros(3, 6)), ("4",)),
    # MLP and CTR building blocks
    Case("mlp-wrong-width", _layer(_mlp(), torch.zeros(2, 5)), ("MLP", "4")),
    Case("mlp-int-dtype", _layer(_mlp(), torch.zeros(2, 4, dtype=torch.long)), ("MLP", "float")),
    Case("mlp-meta-device", _layer(_mlp(), torch.zeros(2, 4, device=META)), ("MLP", "device")),
    Case("mlp-scalar", _layer(_mlp(), torch.tensor(1.0)), ("MLP",)),
    Case("field-embedding-float-ids", _field_embedding(torch.zeros(2, 2)), ("FieldEmbedding", "integer")),
    Case(
        "field-embedding-wrong-fields", _field_embedding(torch.zeros(2, 3, dtype=torch.long)), ("FieldEmbedding", "2")
    ),
    Case("field-embedding-out-of-range", _field_embedding(torch.tensor([[0, 99]])), ("FieldEmbedding",)),
    Case("gating-missing-context", _gating(torch.zeros(2, 6)), ("FeatureGating", "context")),
    Case("gating-wrong-context-width", _gating(torch.zeros(2, 6), torch.zeros(2, 5)), ("FeatureGating", "context")),
    Case("gating-wrong-feature-width", _gating(torch.zeros(2, 7), torch.zeros(2, 4)), ("FeatureGating", "6")),
    Case("fusion-wrong-width", _fusion(torch.zeros(2, 5), torch.zeros(2, 6)), ("BilinearFusion", "4")),
    Case("fusion-batch-mismatch", _fusion(torch.zeros(2, 4), torch.zeros(3, 6)), ("BilinearFusion",)),
    Case("fm-2d-input", _interaction("fm", torch.zeros(2, 6)), ("FactorizationMachine", "(batch, fields, dim)")),
    Case("cross-wrong-width", _interaction("cross", torch.zeros(2, 5)), ("CrossNetwork", "6")),
    Case("cross2-wrong-width", _interaction("cross2", torch.zeros(2, 5)), ("CrossNetworkV2", "6")),
    Case(
        "attention-unit-mask-shape",
        _attention_unit(torch.zeros(2, 4), torch.zeros(2, 3, 4), torch.ones(2, 5, dtype=torch.bool)),
        ("LocalActivationUnit", "mask"),
    ),
    Case(
        "attention-unit-mask-not-bool",
        _attention_unit(torch.zeros(2, 4), torch.zeros(2, 3, 4), torch.ones(2, 3)),
        ("LocalActivationUnit", "mask"),
    ),
    Case(
        "attention-unit-target-width",
        _attention_unit(torch.zeros(2, 5), torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool)),
        ("LocalActivationUnit", "target"),
    ),
    # tasks and data containers
    Case("regression-label-shape", _loss("regression", torch.zeros(4), torch.zeros(4, 3)), ("label",)),
    Case(
        "classification-label-out-of-range",
        _loss("classification", torch.zeros(4, 3), torch.tensor([0, 1, 2, 7])),
        ("label", "3"),
    ),
    Case(
        "classification-outputs-1d", _loss("classification", torch.zeros(4), torch.tensor([0, 1, 0, 1])), ("outputs",)
    ),
    Case("ctr-label-shape", _loss("binary_ctr", torch.zeros(4), torch.zeros(4, 2)), ("label",)),
    Case("array-data-row-mismatch", _array_data(torch.zeros(4, 2), torch.zeros(3)), ("x", "label")),
    Case("array-data-numpy", _array_data(np.zeros((4, 2)), np.zeros(4)), ("ArrayData", "tensor")),
    Case("tensor-table-row-mismatch", _tensor_table, ("TensorTable", "numeric")),
    # vision models (owner: models/vision.py and layers/patch.py)
    Case("vision-wrong-channels", _vision("mixer", torch.zeros(2, 1, 32, 32)), ("in_chans",)),
    Case("vision-no-batch-dim", _vision("ms_mlp", torch.zeros(3, 32, 32)), ("(B, C, H, W)",)),
    Case("vision-wrong-size", _vision("strip_mlp", torch.zeros(1, 3, 64, 64)), ("img_size",)),
    Case("vision-uint8-images", _vision("dsm", torch.zeros(1, 3, 32, 32, dtype=torch.uint8)), ("float",)),
    Case("vision-meta-device", _vision("raftmlp", torch.zeros(1, 3, 32, 32, device=META)), ("device",)),
]


@pytest.mark.parametrize("case", params(TENSOR_CASES))
def test_bad_tensor(case: Case, tmp_path: Path):
    with pytest.raises(Exception) as info:
        case.run(tmp_path)
    assert_user_error(info.value, *case.mentions)


# --------------------------------------------------------------------------- issue 18: safety and integrity of runs
# Hostile or careless use of runs: checkpoints that run code, resumes over changed data, paths that
# escape their root, fits that take no step, labels of the wrong kind, divergence, torn files, full disks.

CSV = "user,price,label\n" + "".join(f"{'ab'[i % 2]},{i % 5},{i % 2}\n" for i in range(16))


def _files_spec18(tmp: Path, train_csv: str = CSV, valid_csv: str | None = None, schema=None, **train) -> dict:
    t = write(tmp / "data" / "train.csv", train_csv)
    v = write(tmp / "data" / "valid.csv", valid_csv) if valid_csv is not None else t
    return {
        "data": {"train": str(t), "valid": str(v), "schema": schema or SCHEMA},
        "model": {"name": "dnn", "hidden_units": [4]},
        "train": {
            "epochs": 1,
            "batch_size": 4,
            "run_dir": str(tmp / "runs"),
            "run_name": "r",
            "progress": False,
            **train,
        },
    }


def _run_spec(spec: dict):
    from mlpzoo.train.from_config import run_config

    return run_config(spec, source="cfg.yaml")


def _fit_files(train_csv: str = CSV, valid_csv: str | None = None, schema=None, **train):
    return lambda tmp: _run_spec(_files_spec18(tmp, train_csv, valid_csv, schema, **train))


def _array_fit(x=None, y=None, task: str = "regression", run_config: dict | None = None, callbacks=(), **config):
    """A Trainer fit of the registered ``mlp`` on small dense data (a run directory under tmp/runs unless told)."""

    def run(tmp: Path):
        from mlpzoo.data.tensors import ArrayData
        from mlpzoo.registry import create_model
        from mlpzoo.tasks import get_task
        from mlpzoo.train.trainer import Trainer

        xs = torch.linspace(-1, 1, 64).reshape(16, 4) if x is None else x
        ys = xs.sum(1) if y is None else y
        model = create_model("mlp", in_features=xs.shape[1], out_features=1 if task == "regression" else 2, hidden=(8,))
        cfg = {"epochs": 2, "batch_size": 8, "progress": False, "run_dir": str(tmp / "runs"), "run_name": "r", **config}
        spec = run_config or {
            "model": {"name": "mlp", "in_features": xs.shape[1], "out_features": 1, "hidden": [8]},
            "task": task,
        }
        data = ArrayData(xs, ys)
        return Trainer(get_task(task), model, cfg, run_config=spec).fit(data, data, callbacks=callbacks)

    return run


class _Exploit:
    """Unpickling this runs a shell command that creates ``marker`` (what a hostile checkpoint does)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _plant_exploit(run_dir: Path) -> Path:
    """Replace best.pt and last.pt by hostile checkpoints (with a valid checksum footer); returns the marker path."""
    from mlpzoo.train.checkpoint import save_checkpoint

    marker = run_dir.parent / "exploit-ran"
    for name in ("best.pt", "last.pt"):
        save_checkpoint({"model": _Exploit(marker), "state": _Exploit(marker)}, run_dir / name)
    return marker


def _hostile(reader: str):
    def run(tmp: Path):
        _array_fit()(tmp)
        run_dir = tmp / "runs" / "r"
        _plant_exploit(run_dir)
        if reader == "export":
            from mlpzoo.export import export_run

            return export_run(run_dir)
        return _array_fit(epochs=3)(tmp)  # resume: the fingerprint matches, then last.pt is read

    return run


def _append_rows(tmp: Path):
    spec = _files_spec18(tmp)
    _run_spec(spec)
    with open(spec["data"]["train"], "a") as handle:
        handle.write("c,9,1\nc,8,0\n")
    return _run_spec({**spec, "train": {**spec["train"], "epochs": 2}})


def _second_writer(tmp: Path):
    from mlpzoo.train.rundir import RunDir

    holder = RunDir.under(tmp / "runs", "r")
    holder.lock()
    try:
        return _array_fit()(tmp)
    finally:
        holder.release()


def _diverge(tmp: Path):
    return _array_fit(optimizer="sgd", lr=1e12, grad_clip_norm=None)(tmp)


def _disk_error(code: int):
    def run(tmp: Path):
        from unittest import mock

        with mock.patch("os.fsync", side_effect=OSError(code, os.strerror(code))):
            return _array_fit()(tmp)

    return run


def _tune_study(name: str):
    def run(tmp: Path):
        from mlpzoo.tune import tune

        spec = {**_files_spec18(tmp), "tune": {"train.lr": {"type": "float", "low": 1e-3, "high": 1e-2}}}
        return tune(spec, "search.yaml", trials=1, study_name=name, log=lambda line: None)

    return run


def _export_to(name: str, force: bool = False):
    def run(tmp: Path):
        from mlpzoo.export import export_run

        _array_fit()(tmp)
        run_dir = tmp / "runs" / "r"
        target = run_dir / name
        if not target.exists():
            write(target, "keep me")
        return export_run(run_dir, target, force=force)

    return run


def _torn(name: str, keep: int):
    """Train a CTR run from files, cut ``name`` after ``keep`` bytes, then rebuild the model for export."""

    def run(tmp: Path):
        from mlpzoo.export import load_run_model

        _run_spec(_files_spec18(tmp))
        path = tmp / "runs" / "r" / name
        path.write_bytes(path.read_bytes()[:keep])
        return load_run_model(path.parent)

    return run


def _torn_metrics(tmp: Path):
    from mlpzoo.train.rundir import RunDir

    write(tmp / "r" / "metrics.jsonl", '{"epoch": 1, "train_loss": 0.5}\n{"epoch": 2, "train_lo')
    return RunDir(tmp / "r").read_metrics()


def _run_dir_is_file(tmp: Path):
    write(tmp / "runs", "not a folder")
    return _array_fit()(tmp)


def _estimator(cls: str, **params):
    def run(tmp: Path):
        import mlpzoo.sklearn as estimators

        rng = np.random.default_rng(0)
        X = rng.normal(size=(60, 3))
        y = (X[:, 0] > 0).astype(int)
        return getattr(estimators, cls)(epochs=2, **params).fit(X, y)

    return run


SAFETY_CASES = [
    # checkpoints never run code (the checksum footer is valid: it is no defence)
    Case("checkpoint-exploit-export", _hostile("export"), ("best.pt", "refused")),
    Case("checkpoint-exploit-resume", _hostile("resume"), ("last.pt", "refused")),
    # resume checks the data; a refused run overwrites nothing
    Case("resume-after-rows-appended", _append_rows, ("train.csv", "cannot resume", "train.resume: false")),
    Case(
        "resume-other-model",
        lambda tmp: (
            _array_fit()(tmp),
            _array_fit(run_config={"model": {"name": "mlp", "hidden": [16]}, "task": "regression"})(tmp),
        ),
        ("configuration", "cannot resume"),
    ),
    # fits that take no optimisation step
    Case("no-step-batch-size-1", _array_fit(batch_size=1), ("batch_size 1", "world size 1")),
    Case(
        "no-step-one-row-file",
        _fit_files("user,price,label\na,1,1\n", "user,price,label\na,1,1\nb,2,0\n"),
        ("1 training row", "batch_size 4"),
    ),
    Case(
        "no-step-header-only-file",
        _fit_files("user,label\n", "user,label\na,1\nb,0\n", {"categorical": ["user"]}),
        ("0 training row",),
    ),
    Case(
        "no-step-estimator-batch-size-1",
        _estimator("MLPZooClassifier", batch_size=1),
        ("MLPZooClassifier", "batch_size=1"),
    ),
    # labels per task
    Case("labels-minus-one-plus-one", _fit_files(CSV.replace(",0\n", ",-1\n")), ("train", "-1", "binary_ctr")),
    Case("labels-zero-two", _fit_files(CSV.replace(",1\n", ",2\n")), ("train", "2", "0 or 1")),
    Case("labels-fraction", _fit_files(CSV.replace("a,0,0\n", "a,0,0.25\n")), ("0.25",)),
    Case("labels-valid-one-class", _fit_files(CSV, "user,price,label\na,1,0\nb,2,0\n"), ("valid", "only label 0")),
    Case("labels-train-one-class", _fit_files(CSV.replace(",1\n", ",0\n"), CSV), ("train", "only label 0")),
    Case(
        "labels-negative-class-id",
        _array_fit(y=torch.tensor([-1, 0, 1, 0] * 4), task="classification"),
        ("-1", "class ids"),
    ),
    # names confined to their root
    Case("run-name-parent", _train_config(run_name="../victim"), ("train.run_name", "../victim")),
    Case("run-name-absolute", _train_config(run_name="/tmp/victim"), ("train.run_name", "/tmp/victim")),
    Case("run-name-separator", _train_config(run_name="a/b"), ("train.run_name", "a/b")),
    Case("tune-study-parent", _tune_study("../../x"), ("--study", "../../x")),
    Case("tune-study-absolute", _tune_study("/tmp/x"), ("--study", "/tmp/x")),
    Case(
        "tune-seed-overflow",
        lambda tmp: __import__("mlpzoo.tune", fromlist=["x"]).parse_search_space(
            {"seed": 2**70, "train.lr": {"type": "float", "low": 1e-3, "high": 1e-2}}
        ),
        ("tune.seed",),
    ),
    Case("export-over-best-checkpoint", _export_to("best.pt", force=True), ("best.pt", "checkpoint")),
    Case("export-over-existing-file", _export_to("notes.onnx"), ("notes.onnx", "--force")),
    # one writer per run directory
    Case("second-writer", _second_writer, ("in use by process", str(os.getpid()))),
    # divergence
    Case("loss-diverges", _diverge, ("diverged", "epoch 1", "step", "lr")),
    Case("estimator-diverges", _estimator("MLPZooRegressor", learning_rate=1e30), ("diverged",)),
    # values that crashed deep inside torch or went unused
    Case("train-seed-overflow", _train_config(seed=2**70), ("train.seed",)),
    Case("train-seed-negative", _train_config(seed=-1), ("train.seed",)),
    Case("train-device-cuda-abc", _train_config(device="cuda:abc"), ("train.device", "cuda:abc")),
    Case("train-num-threads-huge", _train_config(num_threads=10**9), ("train.num_threads",)),
    Case("train-init-unknown", _train_config(init="random"), ("train.init",)),
    Case("tracking-uri-without-tracking", _train_config(tracking_uri="sqlite:///x.db"), ("tracking_uri", "tracking")),
    Case(
        "tracking-uri-unknown-scheme",
        _train_config(tracking="mlflow", tracking_uri="ftp://host/x"),
        ("tracking_uri", "ftp"),
    ),
    Case(
        "tracking-uri-sqlite-two-slashes",
        _train_config(tracking="mlflow", tracking_uri="sqlite://x.db"),
        ("sqlite:///",),
    ),
    Case("tracking-uri-no-host", _train_config(tracking="mlflow", tracking_uri="http://"), ("host",)),
    Case(
        "tracking-uri-tensorboard-url",
        _train_config(tracking="tensorboard", tracking_uri="http://host:6006"),
        ("folder",),
    ),
    Case(
        "train-section-a-list",
        lambda tmp: __import__("mlpzoo.config", fromlist=["x"]).build_config(
            __import__("mlpzoo.train.config", fromlist=["x"]).TrainConfig, [1, 2], "train"
        ),
        ("train", "mapping"),
    ),
    # disks and files
    Case("disk-full", _disk_error(errno.ENOSPC), ("No space left", "run_dir")),
    Case("disk-read-only", _disk_error(errno.EROFS), ("Read-only", "run_dir")),
    Case("run-dir-is-a-file", _run_dir_is_file, ("train.run_dir", "is a file")),
    Case("torn-metrics-jsonl", _torn_metrics, ("metrics.jsonl:2",)),
    Case("torn-schema-json", _torn("schema.json", 40), ("schema.json", "JSON")),
    Case("torn-config-yaml", _torn("config.yaml", 30), ("config.yaml",)),
    Case(
        "config-not-utf8",
        lambda tmp: __import__("mlpzoo.config", fromlist=["x"]).read_yaml_file(
            write(tmp / "c.yaml", b"train:\n  lr: 1e-3 # caf\xe9\n")
        ),
        ("c.yaml", "UTF-8"),
    ),
    # models and estimators
    Case(
        "mlp-layer-hidden-int",
        lambda tmp: __import__("mlpzoo.layers.mlp", fromlist=["x"]).MLP(4, 5, 2),
        ("hidden_units=5",),
    ),
    Case("model-mlp-hidden-int", _create("mlp", in_features=4, hidden=5), ("hidden=5",)),
    Case("estimator-hidden-int", _estimator("MLPZooClassifier", hidden=5), ("MLPZooClassifier", "hidden=5")),
    Case(
        "mlp-empty-batch",
        lambda tmp: (
            __import__("mlpzoo.registry", fromlist=["x"])
            .create_model("mlp", in_features=4)
            .eval()({"x": torch.zeros(0, 4)})
        ),
        ("0 rows",),
    ),
    Case(
        "estimator-validation-fraction",
        _estimator("MLPZooClassifier", validation_fraction=1.5),
        ("MLPZooClassifier", "validation_fraction=1.5"),
    ),
    Case(
        "estimator-ctr-validation-fraction",
        lambda tmp: (
            __import__("mlpzoo.sklearn", fromlist=["x"])
            .CTRClassifier(validation_fraction=1.5)
            .fit(pd.DataFrame({"u": list("abab")}), [0, 1, 0, 1])
        ),
        ("CTRClassifier", "validation_fraction=1.5"),
    ),
]


@pytest.mark.parametrize("case", params(SAFETY_CASES))
def test_safety_case(case: Case, tmp_path: Path):
    with pytest.raises(Exception) as info:
        case.run(tmp_path)
    assert_user_error(info.value, *case.mentions)


@pytest.mark.parametrize(
    "reader", ["export", "export-cli", "load_run_model", "resume", "train-cli", "report-cli", "load_checkpoint"]
)
def test_hostile_checkpoint_runs_nothing(reader: str, tmp_path: Path):
    """best.pt and last.pt whose unpickling would run a shell command: every reader refuses them (or never
    unpickles them) and the command never runs."""
    from mlpzoo.cli import main

    spec = _files_spec18(tmp_path)
    _run_spec(spec)
    run_dir = tmp_path / "runs" / "r"
    marker = _plant_exploit(run_dir)
    config = write(tmp_path / "r.yaml", yaml.safe_dump({**spec, "train": {**spec["train"], "epochs": 2}}))
    if reader.endswith("-cli"):
        args = {
            "export-cli": ["export", str(run_dir)],
            "train-cli": ["train", str(config)],
            "report-cli": ["report", str(run_dir), "--output", str(tmp_path / "report.md")],
        }[reader]
        result = CliRunner().invoke(main, args)
        if reader != "report-cli":  # report reads result.json and metrics.jsonl only
            assert result.exit_code == 2 and "refused" in result.output, result.output
    else:
        with pytest.raises(MlpzooError) as info:
            if reader == "export":
                __import__("mlpzoo.export", fromlist=["x"]).export_run(run_dir)
            elif reader == "load_run_model":
                __import__("mlpzoo.export", fromlist=["x"]).load_run_model(run_dir)
            elif reader == "resume":
                _run_spec({**spec, "train": {**spec["train"], "epochs": 2}})
            else:
                __import__("mlpzoo.train.checkpoint", fromlist=["x"]).load_checkpoint(run_dir / "last.pt")
        assert_user_error(info.value, "refused")
    assert not marker.exists(), "the hostile checkpoint ran its command"


def test_refused_resume_overwrites_nothing(tmp_path: Path):
    """Rows appended to the training file: the resume is refused and every file of the run is as it was."""
    spec = _files_spec18(tmp_path)
    _run_spec(spec)
    run_dir = tmp_path / "runs" / "r"
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    assert {"schema.json", "result.json", "last.pt", "best.pt", "fingerprint.json"} <= set(before)
    with open(spec["data"]["train"], "a") as handle:
        handle.write("c,9,1\nc,8,0\n")
    with pytest.raises(MlpzooError, match="training file"):
        _run_spec(spec)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_same_config_resumes_from_another_path(tmp_path: Path, monkeypatch):
    """The fingerprint is on content: the same data under another path, run from another directory, resumes."""
    first = _files_spec18(tmp_path / "a", epochs=1)
    first["train"]["run_dir"] = str(tmp_path / "runs")
    assert _run_spec(first).resumed_from_epoch is None
    moved = _files_spec18(tmp_path / "b", epochs=2)
    moved["train"]["run_dir"] = "../runs"
    monkeypatch.chdir(tmp_path / "b")
    result = _run_spec(moved)
    assert result.resumed_from_epoch == 1 and result.epochs_run == 2


def test_failed_write_leaves_no_temporary_file(tmp_path: Path):
    with pytest.raises(MlpzooError, match="No space left"):
        _disk_error(errno.ENOSPC)(tmp_path)
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]


def test_diverged_run_keeps_its_last_good_checkpoint(tmp_path: Path):
    from mlpzoo.train.checkpoint import load_checkpoint

    def poison(epoch: int, record: dict) -> None:  # after epoch 1 is checkpointed, the weights turn to NaN
        for parameter in model_params:
            parameter.data.fill_(float("nan"))

    model_params = []
    fit = _array_fit(epochs=3, callbacks=[poison])

    def grab(tmp):
        import mlpzoo.train.trainer as trainer

        original = trainer.Trainer._make_optimizer

        def remember(self):
            model_params.extend(self.model.parameters())
            return original(self)

        trainer.Trainer._make_optimizer = remember
        try:
            return fit(tmp)
        finally:
            trainer.Trainer._make_optimizer = original

    with pytest.raises(MlpzooError) as info:
        grab(tmp_path)
    assert_user_error(info.value, "diverged", "epoch 2")
    saved = load_checkpoint(tmp_path / "runs" / "r" / "last.pt")
    assert saved["state"]["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in saved["model"].values())


def test_yaml_exponent_is_a_float(tmp_path: Path):
    """PyYAML reads ``lr: 1e-3`` as a string; mlpzoo's loader and build_config read it as the number."""
    from mlpzoo.config import build_config, read_yaml_file
    from mlpzoo.train.config import TrainConfig

    spec = read_yaml_file(write(tmp_path / "c.yaml", "train:\n  lr: 1e-3\n  min_lr: 5E-6\n"))
    assert spec["train"] == {"lr": 1e-3, "min_lr": 5e-6}
    assert build_config(TrainConfig, {"lr": "1e-3"}, "train").lr == 1e-3
    with pytest.raises(MlpzooError, match="train.lr"):
        build_config(TrainConfig, {"lr": "fast"}, "train")


def test_second_writer_can_run_once_the_first_is_done(tmp_path: Path):
    _array_fit()(tmp_path)
    assert _array_fit(epochs=3)(tmp_path).resumed_from_epoch == 2  # the lock was released


@pytest.mark.slow
def test_sigterm_ends_train_with_one_line(tmp_path: Path):
    """SIGTERM stops `mlpzoo train` like SIGINT: a message, exit status 143, and the run resumes afterwards."""
    spec = _files_spec18(tmp_path, CSV + CSV.partition("\n")[2] * 40, epochs=200, batch_size=2, patience=200)
    config = write(tmp_path / "long.yaml", yaml.safe_dump(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mlpzoo.cli", "train", str(config)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    metrics = tmp_path / "runs" / "r" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while process.poll() is None and not metrics.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 143, output
    assert "interrupted by SIGTERM" in output and "Traceback" not in output
    resumed = _run_spec({**spec, "train": {**spec["train"], "epochs": 2}})  # the lock is free, the run resumes
    assert resumed.resumed_from_epoch is not None


def test_corpus_size():
    """The issue asks for at least 40 cases; count them so a refactor cannot silently drop many."""
    assert len(DATA_CASES) + len(CONFIG_CASES) + len(CLI_CASES) + len(TENSOR_CASES) >= 40
    assert len(SAFETY_CASES) >= 40  # issue 18
