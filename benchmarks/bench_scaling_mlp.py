"""How close a Scaling-MLP training step gets to this machine's fp32 GEMM peak, what data loading costs, peak memory.

    python benchmarks/bench_scaling_mlp.py [--threads 2] [--batch 256] [--widths 128,256,512,1024] [--depth 6]

Measured in one run, float32, CPU, ``torch.set_num_threads(threads)``:

- GEMM peak: median time of ``torch.mm`` on square matrices (1024, 2048, 3072); the best
  GFLOP/s (``2 n^3 / t``) is the peak the step is compared with.
- Step: for each thin width, a B-``depth``/Wi-``width`` :class:`~mlpzoo.models.deep_mlp.ScalingMLP`
  on 3 x 32 x 32 inputs takes forward, soft-target cross-entropy, backward and a
  :class:`~mlpzoo.train.lion.Lion` step on a fixed batch; its FLOPs are 3 x the forward count of
  :func:`mlpzoo.measure.count_flops` (the paper's compute rule), so ``fraction = FLOPs / t / peak``.
- Data: the time to produce one augmented batch with :class:`~mlpzoo.data.images.ImageData`
  (uint8 -> normalised float, random crop with padding 4, flip, mixup 0.8, label smoothing 0.3)
  on CIFAR-10 (5,120 training images when the data directory has them, random bytes otherwise),
  as a share of (data + step) for the widest model.
- Peak resident memory (``ru_maxrss``) of the process after all of the above, batch included.

Targets (issue 4): the widest model's step >= 50 % of the GEMM peak; data <= 10 % of a step;
peak RSS < 4 GiB at batch 256. Writes benchmarks/out/scaling_mlp.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
from pathlib import Path

import torch
from timing import median_seconds  # noqa: E402

from mlpzoo.data.augment import (
    Compose,
    HorizontalFlip,
    LabelSmoothing,
    Mixup,
    RandomCrop,
)
from mlpzoo.data.images import ImageData
from mlpzoo.errors import DataMissingError
from mlpzoo.measure import count_flops
from mlpzoo.models.deep_mlp import ScalingMLP
from mlpzoo.train.lion import Lion

OUT = Path(__file__).resolve().parent / "out"


def gemm_peak(repeats: int) -> dict:
    results = {}
    for n in (1024, 2048, 3072):
        a, b = torch.randn(n, n), torch.randn(n, n)
        seconds = median_seconds(lambda a=a, b=b: torch.mm(a, b), repeats)
        results[n] = 2 * n**3 / seconds / 1e9
    return {"gflops_by_size": results, "peak_gflops": max(results.values())}


def step_speed(width: int, depth: int, batch: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = ScalingMLP(image_size=32, in_channels=3, num_classes=10, width=width, depth=depth)
    optimizer = Lion(model.parameters(), lr=5e-5)
    x = torch.randn(batch, 3, 32, 32)
    target = torch.softmax(torch.randn(batch, 10), dim=1)
    flops = 3 * count_flops(model, x)

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), target).backward()
        optimizer.step()

    seconds = median_seconds(step, repeats)
    return {
        "width": width,
        "depth": depth,
        "parameters": sum(p.numel() for p in model.parameters()),
        "step_ms": seconds * 1e3,
        "train_flops": flops,
        "gflops": flops / seconds / 1e9,
    }


def data_speed(batch: int, repeats: int) -> dict:
    try:
        from mlpzoo.data.images import load_cifar10

        images, labels = load_cifar10("train", limit_per_class=512)
        source = "cifar10 (5,120 training images)"
    except DataMissingError:
        generator = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (5120, 3, 32, 32), dtype=torch.uint8, generator=generator)
        labels = torch.randint(0, 10, (5120,), generator=generator)
        source = "random bytes (cifar10 not in the data directory)"
    augment = Compose([RandomCrop(4), HorizontalFlip(), Mixup(0.8, 10), LabelSmoothing(0.3, 10)])
    data = ImageData(images, labels, augment=augment)
    batches = data.num_batches(batch)
    epoch = [0]

    def one_epoch():
        epoch[0] += 1
        for _ in data.iter_batches(batch, shuffle=True, seed=0, epoch=epoch[0]):
            pass

    seconds = median_seconds(one_epoch, max(3, repeats // 3), warmup=1)
    return {"source": source, "batch_ms": seconds / batches * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--widths", default="128,256,512,1024", help="comma-separated thin widths")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=str(OUT / "scaling_mlp.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    load_before = os.getloadavg()
    peak = gemm_peak(args.repeats)
    print(
        f"fp32 GEMM peak: {peak['peak_gflops']:.1f} GFLOP/s "
        f"({', '.join(f'{n}: {g:.1f}' for n, g in peak['gflops_by_size'].items())})"
    )
    steps = []
    for width in (int(w) for w in args.widths.split(",")):
        row = step_speed(width, args.depth, args.batch, args.repeats)
        row["fraction_of_peak"] = row["gflops"] / peak["peak_gflops"]
        steps.append(row)
        print(
            f"B-{args.depth}/Wi-{width}: {row['parameters'] / 1e6:.1f}M parameters, step {row['step_ms']:.1f} ms, "
            f"{row['gflops']:.1f} GFLOP/s = {row['fraction_of_peak']:.0%} of peak"
        )
    data = data_speed(args.batch, args.repeats)
    widest = steps[-1]
    data["share_of_step"] = data["batch_ms"] / (data["batch_ms"] + widest["step_ms"])
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is KiB on Linux
    print(
        f"data: {data['batch_ms']:.1f} ms per augmented batch of {args.batch} ({data['source']}) = "
        f"{data['share_of_step']:.1%} of a B-{args.depth}/Wi-{widest['width']} step (target <= 10 %)"
    )
    print(
        f"widest step at {widest['fraction_of_peak']:.0%} of GEMM peak (target >= 50 %); peak RSS {rss_gib:.2f} GiB "
        "(target < 4)"
    )
    summary = {
        "threads": args.threads,
        "batch": args.batch,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "gemm": peak,
        "steps": steps,
        "data": data,
        "peak_rss_gib": rss_gib,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(f"load average before {load_before[0]:.2f}, after {summary['loadavg_after'][0]:.2f}; wrote {out}")


if __name__ == "__main__":
    main()
