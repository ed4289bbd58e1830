"""A run's Markdown report with a learning-curve plot."""

from __future__ import annotations

import json
from pathlib import Path

from mlpzoo.train.rundir import RunDir, atomic_write_text


def plot_learning_curve(history: list[dict], monitor: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig, left = plt.subplots(figsize=(6, 3.5), dpi=110)
    left.plot(epochs, [h["train_loss"] for h in history], "o-", color="tab:blue", label="train loss")
    left.set_xlabel("epoch")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_ylabel("train loss", color="tab:blue")
    right = left.twinx()
    key = f"valid_{monitor}"
    right.plot(epochs, [h.get(key, float("nan")) for h in history], "s-", color="tab:orange", label=key)
    right.set_ylabel(key, color="tab:orange")
    left.set_title("learning curve")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(run: RunDir, summary: dict, history: list[dict], config: dict) -> Path:
    """Write ``report.md`` (and ``learning_curve.png``) into the run directory; returns the report path."""
    plot_learning_curve(history, summary["monitor"], run.file(RunDir.CURVE))
    lines = [
        f"# Run {run.path.name}",
        "",
        f"Model `{summary['model']}`, best epoch {summary['best_epoch']} of {summary['epochs_run']}, "
        f"{summary['train_samples_per_second']:.0f} training samples/s.",
        "",
        "| split | " + " | ".join(_metric_names(summary)) + " |",
        "|---|" + "---|" * len(_metric_names(summary)),
    ]
    for split, scores in summary["metrics"].items():
        lines.append(
            f"| {split} | " + " | ".join(f"{scores.get(m, float('nan')):.6f}" for m in _metric_names(summary)) + " |"
        )
    valid_keys = [k for k in history[0] if k.startswith("valid_")]
    lines += [
        "",
        f"![learning curve]({RunDir.CURVE})",
        "",
        "## Epochs",
        "",
        "| epoch | train loss | " + " | ".join(valid_keys) + " | lr |",
        "|---|---|" + "---|" * (len(valid_keys) + 1),
    ]
    for h in history:
        lines.append(
            f"| {h['epoch']} | {h['train_loss']:.6f} | "
            + " | ".join(f"{h[k]:.6f}" for k in h if k.startswith("valid_"))
            + f" | {h['lr']:.2g} |"
        )
    lines += ["", "## Configuration", "", "```json", json.dumps(config, indent=2, default=str), "```", ""]
    path = run.file(RunDir.REPORT)
    atomic_write_text(path, "\n".join(lines))
    return path


def _metric_names(summary: dict) -> list[str]:
    names: list[str] = []
    for scores in summary["metrics"].values():
        names += [k for k in scores if k not in names]
    return names
