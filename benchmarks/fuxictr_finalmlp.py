"""FuxiCTR 2.3.10 on mlpzoo's Frappe split: FinalMLP's training throughput side by side, and the
converged test AUC of FinalMLP and DCN over seeds (the reference numbers of the finalmlp claim's
calibration rows).

FuxiCTR is never a dependency of mlpzoo: it lives in a throwaway venv (see README.md here).
This one file runs in two interpreters, chosen by ``--phase``:

* phase ``prepare`` (default, the system Python with mlpzoo installed): read Frappe exactly as
  mlpzoo does (validation + test libfm files, ``standard_split``), write train/valid/test CSV
  files with ``label`` + the 10 fields as integers, then launch phase ``train`` with
  ``--fuxictr-python``.
* phase ``train`` (the venv's Python, never imports mlpzoo): FuxiCTR's FeatureProcessor ->
  build_dataset -> RankDataLoader, the model (``--model``: FinalMLP or DCN from FuxiCTR's own
  model_zoo source with ``--model-zoo``; else a FinalMLP written here from FuxiCTR's public blocks),
  with the BARS Frappe_x1 settings mlpzoo registers as defaults, then
  (1) a timed run of ``--epochs`` epochs without early stopping, where each epoch's training
  loop is timed with the validation pass subtracted (skipped with ``--skip-timed``), and (2)
  ``--seeds`` runs with early stopping (patience 2 on validation AUC) to convergence, seeds
  2021, 2022, ..., reporting each run's test AUC / logloss and their mean and sd.

Usage::

    python benchmarks/fuxictr_finalmlp.py --fuxictr-python /tmp/fx/bin/python [--epochs 5] [--threads 2]
    # the reference numbers of the finalmlp claim's calibration rows (FUXICTR in mlpzoo.claims.finalmlp), with
    # FuxiCTR's own model_zoo source (git archive of its v2.3.10 tree: model_zoo/FinalMLP, model_zoo/DCN/DCN_torch):
    python benchmarks/fuxictr_finalmlp.py --skip-timed --seeds 5 --model-zoo /tmp/fuxictr-zoo
    python benchmarks/fuxictr_finalmlp.py --model dcn --skip-timed --seeds 5 --model-zoo /tmp/fuxictr-zoo

Writes one JSON line to stdout and to ``--out`` (default ``benchmarks/out/fuxictr.json``; with
``--skip-timed``, ``benchmarks/out/fuxictr-<model>-calibration.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_WORK = HERE / "out" / "fuxictr"
DEFAULT_OUT = HERE / "out" / "fuxictr.json"
DEFAULT_DATA = Path("/work/shared/data/frappe")
FIELDS = ["user", "item", "daytime", "weekday", "isweekend", "homework", "cost", "weather", "country", "city"]
SEED = 2021
NAMES = {"finalmlp": "FinalMLP", "dcn": "DCN"}
# The BARS Frappe_x1 settings, equal to mlpzoo's registered defaults for the two models.
MODEL_SETTINGS = {
    "finalmlp": dict(
        mlp1_hidden_units=[400],
        mlp2_hidden_units=[100],
        mlp1_dropout=0.4,
        mlp2_dropout=0.4,
        mlp1_batch_norm=True,
        mlp2_batch_norm=True,
        use_fs=True,
        fs_hidden_units=[400],
        fs1_context=["user"],
        fs2_context=["item"],
        num_heads=5,
    ),
    "dcn": dict(dnn_hidden_units=[400, 400, 400], num_cross_layers=3, net_dropout=0.2, batch_norm=True),
}
# Where FuxiCTR keeps each model's own source in its repository (model_zoo is not in the pip package).
ZOO_SOURCES = {"finalmlp": "model_zoo/FinalMLP", "dcn": "model_zoo/DCN/DCN_torch"}


# ----------------------------------------------------------------------------- phase 1 (mlpzoo)


def prepare(args) -> None:
    from mlpzoo.data.datasets import FRAPPE_FIELDS, standard_split
    from mlpzoo.data.readers import read_libfm_frame

    assert list(FRAPPE_FIELDS) == FIELDS, FRAPPE_FIELDS
    data_dir = Path(args.data_dir)
    frame = read_libfm_frame([data_dir / "frappe.validation.libfm", data_dir / "frappe.test.libfm"], FRAPPE_FIELDS)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    table = frame[["label"] + FRAPPE_FIELDS].astype("int64")
    for name, idx in zip(("train", "valid", "test"), standard_split(len(frame))):
        table.iloc[idx].to_csv(work / f"{name}.csv", index=False)
        print(f"[prepare] {name}: {len(idx)} rows -> {work / f'{name}.csv'}", file=sys.stderr)
    cmd = [
        args.fuxictr_python,
        str(Path(__file__).resolve()),
        "--phase",
        "train",
        "--work-dir",
        str(work),
        "--out",
        str(args.out),
        "--epochs",
        str(args.epochs),
        "--threads",
        str(args.threads),
        "--max-epochs",
        str(args.max_epochs),
        "--data-format",
        args.data_format,
        "--model",
        args.model,
        "--seeds",
        str(args.seeds),
        *(["--model-zoo", str(Path(args.model_zoo).resolve())] if args.model_zoo else []),
    ]
    for flag in ("skip_converge", "skip_timed"):
        if getattr(args, flag):
            cmd.append("--" + flag.replace("_", "-"))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    sys.exit(subprocess.call(cmd, env=env))


# ----------------------------------------------------------------------------- phase 2 (FuxiCTR)


def zoo_model_class(model: str, zoo: str):
    """The model class of FuxiCTR's own model_zoo (a checkout or export of its repository at ``zoo``)."""
    import importlib

    # Each model's folder holds a package named ``src``: one model per process, so the name is free.
    sys.path.insert(0, str(Path(zoo) / ZOO_SOURCES[model]))
    return timed(getattr(importlib.import_module("src"), NAMES[model]))


def build_model_classes():
    """FinalMLP for FuxiCTR, from fuxictr's public building blocks (defined lazily: torch only here),
    wrapped so its epochs are timed."""
    import torch
    from fuxictr.pytorch.layers import FeatureEmbedding, MLP_Block
    from fuxictr.pytorch.models import BaseModel
    from torch import nn

    class FeatureSelection(nn.Module):
        """Per-stream gates ``2 * sigmoid(MLP(context embeddings))`` applied to the flat embeddings."""

        def __init__(self, feature_map, feature_dim, embedding_dim, hidden_units, contexts):
            super().__init__()
            self.context_embeddings = nn.ModuleList(
                FeatureEmbedding(feature_map, embedding_dim, required_feature_columns=ctx) for ctx in contexts
            )
            self.gates = nn.ModuleList(
                MLP_Block(
                    input_dim=embedding_dim * len(ctx),
                    hidden_units=hidden_units,
                    hidden_activations="ReLU",
                    output_dim=feature_dim,
                    output_activation="Sigmoid",
                    batch_norm=False,
                )
                for ctx in contexts
            )

        def forward(self, X, flat_emb):
            return [
                flat_emb * (gate(emb(X, flatten_emb=True)) * 2)
                for emb, gate in zip(self.context_embeddings, self.gates)
            ]

    class InteractionAggregation(nn.Module):
        """``w_x(x) + w_y(y) + sum_h x_h^T W_h y_h`` over ``num_heads`` equal chunks of x and y."""

        def __init__(self, x_dim, y_dim, num_heads=1):
            super().__init__()
            assert x_dim % num_heads == 0 and y_dim % num_heads == 0, (x_dim, y_dim, num_heads)
            self.num_heads = num_heads
            self.x_head, self.y_head = x_dim // num_heads, y_dim // num_heads
            self.w_x = nn.Linear(x_dim, 1)
            self.w_y = nn.Linear(y_dim, 1)
            self.w_xy = nn.Parameter(torch.empty(num_heads * self.x_head * self.y_head, 1))
            nn.init.xavier_normal_(self.w_xy)

        def forward(self, x, y):
            batch = x.size(0)
            xh = x.view(batch, self.num_heads, 1, self.x_head)  # (B, H, 1, dx)
            yh = y.view(batch, self.num_heads, self.y_head, 1)  # (B, H, dy, 1)
            W = self.w_xy.view(self.num_heads, self.x_head, self.y_head)  # (H, dx, dy)
            bilinear = torch.matmul(torch.matmul(xh, W), yh).view(batch, self.num_heads)  # (B, H)
            return self.w_x(x) + self.w_y(y) + bilinear.sum(dim=1, keepdim=True)

    class FinalMLP(BaseModel):
        def __init__(
            self,
            feature_map,
            model_id="FinalMLP",
            gpu=-1,
            learning_rate=1e-3,
            embedding_dim=10,
            mlp1_hidden_units=(400,),
            mlp2_hidden_units=(100,),
            mlp1_dropout=0.4,
            mlp2_dropout=0.4,
            mlp1_batch_norm=True,
            mlp2_batch_norm=True,
            use_fs=True,
            fs_hidden_units=(400,),
            fs1_context=("user",),
            fs2_context=("item",),
            num_heads=5,
            embedding_regularizer=None,
            net_regularizer=None,
            **kwargs,
        ):
            super().__init__(
                feature_map,
                model_id=model_id,
                gpu=gpu,
                embedding_regularizer=embedding_regularizer,
                net_regularizer=net_regularizer,
                **kwargs,
            )
            feature_dim = embedding_dim * feature_map.num_fields
            self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
            self.fs_module = FeatureSelection(
                feature_map, feature_dim, embedding_dim, list(fs_hidden_units), [list(fs1_context), list(fs2_context)]
            )
            self.mlp1 = MLP_Block(
                input_dim=feature_dim,
                hidden_units=list(mlp1_hidden_units),
                hidden_activations="ReLU",
                output_dim=None,
                dropout_rates=mlp1_dropout,
                batch_norm=mlp1_batch_norm,
            )
            self.mlp2 = MLP_Block(
                input_dim=feature_dim,
                hidden_units=list(mlp2_hidden_units),
                hidden_activations="ReLU",
                output_dim=None,
                dropout_rates=mlp2_dropout,
                batch_norm=mlp2_batch_norm,
            )
            self.fusion = InteractionAggregation(mlp1_hidden_units[-1], mlp2_hidden_units[-1], num_heads=num_heads)
            self.compile(kwargs["optimizer"], kwargs["loss"], learning_rate)
            self.reset_parameters()
            self.model_to_device()

        def forward(self, inputs):
            X = self.get_inputs(inputs)
            flat_emb = self.embedding_layer(X, flatten_emb=True)
            feat1, feat2 = self.fs_module(X, flat_emb)
            y_pred = self.output_activation(self.fusion(self.mlp1(feat1), self.mlp2(feat2)))
            return {"y_pred": y_pred}

    return timed(FinalMLP)


def timed(model_class):
    """``model_class`` with its epochs timed (defined lazily: fuxictr is imported only in phase 2)."""

    class Timed(model_class):
        """Records, per epoch, the wall time of ``train_epoch`` minus the validation pass inside it
        (batch loading included), and separately the time spent inside ``train_step``."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.epoch_seconds, self.eval_seconds, self.step_seconds, self.valid_logs = [], [], [], []
            self._eval_in_epoch = self._step_in_epoch = 0.0

        def train_step(self, batch_data):
            t0 = time.perf_counter()
            loss = super().train_step(batch_data)
            self._step_in_epoch += time.perf_counter() - t0
            return loss

        def eval_step(self):
            t0 = time.perf_counter()
            self.valid_logs.append(dict(self.evaluate(self.valid_gen, metrics=self._monitor.get_metrics())))
            self.checkpoint_and_earlystop(self.valid_logs[-1])
            self.train()
            self._eval_in_epoch += time.perf_counter() - t0

        def train_epoch(self, data_generator):
            self._eval_in_epoch = self._step_in_epoch = 0.0
            t0 = time.perf_counter()
            super().train_epoch(data_generator)
            total = time.perf_counter() - t0
            self.epoch_seconds.append(total - self._eval_in_epoch)
            self.eval_seconds.append(self._eval_in_epoch)
            self.step_seconds.append(self._step_in_epoch)

    return Timed


def _to_npz(parquet_path: str) -> str:
    import numpy as np
    import pandas as pd

    frame = pd.read_parquet(parquet_path)
    npz_path = parquet_path[: -len(".parquet")] + ".npz"
    np.savez(npz_path, **{c: frame[c].to_numpy() for c in frame.columns})
    return npz_path


def train(args) -> None:
    import logging

    import fuxictr
    import polars as pl
    import torch
    from fuxictr.features import FeatureMap
    from fuxictr.preprocess import FeatureProcessor, build_dataset
    from fuxictr.pytorch.dataloaders import RankDataLoader
    from fuxictr.pytorch.torch_utils import seed_everything

    torch.set_num_threads(args.threads)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(message)s"
    )
    work = Path(args.work_dir)
    dataset_id = "frappe_mlpzoo_split"
    processor = FeatureProcessor(
        feature_cols=[{"name": FIELDS, "active": True, "dtype": "str", "type": "categorical"}],
        label_col={"name": "label", "dtype": "float"},
        dataset_id=dataset_id,
        data_root=str(work),
    )
    t0 = time.perf_counter()
    # FuxiCTR 2.3.10's CSV reader passes ``dtypes=`` to polars.scan_csv, which polars >= 2.0
    # removed; so feed build_dataset parquet (its other input format) holding the same columns,
    # typed as declared (fields as strings, label float).
    raw = {}
    for split in ("train", "valid", "test"):
        raw[split] = str(work / f"{split}_raw.parquet")
        (
            pl.read_csv(work / f"{split}.csv", schema_overrides={f: pl.String for f in FIELDS})
            .with_columns(pl.col("label").cast(pl.Float64))
            .write_parquet(raw[split])
        )
    train_data, valid_data, test_data = build_dataset(
        processor,
        train_data=raw["train"],
        valid_data=raw["valid"],
        test_data=raw["test"],
        data_format="parquet",
        min_categr_count=1,
    )
    build_seconds = time.perf_counter() - t0
    feature_map = FeatureMap(dataset_id, os.path.join(str(work), dataset_id))
    feature_map.load(os.path.join(feature_map.data_dir, "feature_map.json"), params={"embedding_dim": 10})
    if args.data_format == "npz":
        train_data, valid_data, test_data = (_to_npz(p) for p in (train_data, valid_data, test_data))

    os.makedirs(work / "checkpoints" / dataset_id, exist_ok=True)
    Model = zoo_model_class(args.model, args.model_zoo) if args.model_zoo else build_model_classes()
    common = dict(
        gpu=-1,
        learning_rate=1e-3,
        embedding_dim=10,
        embedding_regularizer=0.05,
        net_regularizer=0,
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["AUC", "logloss"],
        monitor="AUC",
        monitor_mode="max",
        verbose=0,
        model_root=str(work / "checkpoints"),
        **MODEL_SETTINGS[args.model],
    )
    name = NAMES[args.model]

    def loaders():
        return RankDataLoader(
            feature_map,
            stage="both",
            train_data=train_data,
            valid_data=valid_data,
            test_data=test_data,
            batch_size=4096,
            shuffle=True,
            data_format=args.data_format,
        )

    def load_line():
        try:
            return [round(x, 2) for x in os.getloadavg()]
        except OSError:
            return None

    result = {
        "implementation": f"FuxiCTR {fuxictr.__version__} {name} "
        + (f"(its model_zoo source, {args.model_zoo})" if args.model_zoo else "(written from fuxictr blocks)"),
        "model": args.model,
        "settings": {k: v for k, v in common.items() if k != "model_root"},
        "fuxictr_version": fuxictr.__version__,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "data_format": args.data_format,
        "batch_size": 4096,
        "build_dataset_seconds": build_seconds,
    }
    # (1) timed run: fixed epochs, no early stop, validation time subtracted from each epoch.
    if not args.skip_timed:
        seed_everything(SEED)
        train_gen, valid_gen, test_gen = loaders()
        n_train = train_gen.num_samples
        model = Model(feature_map, model_id=f"{name}_timed", early_stop_patience=10**6, **common)
        load_before = load_line()
        model.fit(train_gen, validation_data=valid_gen, epochs=args.epochs)
        load_after = load_line()
        per_epoch = [n_train / s for s in model.epoch_seconds]
        result.update(
            train_rows=n_train,
            epochs=args.epochs,
            samples_per_s=statistics.median(per_epoch),
            samples_per_s_per_epoch=per_epoch,
            epoch_seconds=model.epoch_seconds,
            eval_seconds=model.eval_seconds,
            # forward + backward + optimizer step only (no batch loading): separates loader cost from compute
            step_seconds=model.step_seconds,
            step_only_samples_per_s=statistics.median(n_train / s for s in model.step_seconds),
            first_epoch_included_in_median=True,
            timed_valid_auc=[logs.get("AUC") for logs in model.valid_logs],
            loadavg_before_after=[load_before, load_after],
            num_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        )

    # (2) converged runs: early stopping on validation AUC (patience 2, FuxiCTR's lr decay on plateau),
    # then the best checkpoint's test metrics; one run per seed.
    if not args.skip_converge:
        runs = []
        for seed in range(SEED, SEED + args.seeds):
            seed_everything(seed)
            train_gen, valid_gen, test_gen = loaders()
            n_train = train_gen.num_samples
            model = Model(feature_map, model_id=f"{name}_converged_seed{seed}", early_stop_patience=2, **common)
            t0 = time.perf_counter()
            model.fit(train_gen, validation_data=valid_gen, epochs=args.max_epochs)
            seconds = time.perf_counter() - t0
            aucs = [logs["AUC"] for logs in model.valid_logs]
            best = max(range(len(aucs)), key=lambda i: aucs[i])
            test = model.evaluate(test_gen)
            valid = model.evaluate(valid_gen)
            runs.append(
                {
                    "seed": seed,
                    "test": {"auc": test["AUC"], "logloss": test["logloss"]},
                    "valid": {"auc": valid["AUC"], "logloss": valid["logloss"]},
                    "best_epoch": best + 1,
                    "epochs": len(aucs),
                    "seconds": seconds,
                    "median_train_samples_per_s": statistics.median(n_train / s for s in model.epoch_seconds),
                    "num_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
                }
            )
            print(f"[{args.model}] seed {seed}: test AUC {test['AUC']:.4f} after {len(aucs)} epochs", file=sys.stderr)
        aucs = [run["test"]["auc"] for run in runs]
        result["converged"] = runs[0]  # the first seed, as before
        result["converged_runs"] = runs
        result["test_auc_mean"] = statistics.mean(aucs)
        result["test_auc_sd"] = statistics.stdev(aucs) if len(aucs) > 1 else None
        result["loadavg_end"] = load_line()

    line = json.dumps(result)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(line + "\n")
    print(line)
    try:
        import ray

        ray.shutdown()
    except Exception:
        pass


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phase", choices=("prepare", "train"), default="prepare")
    p.add_argument("--fuxictr-python", default="/tmp/fx/bin/python", help="the throwaway venv's python")
    p.add_argument("--epochs", type=int, default=5, help="epochs of the timed run")
    p.add_argument("--max-epochs", type=int, default=100, help="cap for the early-stopping run")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--data-format",
        choices=("parquet", "npz"),
        default="parquet",
        help="parquet: FuxiCTR 2.3.10's build_dataset output with its Ray ParquetDataLoader; "
        "npz: the same data converted for its torch NpzDataLoader",
    )
    p.add_argument("--model", choices=("finalmlp", "dcn"), default="finalmlp")
    p.add_argument("--seeds", type=int, default=1, help="converged runs, seeds 2021, 2022, ...")
    p.add_argument(
        "--model-zoo",
        default=None,
        help="a checkout or export of FuxiCTR's repository (the release's tag): take the model from its "
        "model_zoo source instead of the version written here from fuxictr's blocks",
    )
    p.add_argument("--skip-converge", action="store_true", help="only the timed run")
    p.add_argument("--skip-timed", action="store_true", help="only the converged runs")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    p.add_argument("--work-dir", default=str(DEFAULT_WORK))
    p.add_argument("--out", default=None, help="the JSON line's file (default: see above)")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.model != "finalmlp" and not args.model_zoo:
        p.error(f"--model {args.model} needs --model-zoo (FuxiCTR's own source; only FinalMLP is written here)")
    if args.out is None:
        args.out = str(HERE / "out" / f"fuxictr-{args.model}-calibration.json") if args.skip_timed else str(DEFAULT_OUT)
    (prepare if args.phase == "prepare" else train)(args)


if __name__ == "__main__":
    main()
