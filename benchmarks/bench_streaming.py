"""Streaming vs in-memory training on a synthetic Criteo file: peak memory and speed.

    python benchmarks/bench_streaming.py --rows 5000000 --in-memory-rows 1000000

Each path runs in its own subprocess so its peak resident memory (ru_maxrss) is its own:
(1) streaming: fit_schema_streaming on the first 90 % of rows, one epoch of a DNN (400-400-400)
    on a StreamingTable over those rows, validation on the last 10 % (row_range);
(2) in-memory: pandas reads the first ``--in-memory-rows`` rows, schema.fit, encode, TensorTable,
    same model, same 90/10 split.
Writes benchmarks/out/streaming.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def train(schema, train_data, valid_data, args) -> dict:
    import torch

    import mlpzoo

    torch.manual_seed(0)
    model = mlpzoo.create_model("dnn", schema=schema, hidden_units=(400, 400, 400))
    config = {"epochs": args.epochs, "batch_size": args.batch_size, "progress": False, "save_checkpoints": False}
    trainer = mlpzoo.Trainer(mlpzoo.get_task("binary_ctr"), model, config)
    start = time.perf_counter()
    result = trainer.fit(train_data, valid_data)
    return {
        "fit_seconds": time.perf_counter() - start,
        "train_seconds": result.train_seconds,
        "train_rows_per_s": result.train_samples_per_second,
        "valid_auc": result.metrics["valid"]["auc"],
        "valid_logloss": result.metrics["valid"]["logloss"],
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def run_streaming(args) -> dict:
    from mlpzoo.data.readers import count_rows
    from mlpzoo.data.streaming import CRITEO_COLUMNS, StreamingTable, criteo_schema, fit_schema_streaming

    path, kw = Path(args.path), {"column_names": CRITEO_COLUMNS, "delimiter": "\t"}
    start = time.perf_counter()
    n = count_rows(path, header=False)
    cut = int(n * 0.9)
    schema = fit_schema_streaming(criteo_schema(args.min_count), path, block_rows=args.block_rows, max_rows=cut, **kw)
    fit_schema_s = time.perf_counter() - start
    tables = dict(block_rows=args.block_rows, shuffle_blocks=args.shuffle_blocks, **kw)
    train_data = StreamingTable(path, schema, row_range=(0, cut), **tables)
    valid_data = StreamingTable(path, schema, row_range=(cut, n), **tables)
    start = time.perf_counter()
    scanned = sum(len(b["label"]) for b in valid_data.iter_batches(args.batch_size))
    scan_rows_per_s = scanned / (time.perf_counter() - start)
    rss_before_training = peak_rss_gib()
    out = {
        "rows": n,
        "train_rows": cut,
        "valid_rows": n - cut,
        "fit_schema_seconds": fit_schema_s,
        "fit_schema_rows_per_s": cut / fit_schema_s,
        "read_encode_rows_per_s": scan_rows_per_s,
        "vocab_rows": sum(schema.vocab_sizes()),
        "peak_rss_gib_before_training": rss_before_training,
    }
    out.update(train(schema, train_data, valid_data, args))
    out["peak_rss_gib"] = peak_rss_gib()
    return out


def run_in_memory(args) -> dict:
    import pandas as pd

    from mlpzoo.data.streaming import CRITEO_COLUMNS, criteo_schema

    start = time.perf_counter()
    frame = pd.read_csv(
        args.path,
        sep="\t",
        header=None,
        names=CRITEO_COLUMNS,
        nrows=args.in_memory_rows,
        dtype={c: str for c in CRITEO_COLUMNS[14:]},
    )
    read_s = time.perf_counter() - start
    cut = int(len(frame) * 0.9)
    start = time.perf_counter()
    schema = criteo_schema(args.min_count).fit(frame.iloc[:cut])
    train_data, valid_data = schema.encode(frame.iloc[:cut], "train"), schema.encode(frame.iloc[cut:], "valid")
    encode_s = time.perf_counter() - start
    rss_before_training = peak_rss_gib()
    del frame
    out = {
        "rows": cut + len(valid_data),
        "train_rows": cut,
        "valid_rows": len(valid_data),
        "read_seconds": read_s,
        "fit_encode_seconds": encode_s,
        "vocab_rows": sum(schema.vocab_sizes()),
        "peak_rss_gib_before_training": rss_before_training,
    }
    out.update(train(schema, train_data, valid_data, args))
    out["peak_rss_gib"] = peak_rss_gib()
    return out


def run_generate(args) -> dict:
    from mlpzoo.data.streaming import write_synthetic_criteo

    start = time.perf_counter()
    write_synthetic_criteo(args.path, args.rows, seed=args.seed)
    seconds = time.perf_counter() - start
    return {
        "rows": args.rows,
        "seconds": seconds,
        "rows_per_s": args.rows / seconds,
        "file_gib": Path(args.path).stat().st_size / 2**30,
        "peak_rss_gib": peak_rss_gib(),
    }


PHASES = {"generate": run_generate, "streaming": run_streaming, "in_memory": run_in_memory}


def subprocess_phase(phase: str, argv: list[str]) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--phase", phase, *argv], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"phase {phase} failed (exit {proc.returncode})")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(lines[-1][len("RESULT ") :])
    result["wall_seconds"] = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--in-memory-rows", type=int, default=1_000_000)
    parser.add_argument("--block-rows", type=int, default=262_144)
    parser.add_argument("--shuffle-blocks", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--min-count", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--path", type=str, default=None, help="Criteo-format TSV (default benchmarks/out/criteo_<rows>.tsv)"
    )
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.path = args.path or str(OUT / f"criteo_{args.rows}.tsv")
    if args.phase:
        print("RESULT " + json.dumps(PHASES[args.phase](args)), flush=True)
        return

    forwarded = [a for a in (argv if argv is not None else sys.argv[1:])]
    forwarded += ["--path", args.path]
    results: dict = {"args": {k: v for k, v in vars(args).items() if k != "phase"}, "machine": platform.platform()}
    if not Path(args.path).exists():
        results["generate"] = subprocess_phase("generate", forwarded)
        g = results["generate"]
        print(
            f"generated {g['rows']:,} rows ({g['file_gib']:.2f} GiB) in {g['seconds']:.1f} s ({g['rows_per_s']:,.0f} "
            "rows/s)"
        )
    results["streaming"] = subprocess_phase("streaming", forwarded)
    if args.in_memory_rows:
        results["in_memory"] = subprocess_phase("in_memory", forwarded)

    s = results["streaming"]
    print(
        f"\nstreaming: fit_schema {s['fit_schema_seconds']:.1f} s ({s['fit_schema_rows_per_s']:,.0f} rows/s), "
        f"read+encode {s['read_encode_rows_per_s']:,.0f} rows/s, vocab rows {s['vocab_rows']:,}"
    )
    if "in_memory" in results:
        m = results["in_memory"]
        print(
            f"in-memory: read {m['read_seconds']:.1f} s, fit+encode {m['fit_encode_seconds']:.1f} s, vocab rows "
            f"{m['vocab_rows']:,}"
        )
    header = (
        f"{'path':<10} {'rows':>10} {'peak RSS GiB':>12} {'train rows/s':>13} "
        f"{'train s':>8} {'fit s':>8} {'wall s':>8} {'valid AUC':>9}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for name in ("streaming", "in_memory"):
        if name in results:
            r = results[name]
            print(
                f"{name:<10} {r['rows']:>10,} {r['peak_rss_gib']:>12.2f} {r['train_rows_per_s']:>13,.0f} "
                f"{r['train_seconds']:>8.1f} {r['fit_seconds']:>8.1f} {r['wall_seconds']:>8.1f} {r['valid_auc']:>9.4f}"
            )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "streaming.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {OUT / 'streaming.json'}")


if __name__ == "__main__":
    main()
