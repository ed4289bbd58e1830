"""Training and inference images/s, peak memory and data-time fraction of the vision token-mixing models.

    python benchmarks/bench_vision.py [--threads 1] [--steps 5] [--batch 256]

For each model (``--models``, default the token-mixing Mixer, RaftMLP, Strip-MLP, MS-MLP, DSM and the vision hybrids
NiNformer, SpaRTAN, EfficientMod and DHVT of :mod:`mlpzoo.models.vision_hybrid`) at its CIFAR-10 defaults (32 px,
10 classes),
each in a fresh process (so its peak resident memory, ``ru_maxrss``, is its own): median
seconds of a training step (AdamW, cross-entropy on mixup + label-smoothing soft targets) and
of an inference forward on a batch of ``--batch`` real CIFAR-10 images, after one warm-up
step; and the median time of producing one augmented training batch with
:class:`mlpzoo.data.images.ImageData` (uint8 -> normalised float, random crop, flip, mixup,
label smoothing) as a fraction of the step (target <= 10 %). Ratios are against Mixer measured
in the same run. Writes benchmarks/out/vision.json (or ``--out``).

Rows beyond classification: ``maxim_unet`` and ``conv_unet`` step on the
denoising loss (MSE to the clean batch from a noisy copy); ``swinchex_head`` (a ResNet-20 with a 3-layer
multi-label head) on binary cross-entropy against the soft targets; ``scalekd_mixer`` is a ScaleKD training
step of Mixer with a ResNet-8 teacher and the two projectors (its parameter count includes the teacher).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import statistics
import time
from pathlib import Path

import torch

from mlpzoo import create_model
from mlpzoo.data.augment import Compose, HorizontalFlip, LabelSmoothing, Mixup, RandomCrop
from mlpzoo.data.images import ImageData, load_cifar10
from mlpzoo.tasks.supervised import Classification


def _median_seconds(fn, steps: int) -> float:
    fn()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


DISTILLED = {"scalekd_mixer": "mixer"}  # a ScaleKD step of the student named, with its teacher and projectors
RESTORATION = ("maxim_unet", "conv_unet")


def _build(name: str, example: torch.Tensor) -> torch.nn.Module:
    if name in DISTILLED:
        from mlpzoo.methods.scalekd import ScaleKD, TeacherStages

        teacher = TeacherStages(create_model("resnet_cifar", depth=8), late_blocks=1)
        return ScaleKD(create_model(DISTILLED[name]), teacher, example)
    return create_model(name)


def _loss(name: str, model: torch.nn.Module, batch: dict) -> torch.Tensor:
    """The training objective of the row: denoising MSE, multi-label BCE, or cross-entropy (+ distillation)."""
    if name in RESTORATION:
        noisy = batch["x"] + 0.1 * torch.randn_like(batch["x"])
        return torch.nn.functional.mse_loss(model(noisy), batch["x"])
    if name == "swinchex_head":
        return torch.nn.functional.binary_cross_entropy_with_logits(model(batch), batch["label"])
    loss = Classification().loss(model(batch), batch)
    return loss + model.regularization_loss(batch) if hasattr(model, "regularization_loss") else loss


def measure(name: str, threads: int, steps: int, batch_size: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images, labels = load_cifar10("train", limit_per_class=-(-batch_size // 10))
    augment = Compose([RandomCrop(4), HorizontalFlip(), Mixup(0.8, 10), LabelSmoothing(0.1, 10)])
    data = ImageData(images[:batch_size], labels[:batch_size], augment=augment)
    epoch = iter(range(1, 10**6))
    batch = next(data.iter_batches(batch_size, shuffle=True, epoch=next(epoch)))
    model = _build(name, batch["x"][:2])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        _loss(name, model, batch).backward()
        optimizer.step()

    def infer():
        with torch.no_grad():
            model(batch["x"])

    model.train()
    step_s = _median_seconds(train_step, steps)
    data_s = _median_seconds(lambda: next(data.iter_batches(batch_size, shuffle=True, epoch=next(epoch))), steps)
    model.eval()
    infer_s = _median_seconds(infer, steps)
    return {
        "model": name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_images_per_second": batch_size / step_s,
        "infer_images_per_second": batch_size / infer_s,
        "step_ms": 1e3 * step_s,
        "data_ms": 1e3 * data_s,
        "data_fraction_of_step": data_s / step_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument(
        "--models",
        default="mixer,raftmlp,strip_mlp,ms_mlp,dsm,ninformer,spartan_cifar,efficientmod_cifar,dhvt_cifar,"
        "maxim_unet,conv_unet,swinchex_head,scalekd_mixer",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "vision.json")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    rows = []
    for name in args.models.split(","):
        with context.Pool(1) as pool:
            rows.append(pool.apply(measure, (name, args.threads, args.steps, args.batch)))
    base = next((r for r in rows if r["model"] == "mixer"), rows[0])
    print(
        f"{'model':<20}{'params':>10}{'train img/s':>13}{'x mixer':>9}"
        f"{'infer img/s':>13}{'x mixer':>9}{'data/step':>11}{'peak MiB':>10}"
    )
    for r in rows:
        r["train_vs_mixer"] = r["train_images_per_second"] / base["train_images_per_second"]
        r["infer_vs_mixer"] = r["infer_images_per_second"] / base["infer_images_per_second"]
        print(
            f"{r['model']:<20}{r['parameters']:>10}{r['train_images_per_second']:>13.0f}{r['train_vs_mixer']:>9.2f}"
            f"{r['infer_images_per_second']:>13.0f}{r['infer_vs_mixer']:>9.2f}"
            f"{100 * r['data_fraction_of_step']:>10.1f}%{r['peak_rss_mib']:>10.0f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "threads": args.threads,
                "batch": args.batch,
                "machine": platform.processor() or platform.machine(),
                "torch": torch.__version__,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
