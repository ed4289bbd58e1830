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

A run directory is rebuilt from ``config.yaml`` (model name and arguments) and ``best.pt``
(loaded with ``weights_only=True``: a checkpoint never runs code);
CTR models also need the fitted feature schema, read from ``schema.json`` (written by
``mlpzoo train``) or, for older runs, refitted from the run's data section.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import logging
import os
import re
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from mlpzoo.errors import ConfigError, MlpzooError

EXAMPLE_ROWS = 8
ONNX_FILE = "model.onnx"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle", ".safetensors")
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
    """``{"sequences": {"hist": t}}`` -> ``{"sequences.hist": t}``; labels and groups dropped; a bare tensor is
    ``x``."""
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
            raise ConfigError(
                f"example_batch[{key!r}] is a {type(value).__name__}; export needs tensors (or dicts of tensors)"
            )
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


def export_onnx(
    model: nn.Module, example_batch, path: str | Path, atol: float = 1e-4, rtol: float = 1e-3, name: str | None = None
) -> ExportResult:
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
        raise ConfigError(
            f"example_batch for {name}: every input needs the same batch size of at least 2 rows (got "
            f"{sorted(rows)}), so the batch axis can be exported as dynamic"
        )
    if any(p.device.type != "cpu" for p in model.parameters()):
        model = copy.deepcopy(model).cpu()
    inputs = {k: v.detach().cpu() for k, v in inputs.items()}
    was_training = model.training
    model.eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed once checked, so a failed export never touches an existing file.
    draft = path.with_name(f".{path.stem}.tmp-{os.getpid()}.onnx")
    try:
        with torch.no_grad():
            reference = model(nest(inputs))
        if not isinstance(reference, torch.Tensor):
            raise ExportError(
                f"cannot export {name} to ONNX: it returns a {type(reference).__name__}; export handles "
                "models returning one tensor"
            )
        failures = []
        for exporter in ("dynamo", "legacy"):
            try:
                _export(_FlatInputs(model, list(inputs)), inputs, draft, exporter)
            except Exception as err:  # the exporters raise many types; each becomes one line below
                failures.append(f"{exporter} exporter: {_reason(err)}")
                continue
            diff, worst = _check(model, inputs, draft, atol, rtol)
            if worst <= 1.0:
                os.replace(draft, path)
                return ExportResult(path, exporter, _graph_inputs(path), _opset(path), diff)
            failures.append(f"{exporter} exporter: the graph disagrees with PyTorch (max abs diff {diff:.3g})")
        raise ExportError(f"cannot export {name} to ONNX: " + "; ".join(failures))
    finally:
        model.train(was_training)
        draft.unlink(missing_ok=True)


def _export(wrapper: nn.Module, inputs: dict[str, torch.Tensor], path: Path, exporter: str) -> None:
    names, args = list(inputs), tuple(inputs.values())
    quiet = contextlib.redirect_stdout(io.StringIO())  # the exporters print progress and graphs
    with (
        quiet,
        warnings.catch_warnings(),
        _quiet_logger("torch.onnx"),
        _quiet_logger("torch.export"),
        _quiet_logger("torch.fx"),
    ):
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            batch = torch.export.Dim("batch")
            torch.onnx.export(
                wrapper,
                args,
                str(path),
                input_names=names,
                output_names=["output"],
                dynamo=True,
                dynamic_shapes=(tuple({0: batch} for _ in args),),
                verbose=False,
            )
        else:
            axes = {n: {0: "batch"} for n in [*names, "output"]}
            torch.onnx.export(
                wrapper, args, str(path), input_names=names, output_names=["output"], dynamo=False, dynamic_axes=axes
            )


@contextlib.contextmanager
def _quiet_logger(name: str):
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check(
    model: nn.Module, inputs: dict[str, torch.Tensor], path: Path, atol: float, rtol: float
) -> tuple[float, float]:
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
        worst = max(
            worst,
            float(np.max(error / (atol + rtol * np.abs(expected)), initial=0.0))
            if np.isfinite(error).all()
            else float("inf"),
        )
    return diff, worst


def _graph_inputs(path: Path) -> list[str]:
    import onnx

    return [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]


def _opset(path: Path) -> int:
    import onnx

    return next(
        o.version for o in onnx.load(str(path), load_external_data=False).opset_import if o.domain in ("", "ai.onnx")
    )


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
        return (
            f"Python control flow on a tensor's value{_model_frame(err)} (such as an input check calling "
            "bool(tensor)) cannot be traced; skip that check when torch.compiler.is_exporting()"
        )
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
    from mlpzoo.train.rundir import RunDir

    run = RunDir(run_dir)
    if not run.file(RunDir.CONFIG).exists():
        raise ConfigError(
            f"{run.path} has no {RunDir.CONFIG}; point to a run directory written by mlpzoo train or the Trainer"
        )
    config = run.read_config()
    model_spec = config.get("model")
    if not isinstance(model_spec, dict) or "name" not in model_spec:
        raise ConfigError(
            f"{run.file(RunDir.CONFIG)}: no model.name; this run cannot be rebuilt (the Trainer was "
            "given no run_config with the model)"
        )
    model_spec = dict(model_spec)
    name = model_spec.pop("name")
    params = inspect.signature(model_entry(name).builder).parameters
    schema = None
    if "schema" in params:
        schema = _run_schema(run, config, log)
        model_spec["schema"] = schema
    model = create_model(name, **model_spec)
    state = load_checkpoint(run.checkpoint())
    if not isinstance(state, dict) or "model" not in state:
        raise ConfigError(
            f"{run.checkpoint()} holds no model weights; point to a run directory written by mlpzoo "
            "train or the Trainer"
        )
    model.load_state_dict(state["model"])
    return model, example_batch(model, schema, model_spec), name


def _run_schema(run, config: dict, log: Callable[[str], None]):
    from mlpzoo.data.schema import FeatureSchema
    from mlpzoo.train.rundir import RunDir

    if run.file(RunDir.SCHEMA).exists():
        return FeatureSchema.from_dict(run.read_schema())
    data = config.get("data")
    # Runs older than schema.json (and claim fits) name their data: refit the schema the same way.
    log(f"{run.path} has no {RunDir.SCHEMA}; refitting the feature schema from the run's data ({data})")
    from mlpzoo.data.datasets import load_dataset, load_files

    if isinstance(data, str):
        return load_dataset(data).schema
    if isinstance(data, dict) and data.get("name"):
        return load_dataset(data["name"], data.get("data_dir")).schema
    if isinstance(data, dict) and data.get("train") and data.get("schema"):
        return load_files(data["train"], data.get("valid") or data["train"], data["schema"]).schema
    raise ConfigError(
        f"{run.path}: the model needs its fitted feature schema, but there is no {RunDir.SCHEMA} and "
        f"{RunDir.CONFIG} names no data to refit it from"
    )


def example_batch(model: nn.Module, schema=None, model_spec: dict | None = None, rows: int = EXAMPLE_ROWS) -> dict:
    """A random batch in the model's input format: from the schema (CTR), ``in_features`` (tabular, KAN)
    or ``img_size`` (vision)."""
    generator = torch.Generator().manual_seed(0)
    if schema is not None:
        batch = {
            "categorical": torch.stack(
                [torch.randint(0, f.vocab_size, (rows,), generator=generator) for f in schema.categorical], 1
            )
            if schema.categorical
            else torch.zeros(rows, 0, dtype=torch.int64),
            "numeric": torch.randn(rows, len(schema.numeric), generator=generator),
        }
        if schema.sequence:
            sizes = {f.name: f.vocab_size for f in schema.categorical}
            batch["sequences"] = {
                s.name: torch.randint(0, sizes[s.shares], (rows, s.max_len), generator=generator)
                for s in schema.sequence
            }
        return batch
    if isinstance(getattr(model, "in_features", None), int):
        return {"x": torch.randn(rows, model.in_features, generator=generator)}
    if isinstance(getattr(model, "img_size", None), int):
        channels = (model_spec or {}).get("in_chans", 3)
        return {"x": torch.randn(rows, channels, model.img_size, model.img_size, generator=generator)}
    raise ExportError(
        f"cannot tell the input shape of {type(model).__name__} from its run directory; build the model "
        "in Python and call mlpzoo.export.export_onnx(model, example_batch, path)"
    )


def export_run(
    run_dir: str | Path,
    output: str | Path | None = None,
    log: Callable[[str], None] = lambda line: None,
    force: bool = False,
) -> ExportResult:
    """Export a run directory's best model to ONNX (default ``RUN_DIR/model.onnx``) and check it.

    An existing ``output`` is replaced only with ``force=True``, and a checkpoint never (nor any file
    of the run directory other than an earlier ``model.onnx``).
    """
    run_dir = Path(run_dir)
    path = Path(output) if output else run_dir / ONNX_FILE
    check_output(path, run_dir, force)
    model, batch, name = load_run_model(run_dir, log)
    return export_onnx(model, batch, path, name=name)


def check_output(path: Path, run_dir: Path, force: bool) -> None:
    """Refuse to overwrite a checkpoint or a run file ever, and any other existing file without ``force``."""
    from mlpzoo.train.rundir import RunDir

    if path.exists() and not path.is_file():
        raise ConfigError(f"--output {path} is a folder, not a file; give a file name such as {path / ONNX_FILE}")
    if not path.exists():
        return
    run_file = path.resolve().parent == run_dir.resolve() and path.name in RunDir.ALL_FILES
    if path.suffix in CHECKPOINT_SUFFIXES or run_file or _is_checkpoint(path):
        raise ConfigError(
            f"--output {path} is a checkpoint or a file of a run, which export never overwrites; choose "
            "another file name, e.g. "
            f"{path.with_suffix('.onnx').name if path.suffix != '.onnx' else ONNX_FILE}"
        )
    if not force:
        raise ConfigError(
            f"--output {path} already exists; pass --force (force=True) to replace it, or choose another file name"
        )


def _is_checkpoint(path: Path) -> bool:
    """A zip archive (torch.save's format) or a pickle, whatever its name says."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


__all__ = [
    "ExportError",
    "ExportResult",
    "check_output",
    "example_batch",
    "export_onnx",
    "export_run",
    "flatten_batch",
    "load_run_model",
]
