"""Write a synthetic Criteo-format TSV (no header: label, I1..I13, C1..C26) in bounded memory.

    python benchmarks/make_criteo.py --rows 5000000 --out benchmarks/out/criteo_5000000.tsv

The generator is :func:`mlpzoo.data.streaming.write_synthetic_criteo` (tests use it too).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mlpzoo.data.streaming import write_synthetic_criteo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-rows", type=int, default=250_000, help="rows generated and written at a time")
    parser.add_argument("--max-cardinality", type=int, default=100_000, help="largest categorical cardinality")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    path = write_synthetic_criteo(
        args.out, args.rows, seed=args.seed, chunk_rows=args.chunk_rows, max_cardinality=args.max_cardinality
    )
    seconds = time.perf_counter() - start
    size = path.stat().st_size / 2**20
    print(f"wrote {args.rows:,} rows ({size:,.1f} MiB) to {path} in {seconds:.1f} s: {args.rows / seconds:,.0f} rows/s")


if __name__ == "__main__":
    main()
