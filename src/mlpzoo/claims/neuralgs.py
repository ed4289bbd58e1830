"""NeuralGS (2025): cluster-wise tiny MLPs compress 3-D Gaussians >= 10x at a small loss of fidelity.

Paper: Tang et al., "NeuralGS: Bridging Neural Fields and 3D Gaussian Splatting for Compact 3D
Representations", arXiv:2503.23162. The abstract reports "a 45-times average model size reduction without
harming the visual quality" from pruning by importance, clustering the Gaussians and fitting one tiny MLP
per cluster with importance scores as fitting weights.

Stand-in (no trained 3DGS scene ships offline): the Middlebury Motorcycle depth photo from scikit-image
(:mod:`mlpzoo.data.scenes`), one surfel Gaussian per pixel with a known depth (position, scales and rotation
from the depth map's tangents, opacity lowered across depth edges, the pixel's colour); 3 attributes of
colour instead of 48 spherical-harmonic coefficients, so the size to beat is 56 bytes a Gaussian, not 248.

Experiment (per seed): importance = each Gaussian's blending weight over three views (the photo's camera and
two turned by +-6 degrees about the scene); prune the least important ``prune`` fraction; k-means the rest
into K clusters; fit (a) NeuralGS, K tiny MLPs with importance-weighted loss, (b) one MLP over the whole scene
with the same number of parameters (within 3 %), same pruning, same stored positions; and (c) 8-bit
quantisation of every attribute of the unpruned scene. Fidelity: PSNR of each method's renders against the
original scene's renders over the three views, and the importance-weighted attribute error. Size: stored
bytes (positions at 12 bits inside their cluster's box, MLPs in float16) against 56 float32 bytes a Gaussian.
"""

from __future__ import annotations

import time

import torch

from mlpzoo.claims.base import ClaimContext, ClaimSpec, Evidence, compare, outcome, summarize
from mlpzoo.claims.kits.fields import fit_config, matched_width, parameters_match, save_figure, show_image
from mlpzoo.data import load_dataset
from mlpzoo.data.scenes import gaussians_from_depth
from mlpzoo.errors import ConfigError
from mlpzoo.layers.fields_nd import PinholeCamera
from mlpzoo.measure import count_parameters
from mlpzoo.methods.neuralgs import (
    FLOAT32_BYTES_PER_GAUSSIAN,
    ClusteredAttributes,
    GaussianScene,
    ImportanceWeightedFit,
    field_bytes,
    importance_scores,
    kmeans,
    orbit_cameras,
    psnr,
    quantize_8bit,
    quantize_positions,
)
from mlpzoo.registry import create_model
from mlpzoo.train.trainer import Trainer

METRICS = ("render_psnr", "attribute_error", "size_ratio", "decode_per_second")
RATIO_GOAL = 10.0  # the claim: at least 10x smaller
SMALL_LOSS_PSNR = 30.0  # "small fidelity loss": renders within 30 dB PSNR of the original scene's renders
VIEW_DEGREES = (-6.0, 0.0, 6.0)

SPEC = ClaimSpec(
    claim=(
        "Clustered tiny MLPs fitted with importance weights compress 3-D Gaussians >= 10x at a small fidelity "
        "loss, better than one MLP of equal size; 8-bit quantisation stays near 3x."
    ),
    paper_numbers={"average model size reduction (abstract)": "45x without harming visual quality"},
    datasets=("motorcycle-depth",),
    settings={
        "quick": {
            "scale": 0.2,
            "render_scale": 0.5,
            "prune": 0.0,
            "clusters": 8,
            "layers": 2,
            "frequencies": 6,
            "target_ratio": 10.5,
            "epochs": 3,
            "batch": 256,
            "lr": 1e-2,
        },
        "full": {
            "scale": 0.4,
            "render_scale": 0.5,
            "prune": 0.0,
            "clusters": 16,
            "layers": 2,
            "frequencies": 6,
            "target_ratio": 10.5,
            "epochs": 40,
            "batch": 256,
            "lr": 1e-2,
        },
    },  # fmt: skip
    seeds={"quick": 1, "full": 3},
    notes=(
        "Stand-in: Middlebury Motorcycle depth photo (scikit-image's sample) -> one surfel Gaussian a pixel "
        "(about 33,000 at the full budget's scale 0.4 after pixels without depth are dropped); no trained 3DGS "
        "scene ships offline, and "
        "colours are RGB (no spherical harmonics), so the uncompressed size is 56 B a Gaussian, not 248 B.",
        "Seeds vary the k-means seeding and the MLP weights and batches; the scene is fixed.",
        f"'Small fidelity loss' is read as render PSNR >= {SMALL_LOSS_PSNR:.0f} dB against the uncompressed "
        "scene's renders; the paper's own reading is a PSNR change of a few tenths of a dB against photographs.",
        "No fine-tuning through the renderer after the fit (the paper fine-tunes), and so no pruning by default "
        "(prune 0): without fine-tuning, pruning the least important 20 % alone cost the render 26.8 dB PSNR "
        "(measured at the full budget's scale), which would hide the fit's own loss. Importance still weights the fit. "
        "Positions are stored at 12 bits inside their cluster's box for NeuralGS and the single MLP alike.",
        "MLP sizes follow from the bytes: NeuralGS's K tiny MLPs (2 hidden layers each) get what is left of "
        "original / 10.5 after the positions and boxes; the single MLP gets the same parameter count (within 3 %). "
        "Both take the same steps of the same batch per MLP (equal FLOPs), Adam lr 1e-2 with a cosine schedule.",
        "Full budget: 3 seeds x (2 fits of 40 epochs + renders at 1/2 the photo's resolution); estimated 4-8 min "
        "on an idle 2-core machine from a measured 20 s seed at scale 0.3 x 20 epochs on the loaded machine.",
    ),
)


def experiment(ctx: ClaimContext) -> Evidence:
    s = ctx.settings
    ctx.expect(len(ctx.seeds))
    runs = []
    for seed in ctx.seeds:
        runs += ctx.arm(f"seed{seed}", lambda: compress_and_compare(s, seed, ctx.work_dir / "plots"), seed=seed)
    table = summarize(runs, ("method",), METRICS)
    for row in table:
        row["parameters"] = next(r["parameters"] for r in runs if r["method"] == row["method"])
    return Evidence(table, runs)


def compress_and_compare(s: dict, seed: int, plots) -> list[dict]:
    photo = load_dataset("motorcycle-depth", scale=s["scale"])
    scene = GaussianScene.from_arrays(gaussians_from_depth(photo))
    # Rendered at half the photo's resolution: about four Gaussians cover a pixel, as in a trained 3DGS scene.
    r = s["render_scale"]
    height, width = round(photo.shape[0] * r), round(photo.shape[1] * r)
    camera = PinholeCamera(
        photo.fx * r, photo.fy * r, photo.cx * r, photo.cy * r, height, width, torch.eye(3), torch.zeros(3)
    )
    cameras = orbit_cameras(camera, scene.positions.median(0).values, VIEW_DEGREES)
    references = [scene.render(c) for c in cameras]
    importance = importance_scores(scene, cameras)
    keep = torch.argsort(importance, descending=True)[: round(len(scene) * (1 - s["prune"]))]
    pruned, weights = scene.select(keep), importance[keep] / importance[keep].mean()
    original_bytes = len(scene) * FLOAT32_BYTES_PER_GAUSSIAN
    rows, renders = [], {}
    # NeuralGS's tiny MLPs get the bytes left for weights at the target ratio; the single MLP the same count.
    budget = original_bytes / s["target_ratio"] - field_bytes(len(pruned), s["clusters"], 0)
    target = int(budget // 2)
    for method, clusters in {"neuralgs": s["clusters"], "single_mlp": 1}.items():
        model, decoded, seconds, grid = fit_field(pruned, weights, clusters, s, seed, target)
        size = field_bytes(len(pruned), clusters, count_parameters(model))
        rows.append(score(method, decoded, pruned, weights, cameras, references, original_bytes / size, model))
        rows[-1]["decode_per_second"] = len(pruned) / seconds
        renders[method] = decoded.render(cameras[1])
    quantised, size = quantize_8bit(scene)
    rows.append(score("quantize_8bit", quantised, scene, importance / importance.mean(), cameras, references,
                      original_bytes / size, None))  # fmt: skip
    if s["prune"] > 0:  # what pruning alone costs
        rows.append(score("pruned_only", pruned, pruned, weights, cameras, references, 1 / (1 - s["prune"]), None))
    renders["quantize_8bit"] = quantised.render(cameras[1])
    for row in rows:
        row.update(seed=seed, gaussians=len(scene), kept=len(pruned))
    if seed == 0:
        draw_views(plots / f"neuralgs-views-scale{s['scale']}.png", photo.image, references[1], renders)
    return rows


def fit_field(pruned: GaussianScene, weights, clusters: int, s: dict, seed: int, target: int):
    """Fit ``clusters`` tiny MLPs (one MLP when 1) of ``target`` parameters in all to the pruned scene's
    attributes. Returns the model, the decoded scene, the decode time and the data."""
    if target < 100:
        raise ConfigError(
            f"neuralgs: target_ratio {s['target_ratio']} leaves {target} MLP parameters; lower it or prune more"
        )
    labels = (
        kmeans(pruned.positions, clusters, seed=seed)[0] if clusters > 1 else torch.zeros(len(pruned), dtype=torch.long)
    )
    attributes = pruned.attributes()
    mean, std = attributes.mean(0), attributes.std(0).clamp_min(1e-6)
    data = ClusteredAttributes(pruned.positions, (attributes - mean) / std, weights, labels)

    def count(width):
        return count_parameters(_field(clusters, [width] * s["layers"], s))

    model = _field(clusters, [matched_width(count, target)] * s["layers"], s)
    # Equal steps for every model: a step of K tiny MLPs on K x batch Gaussians costs the FLOPs of one step of
    # the single MLP (same parameters) on one batch.
    steps = max(1, len(pruned) // s["batch"])
    config = fit_config(seed, s["epochs"], s["batch"], s["lr"], steps_per_epoch=steps)
    Trainer(ImportanceWeightedFit(), model, config).fit(data, data)
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        outputs = model(data.local[data.members])
    decoded = data.decode_order(outputs) * std + mean
    seconds = time.perf_counter() - start
    positions = quantize_positions(pruned.positions, data)
    return model, GaussianScene.from_attributes(positions, decoded), seconds, data


def _field(clusters: int, hidden: list[int], s: dict):
    return create_model(
        "neuralgs_field", num_clusters=clusters, hidden_units=tuple(hidden), num_frequencies=s["frequencies"]
    )


def score(method, decoded, reference_scene, weights, cameras, references, ratio, model) -> dict:
    attributes = (decoded.attributes() - reference_scene.attributes()) / reference_scene.attributes().std(0)
    error = float((weights * attributes.pow(2).mean(1)).sum() / weights.sum())
    quality = [psnr(decoded.render(c), r) for c, r in zip(cameras, references)]
    return {
        "method": method,
        "render_psnr": sum(quality) / len(quality),
        "attribute_error": error,
        "size_ratio": ratio,
        "parameters": count_parameters(model) if model is not None else 0,
        "decode_per_second": float("nan"),
    }


def draw_views(path, photo, reference, renders: dict) -> None:
    def draw(axes):
        show_image(axes[0, 0], photo, "photograph")
        show_image(axes[0, 1], reference, "uncompressed Gaussians")
        for column, (method, image) in enumerate(renders.items(), start=2):
            show_image(axes[0, column], image, method)
            error = (image - reference).abs().mean(-1)
            show_image(axes[1, column], error, f"|error| {method}", cmap="inferno")
        for column in (0, 1):
            axes[1, column].axis("off")

    save_figure(path, draw, columns=2 + len(renders), rows=2)


def _standing(lead) -> str:
    """How NeuralGS stands against the single MLP, in words, for the verdict's reason."""
    if lead.wins:
        return ""
    return ", below it beyond 1 SE" if lead.loses else ", not beyond 1 SE"


def verdict(table: list[dict]) -> tuple[str, str]:
    """NeuralGS's MLPs are sized for a >= 10x size reduction (a guard: below it -> not reproduced). Then two
    checks: its render PSNR against the uncompressed scene is >= 30 dB (a small loss), and it beats the single
    MLP of equal size (parameters within 3 %, else not checkable here) in render PSNR beyond one SE. Both ->
    reproduced, one -> partly, none -> not reproduced."""
    rows = {row["method"]: row for row in table}
    ours, single, quant = rows["neuralgs"], rows["single_mlp"], rows["quantize_8bit"]
    if not parameters_match(ours["parameters"], single["parameters"]):
        return "not checkable here", (
            f"the single MLP has {single['parameters']:.0f} parameters against NeuralGS's {ours['parameters']:.0f} "
            "(not within 3 %)"
        )
    small_loss = ours["render_psnr_mean"] >= SMALL_LOSS_PSNR
    lead = compare(ours, single, "render_psnr")
    ratio_ok = ours["size_ratio_mean"] >= RATIO_GOAL
    verdict_ = outcome([small_loss, lead.wins]) if ratio_ok else "not reproduced"
    pruning = f"pruning alone {rows['pruned_only']['render_psnr_mean']:.2f} dB; " if "pruned_only" in rows else ""
    return verdict_, (
        f"NeuralGS {ours['size_ratio_mean']:.1f}x smaller at {ours['render_psnr_mean']:.2f} dB render PSNR "
        f"(goal >= {RATIO_GOAL:.0f}x at >= {SMALL_LOSS_PSNR:.0f} dB); single MLP of equal size "
        f"{single['render_psnr_mean']:.2f} dB (NeuralGS {lead}{_standing(lead)}); "
        f"{pruning}8-bit quantisation "
        f"{quant['size_ratio_mean']:.1f}x at {quant['render_psnr_mean']:.2f} dB; attribute error NeuralGS "
        f"{ours['attribute_error_mean']:.4f} vs single MLP {single['attribute_error_mean']:.4f}."
    )
