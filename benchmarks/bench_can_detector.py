"""CAN intrusion detector throughput: float vs fake-quantised vs integer-only vs onnxruntime.

    python benchmarks/bench_can_detector.py [--threads 1] [--rows 20000] [--seconds 0.5]

Reads the first ``--rows`` frames of each DAGA trace (needs MLPZOO_DATA), trains nothing (speed
does not depend on the weights; batch-norm statistics are set by one pass in training mode),
and times, single-process on this CPU, messages per second at batch 1 and batch 1024 of:

- ``float_torch``: the float CQMLP twin in PyTorch (the baseline the ratios are against);
- ``q2_torch`` / ``q4_torch``: the 2- and 4-bit fake-quantised models in PyTorch;
- ``q2_integer`` / ``q4_integer``: the integer-only path (int8 x int8 -> int32 products,
  integer thresholds; :func:`mlpzoo.methods.quantize.export_integer`);
- ``q2_onnxruntime`` / ``float_onnxruntime``: the ONNX exports in onnxruntime (one thread).

Median seconds per call over repeated calls after warm-up. The paper's 0.11 ms per message is an
FPGA dataflow figure (XCZU7EV), printed beside for reference only. Writes
benchmarks/out/can_detector.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch

from mlpzoo.data.can import NUM_FEATURES, load_can
from mlpzoo.methods.quantize import (
    export_integer,
    export_onnx,
    onnx_session,
    time_per_message,
)
from mlpzoo.registry import create_model

OUT = Path(__file__).resolve().parent / "out"
PAPER_MS_PER_MESSAGE = 0.11  # FPGA (XCZU7EV), arXiv:2401.11030


def _model(name: str, x: np.ndarray) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name, in_features=NUM_FEATURES)
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(x[:4096]))  # batch-norm statistics from real frames
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=OUT / "can_detector.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x = load_can(max_rows=args.rows).x["test"]

    paths: dict[str, object] = {}
    models = {"float": _model("cqmlp_float", x), "q2": _model("cqmlp_2bit", x), "q4": _model("cqmlp_4bit", x)}
    for tag, model in models.items():
        paths[f"{tag}_torch"] = lambda rows, m=model: m(torch.from_numpy(rows)).argmax(1)
        if tag != "float":
            paths[f"{tag}_integer"] = export_integer(model).predict
    with tempfile.TemporaryDirectory() as tmp:
        for tag in ("float", "q2"):
            session = onnx_session(export_onnx(models[tag], Path(tmp) / f"{tag}.onnx", NUM_FEATURES))
            paths[f"{tag}_onnxruntime"] = lambda rows, s=session: s.run(None, {"x": rows})[0].argmax(1)

        results = {}
        with torch.no_grad():
            for name, predict in paths.items():
                results[name] = {f"batch_{b}": time_per_message(predict, x, b, args.seconds) for b in (1, 1024)}
    base = results["float_torch"]
    print(
        f"{'path':<20}{'msgs/s b1':>12}{'ms/msg b1':>11}{'msgs/s b1024':>14}{'vs float b1':>12}{'vs float b1024':>15}"
    )
    for name, r in results.items():
        one, many = r["batch_1"], r["batch_1024"]
        r["ratio_vs_float_torch"] = {
            b: r[b]["messages_per_second"] / base[b]["messages_per_second"] for b in ("batch_1", "batch_1024")
        }
        print(
            f"{name:<20}{one['messages_per_second']:>12.0f}{one['ms_per_message']:>11.4f}{many['messages_per_second']:>14.0f}"
            f"{r['ratio_vs_float_torch']['batch_1']:>12.2f}{r['ratio_vs_float_torch']['batch_1024']:>15.2f}"
        )
    print(f"paper (FPGA, XCZU7EV, other device): {PAPER_MS_PER_MESSAGE} ms per message")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "threads": args.threads,
                "machine": platform.processor() or platform.machine(),
                "torch": torch.__version__,
                "paper_fpga_ms_per_message": PAPER_MS_PER_MESSAGE,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
