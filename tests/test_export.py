"""ONNX export: run directories (tabular MLP, KAN, CTR from `mlpzoo train`) and models built in Python,
each checked here again in onnxruntime against PyTorch on a batch size the export never saw."""

import json

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch
import yaml
from click.testing import CliRunner
from torch import nn

from mlpzoo.cli import main
from mlpzoo.data.schema import FeatureSchema
from mlpzoo.data.tensors import ArrayData
from mlpzoo.errors import ConfigError
from mlpzoo.export import ExportError, example_batch, export_onnx, flatten_batch, load_run_model, nest
from mlpzoo.registry import create_model
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer


def onnx_outputs(path, batch):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    flat = flatten_batch(batch)
    return session.run(None, {i.name: flat[i.name].numpy() for i in session.get_inputs()})[0]


def assert_same_as_torch(model, path, batch):
    model.eval()
    with torch.no_grad():
        expected = model(batch).numpy()
    np.testing.assert_allclose(onnx_outputs(path, batch), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name, kwargs", [("mlp", {"hidden": [16, 16]}), ("kan_rbf", {"hidden": [8]})])
def test_export_tabular_and_kan_runs(tmp_path, name, kwargs):
    rng = torch.Generator().manual_seed(0)
    x = torch.randn(96, 3, generator=rng)
    data = ArrayData(x, (x[:, 0] * x[:, 1] + x[:, 2]).float())
    model = create_model(name, in_features=3, **kwargs)
    config = {"epochs": 2, "batch_size": 32, "run_dir": str(tmp_path), "run_name": name, "progress": False}
    Trainer(
        get_task("regression"),
        model,
        config,
        run_config={"model": {"name": name, "in_features": 3, **kwargs}, "task": "regression"},
    ).fit(data, data)
    result = CliRunner().invoke(main, ["export", str(tmp_path / name)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "max abs diff" in result.output and "dynamic batch axis" in result.output
    rebuilt, _, _ = load_run_model(tmp_path / name)
    for p, q in zip(rebuilt.state_dict().values(), model.state_dict().values()):  # the best weights, not fresh ones
        assert torch.equal(p, q)
    assert_same_as_torch(rebuilt, tmp_path / name / "model.onnx", {"x": torch.randn(5, 3, generator=rng)})


def test_export_ctr_run_written_by_mlpzoo_train(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "user": rng.integers(0, 8, 200).astype(str),
            "item": rng.integers(0, 9, 200).astype(str),
            "hour": rng.integers(0, 5, 200).astype(str),
            "price": rng.normal(size=200),
        }
    )
    frame["clicked"] = (frame["user"].astype(int) % 2).astype(int)
    frame.iloc[:150].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[150:].to_csv(tmp_path / "valid.csv", index=False)
    spec = {
        "data": {
            "train": str(tmp_path / "train.csv"),
            "valid": str(tmp_path / "valid.csv"),
            "schema": {
                "label": "clicked",
                "numeric": ["price"],
                "categorical": [{"name": "user", "source": "user"}, {"name": "item", "source": "item"}, "hour"],
            },
        },
        "model": {
            "name": "finalmlp",
            "embedding_dim": 4,
            "mlp1_hidden_units": [16],
            "mlp2_hidden_units": [8],
            "gate_hidden_units": [8],
            "num_heads": 2,
            "stream1_context": ["user"],
            "stream2_context": ["item"],
        },
        "train": {"epochs": 1, "batch_size": 50, "run_dir": str(tmp_path / "runs"), "progress": False},
    }
    (tmp_path / "finalmlp.yaml").write_text(yaml.safe_dump(spec))
    assert CliRunner().invoke(main, ["train", str(tmp_path / "finalmlp.yaml")], catch_exceptions=False).exit_code == 0
    run_dir = tmp_path / "runs" / "finalmlp"
    saved = FeatureSchema.from_dict(json.loads((run_dir / "schema.json").read_text()))
    assert (
        saved.categorical[0].vocab is not None and saved.numeric[0].stats is not None
    )  # the fitted schema, not the declared one
    out = tmp_path / "exported" / "finalmlp.onnx"
    result = CliRunner().invoke(
        main, ["export", str(run_dir), "--format", "onnx", "--output", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    model, _, name = load_run_model(run_dir)
    assert name == "finalmlp"
    encoded = saved.encode(frame.iloc[150:163]).as_batch()  # 13 real rows, encoded with the saved schema
    assert_same_as_torch(model, out, {k: v for k, v in encoded.items() if k != "label"})


def test_export_onnx_on_models_built_in_python(tmp_path):
    frame = pd.DataFrame(
        {
            "item": list("abcabcabcd"),
            "user": list("uuvvwwuuvv"),
            "hist": ["a b", "c", "", "a a b c", "d", "a", "b c", "c", "a", "b"],
            "label": [0, 1] * 5,
        }
    )
    schema = FeatureSchema.from_dict(
        {"categorical": ["user", "item"], "sequence": [{"name": "hist", "shares": "item", "max_len": 3}]}
    ).fit(frame)
    ctr = create_model("dnn", schema=schema, embedding_dim=4, hidden_units=[8])
    result = export_onnx(ctr, schema.encode(frame).as_batch(), tmp_path / "dnn.onnx")
    assert result.inputs == ["categorical", "numeric", "sequences.hist"] and result.max_abs_diff < 1e-4
    assert_same_as_torch(
        ctr, tmp_path / "dnn.onnx", {k: v for k, v in schema.encode(frame.iloc[:3]).as_batch().items() if k != "label"}
    )

    mixer = create_model("mixer", dim=16, depth=1, img_size=16, num_classes=3)
    images = torch.randn(4, 3, 16, 16)
    assert export_onnx(mixer, {"x": images}, tmp_path / "mixer.onnx").exporter in ("dynamo", "legacy")
    assert_same_as_torch(mixer, tmp_path / "mixer.onnx", {"x": torch.randn(7, 3, 16, 16)})
    assert example_batch(mixer)["x"].shape[1:] == (3, 16, 16)


class Bessel(nn.Module):
    """Uses an operator ONNX has no translation for."""

    def forward(self, batch):
        return torch.special.bessel_j0(batch["x"]).sum(-1)


def test_unexportable_model_is_one_line_error_naming_the_operator(tmp_path):
    with pytest.raises(ExportError, match=r"cannot export Bessel to ONNX: .*bessel_j0") as caught:
        export_onnx(Bessel(), {"x": torch.randn(4, 3)}, tmp_path / "bessel.onnx")
    assert "\n" not in str(caught.value) and not (tmp_path / "bessel.onnx").exists()


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="at least 2 rows"):
        export_onnx(create_model("mlp", in_features=3), {"x": torch.randn(1, 3)}, tmp_path / "m.onnx")
    with pytest.raises(ConfigError, match="tensor or a dict"):
        export_onnx(create_model("mlp", in_features=3), [torch.randn(4, 3)], tmp_path / "m.onnx")
    result = CliRunner().invoke(main, ["export", str(tmp_path)])
    assert result.exit_code == 2 and "has no config.yaml" in result.output and "Traceback" not in result.output


def test_flatten_and_nest_round_trip():
    batch = {"categorical": torch.zeros(2, 1), "sequences": {"a": torch.ones(2, 3)}, "label": torch.ones(2)}
    flat = flatten_batch(batch)
    assert list(flat) == ["categorical", "sequences.a"]
    assert nest(flat)["sequences"]["a"] is batch["sequences"]["a"]


def test_export_never_overwrites_a_checkpoint_and_other_files_only_with_force(tmp_path):
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    config = {"epochs": 1, "batch_size": 16, "run_dir": str(tmp_path), "run_name": "r", "progress": False}
    Trainer(
        get_task("regression"),
        create_model("mlp", in_features=3),
        config,
        run_config={"model": {"name": "mlp", "in_features": 3}, "task": "regression"},
    ).fit(ArrayData(x, x.sum(1)), ArrayData(x, x.sum(1)))
    run_dir = tmp_path / "r"
    best = (run_dir / "best.pt").read_bytes()
    for target in (run_dir / "best.pt", run_dir / "last.pt", tmp_path / "copy.pt"):
        if not target.exists():
            target.write_bytes(best)
        result = CliRunner().invoke(main, ["export", str(run_dir), "--output", str(target), "--force"])
        assert result.exit_code == 2 and "never overwrites" in result.output, result.output
    assert (run_dir / "best.pt").read_bytes() == best
    assert CliRunner().invoke(main, ["export", str(run_dir)]).exit_code == 0
    again = CliRunner().invoke(main, ["export", str(run_dir)])
    assert again.exit_code == 2 and "--force" in again.output
    assert CliRunner().invoke(main, ["export", str(run_dir), "--force"]).exit_code == 0
