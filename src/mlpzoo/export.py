"""ONNX export, checked in onnxruntime: ``mlpzoo export RUN_DIR`` and :func:`export_onnx`.

mlpzoo models read a batch dict (``{"x": ...}`` or ``{"categorical", "numeric", "sequences"}``);
ONNX graphs take named tensors. :func:`export_onnx` flattens the batch into inputs named by their
keys (``categorical``, ``numeric``, ``sequences.hist_item``, ``x``), each with a dynamic batch
axis, exports with torch's ``torch.export``-based exporter (falling back to the legacy
TorchScript exporter when that fails), runs the file in onnxruntime and compares it with PyTorch
on the example batch and on a smaller one. A graph that disagrees is never returned: the legacy
exporter silently mistranslates some models here (in-place writes into slices, embedding
offsets), so agreement is checked, not assumed. Models that cannot be exported raise
:class:`ExportError` with one line naming the operator or construct that stops them.

A run directory is rebuilt from ``config.yaml`` (model name and arguments) and ``best.pt``;
CTR models also need the fitted feature schema, read from ``schema.json`` (written by
``mlpzoo train``) or, for older runs, refitted from the run's data section.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import json
import logging
import re
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import yaml
from torch import nn

from mlpzoo.errors import ConfigError, MlpzooError

EXAMPLE_ROWS = 8
NOT_INPUTS = ("label", "group")


class ExportError(MlpzooError):
    """A model that cannot be exported (or whose export disagrees with PyTorch)."""


@dataclass
class ExportResult:
    path: Path
    exporter: str  # "dynamo" (torch.export-based) or "legacy" (TorchScript-based)
    inputs: list[str]
    opset: int
    max_abs_diff: float


class _FlatInputs(nn.Module):
    """Positional tensors in, the model's nested batch dict rebuilt, the model's output out."""

    def __init__(self, model: nn.Module, keys: list[str]):
        super().__init__()
        self.model, self.keys = model, keys

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(nest(dict(zip(self.keys, tensors))))


def flatten_batch(batch) -> dict[str, torch.Tensor]:
    """``{"sequences": {"hist": t}}`` -> ``{"sequences.hist": t}``; labels and groups dropped; a bare tensor is ``x``."""
    if isinstance(batch, torch.Tensor):
        return {"x": batch}
    if not isinstance(batch, dict):
        raise ConfigError(f"example_batch must be a tensor or a dict of tensors, got {type(batch).__name__}")
    flat: dict[str, torch.Tensor] = {}
    for key, value in batch.items():
        if key in NOT_INPUTS:
            continue
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in flatten_batch(value).items()})
        elif isinstance(value, torch.Tensor):
            flat[key] = value
        else:
            raise ConfigError(f"example_batch[{key!r}] is a {type(value).__name__}; export needs tensors (or dicts of tensors)")
    return flat


def nest(flat: dict[str, torch.Tensor]) -> dict:
    batch: dict = {}
    for key, value in flat.items():
        outer, dot, inner = key.partition(".")
        if dot:
            batch.setdefault(outer, {})[inner] = value
        else:
            batch[key] = value
    return batch


def export_onnx(model: nn.Module, example_batch, path: str | Path, atol: float = 1e-4, rtol: float = 1e-3, name: str | None = None) -> ExportResult:
    """Export ``model`` to ONNX at ``path`` with a dynamic batch axis and check it in onnxruntime.

    Args:
        model: any mlpzoo model (or ``nn.Module`` taking a batch dict or one tensor) returning one tensor.
        example_batch: a batch as the model reads it, with at least 2 rows (labels are ignored).
        path: the ``.onnx`` file to write.
        atol, rtol: the agreement required between onnxruntime and PyTorch outputs.
        name: the model's name in error messages (default: its class name).
    """
    name = name or type(model).__name__
    inputs = flatten_batch(example_batch)
    if not inputs:
        raise ConfigError(f"example_batch for {name} holds no tensors to feed the graph")
    rows = {t.shape[0] if t.dim() else 0 for t in inputs.values()}
    if len(rows) != 1 or min(rows) < 2:
        raise ConfigError(f"example_batch for {name}: every input needs the same batch size of at least 2 rows (got {sorted(rows)}), "
                          "so the batch axis can be exported as dynamic")
    if any(p.device.type != "cpu" for p in model.parameters()):
        model = copy.deepcopy(model).cpu()
    inputs = {k: v.detach().cpu() for k, v in inputs.items()}
    was_training = model.training
    model.eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with torch.no_grad():
            reference = model(nest(inputs))
        if not isinstance(reference, torch.Tensor):
            raise ExportError(f"cannot export {name} to ONNX: it returns a {type(reference).__name__}; export handles models returning one tensor")
        failures = []
        for exporter in ("dynamo", "legacy"):
            try:
                _export(_FlatInputs(model, list(inputs)), inputs, path, exporter)
            except Exception as err:  # the exporters raise many types; each becomes one line below
                failures.append(f"{exporter} exporter: {_reason(err)}")
                continue
            diff, worst = _check(model, inputs, path, atol, rtol)
            if worst <= 1.0:
                return ExportResult(path, exporter, _graph_inputs(path), _opset(path), diff)
            failures.append(f"{exporter} exporter: the graph disagrees with PyTorch (max abs diff {diff:.3g})")
        path.unlink(missing_ok=True)
        raise ExportError(f"cannot export {name} to ONNX: " + "; ".join(failures))
    finally:
        model.train(was_training)


def _export(wrapper: nn.Module, inputs: dict[str, torch.Tensor], path: Path, exporter: str) -> None:
    names, args = list(inputs), tuple(inputs.values())
    quiet = contextlib.redirect_stdout(io.StringIO())  # the exporters print progress and graphs
    with quiet, warnings.catch_warnings(), _quiet_logger("torch.onnx"), _quiet_logger("torch.export"), _quiet_logger("torch.fx"):
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            batch = torch.export.Dim("batch")
            torch.onnx.export(wrapper, args, str(path), input_names=names, output_names=["output"], dynamo=True,
                              dynamic_shapes=(tuple({0: batch} for _ in args),), verbose=False)
        else:
            axes = {n: {0: "batch"} for n in [*names, "output"]}
            torch.onnx.export(wrapper, args, str(path), input_names=names, output_names=["output"], dynamo=False, dynamic_axes=axes)


@contextlib.contextmanager
def _quiet_logger(name: str):
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check(model: nn.Module, inputs: dict[str, torch.Tensor], path: Path, atol: float, rtol: float) -> tuple[float, float]:
    """Max abs difference onnxruntime vs PyTorch over the full batch and a smaller one, and the
    worst ``|diff| / (atol + rtol |ref|)`` (<= 1 passes)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    wanted = [i.name for i in session.get_inputs()]  # the legacy exporter drops inputs the graph never reads
    diff = worst = 0.0
    rows = next(iter(inputs.values())).shape[0]
    for n in (rows, rows - 1):  # a second batch size proves the batch axis is dynamic
        part = {k: v[:n] for k, v in inputs.items()}
        with torch.no_grad():
            expected = model(nest(part)).numpy()
        got = session.run(None, {k: part[k].numpy() for k in wanted})[0]
        if got.shape != expected.shape:
            return float("inf"), float("inf")
        error = np.abs(got.astype(np.float64) - expected)
        diff = max(diff, float(np.nanmax(error, initial=0.0)) if np.isfinite(error).all() else float("inf"))
        worst = max(worst, float(np.max(error / (atol + rtol * np.abs(expected)), initial=0.0)) if np.isfinite(error).all() else float("inf"))
    return diff, worst


def _graph_inputs(path: Path) -> list[str]:
    import onnx

    return [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]


def _opset(path: Path) -> int:
    import onnx

    return next(o.version for o in onnx.load(str(path), load_external_data=False).opset_import if o.domain in ("", "ai.onnx"))


def _reason(err: Exception) -> str:
    """One line saying what stopped an exporter: the operator when there is one."""
    text = str(err)
    found = re.search(r"No ONNX function found for <OpOverload\(op='([^']+)'", text)
    if found:
        return f"operator {found.group(1)} has no ONNX translation"
    found = re.search(r"Exporting the operator '([^']+)' to ONNX opset version (\d+) is not supported", text)
    if found:
        return f"operator {found.group(1)} is not supported at opset {found.group(2)}"
    if "GuardOnDataDependentSymNode" in text or "data-dependent" in text:
        return (f"Python control flow on a tensor's value{_model_frame(err)} (such as an input check calling bool(tensor)) cannot be "
                "traced; skip that check when torch.compiler.is_exporting()")
    summary = re.search(r"<class '(?:[\w.]+\.)?(\w+)'>: ([^\n]+)", text)
    if summary:
        return f"{summary.group(1)}: {summary.group(2)[:200]}"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(err).__name__}: {first[:200]}"


def _model_frame(err: BaseException) -> str:
    """`` at mlpzoo/models/x.py:12`` for the innermost mlpzoo frame (outside this file) that raised, or ``""``."""
    package = Path(__file__).resolve().parent
    found = ""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        for frame in traceback.extract_tb(err.__traceback__):
            file = Path(frame.filename).resolve()
            if file.is_relative_to(package) and file != Path(__file__).resolve():
                found = f" at {file.relative_to(package.parent)}:{frame.lineno}"
        err = err.__cause__ or err.__context__
    return found


# ---------------------------------------------------------------------- run directories
def load_run_model(run_dir: str | Path, log: Callable[[str], None] = lambda line: None) -> tuple[nn.Module, dict, str]:
    """The model of a run directory with its best weights, an example batch, and the model's name."""
    from mlpzoo.registry import create_model, model_entry
    from mlpzoo.train.checkpoint import load_checkpoint

    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.exists():
        raise ConfigError(f"{run_dir} has no config.yaml; point to a run directory written by mlpzoo train or the Trainer")
    config = yaml.safe_load(config_path.read_text()) or {}
    model_spec = dict(config.get("model") or {})
    if "name" not in model_spec:
        raise ConfigError(f"{config_path}: no model.name; this run cannot be rebuilt (the Trainer was given no run_config with the model)")
    name = model_spec.pop("name")
    params = inspect.signature(model_entry(name).builder).parameters
    schema = None
    if "schema" in params:
        schema = _run_schema(run_dir, config, log)
        model_spec["schema"] = schema
    model = create_model(name, **model_spec)
    checkpoint = next((run_dir / f for f in ("best.pt", "last.pt") if (run_dir / f).exists()), None)
    if checkpoint is None:
        raise ConfigError(f"{run_dir} has no best.pt or last.pt; train the run first")
    model.load_state_dict(load_checkpoint(checkpoint)["model"])
    return model, example_batch(model, schema, model_spec), name


def _run_schema(run_dir: Path, config: dict, log: Callable[[str], None]):
    from mlpzoo.data.schema import FeatureSchema
    from mlpzoo.train.from_config import SCHEMA_FILE

    saved = run_dir / SCHEMA_FILE
    if saved.exists():
        return FeatureSchema.from_dict(json.loads(saved.read_text()))
    data = config.get("data")
    # Runs older than schema.json (and claim fits) name their data: refit the schema the same way.
    log(f"{run_dir} has no {SCHEMA_FILE}; refitting the feature schema from the run's data ({data})")
    from mlpzoo.data.datasets import load_dataset, load_files

    if isinstance(data, str):
        return load_dataset(data).schema
    if isinstance(data, dict) and data.get("name"):
        return load_dataset(data["name"], data.get("data_dir")).schema
    if isinstance(data, dict) and data.get("train") and data.get("schema"):
        return load_files(data["train"], data.get("valid") or data["train"], data["schema"]).schema
    raise ConfigError(f"{run_dir}: the model needs its fitted feature schema, but there is no {SCHEMA_FILE} and config.yaml names no data to refit it from")


def example_batch(model: nn.Module, schema=None, model_spec: dict | None = None, rows: int = EXAMPLE_ROWS) -> dict:
    """A random batch in the model's input format: from the schema (CTR), ``in_features`` (tabular, KAN)
    or ``img_size`` (vision)."""
    generator = torch.Generator().manual_seed(0)
    if schema is not None:
        batch = {"categorical": torch.stack([torch.randint(0, f.vocab_size, (rows,), generator=generator) for f in schema.categorical], 1)
                 if schema.categorical else torch.zeros(rows, 0, dtype=torch.int64),
                 "numeric": torch.randn(rows, len(schema.numeric), generator=generator)}
        if schema.sequence:
            sizes = {f.name: f.vocab_size for f in schema.categorical}
            batch["sequences"] = {s.name: torch.randint(0, sizes[s.shares], (rows, s.max_len), generator=generator) for s in schema.sequence}
        return batch
    if isinstance(getattr(model, "in_features", None), int):
        return {"x": torch.randn(rows, model.in_features, generator=generator)}
    if isinstance(getattr(model, "img_size", None), int):
        channels = (model_spec or {}).get("in_chans", 3)
        return {"x": torch.randn(rows, channels, model.img_size, model.img_size, generator=generator)}
    raise ExportError(f"cannot tell the input shape of {type(model).__name__} from its run directory; build the model in Python and call "
                      "mlpzoo.export.export_onnx(model, example_batch, path)")


def export_run(run_dir: str | Path, output: str | Path | None = None, log: Callable[[str], None] = lambda line: None) -> ExportResult:
    """Export a run directory's best model to ONNX (default ``RUN_DIR/model.onnx``) and check it."""
    run_dir = Path(run_dir)
    model, batch, name = load_run_model(run_dir, log)
    return export_onnx(model, batch, Path(output) if output else run_dir / "model.onnx", name=name)


__all__ = ["ExportError", "ExportResult", "example_batch", "export_onnx", "export_run", "flatten_batch", "load_run_model"]
