"""Wall time of ``mlpzoo reproduce ID --budget quick`` for every implemented claim (target: 60 s each on 2 cores).

    python benchmarks/bench_quick.py [--claims finalmlp,din] [--threads 1] [--limit 600]

Each claim runs in its own process, exactly as a user would start it (``python -m mlpzoo.cli reproduce
ID --budget quick --threads N --runs-dir TMP --yes``), in a fresh runs folder so nothing is resumed from an
earlier run; the wall time therefore includes Python start-up, imports and data loading. A claim whose data
is missing is reported as ``not checked`` (exit 2), one that fails or runs past ``--limit`` seconds as such.
Machine load changes these figures: run it on an idle machine and record ``uptime``'s load beside them.
Writes benchmarks/out/quick.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
TARGET_S = 60.0


def time_claim(paper_id: str, threads: int, limit: float) -> dict:
    """One quick run in a subprocess: wall seconds, exit status, verdict line."""
    with tempfile.TemporaryDirectory(prefix=f"quick-{paper_id}-") as runs:
        command = [
            sys.executable,
            "-m",
            "mlpzoo.cli",
            "reproduce",
            paper_id,
            "--budget",
            "quick",
            "--threads",
            str(threads),
            "--runs-dir",
            runs,
            "--yes",
        ]
        start = time.perf_counter()
        try:
            done = subprocess.run(
                command, check=False, capture_output=True, text=True, timeout=limit, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            return {
                "claim": paper_id,
                "seconds": time.perf_counter() - start,
                "status": f"over {limit:.0f} s",
                "verdict": "",
            }
        seconds = time.perf_counter() - start
    lines = done.stdout.splitlines()
    verdict = next(
        (line.split("—")[0].removeprefix("verdict:").strip() for line in lines if line.startswith("verdict:")), ""
    )
    status = {0: "ok", 2: "not checked" if "not checked" in done.stdout else "error"}.get(done.returncode, "error")
    row = {"claim": paper_id, "seconds": seconds, "status": status, "verdict": verdict}
    if status == "error":
        row["error"] = (done.stderr or done.stdout).strip().splitlines()[-1:]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", default=None, help="Comma-separated claim ids (default: every implemented claim).")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=float, default=600.0, help="Seconds after which a claim's run is stopped.")
    args = parser.parse_args()
    from mlpzoo.claims import implemented_claims

    claims = args.claims.split(",") if args.claims else implemented_claims()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    for paper_id in claims:
        row = time_claim(paper_id, args.threads, args.limit)
        rows.append(row)
        flag = "" if row["seconds"] <= TARGET_S else f"  (over the {TARGET_S:.0f} s target)"
        print(f"{paper_id:<18} {row['seconds']:7.1f} s  {row['status']:<12} {row['verdict']}{flag}", flush=True)
    finished = [r["seconds"] for r in rows if r["status"] == "ok"]
    summary = {
        "threads": args.threads,
        "cores": os.cpu_count(),
        "load_average_at_start": load,
        "target_s": TARGET_S,
        "total_s": sum(r["seconds"] for r in rows),
        "over_target": [r["claim"] for r in rows if r["seconds"] > TARGET_S],
        "rows": rows,
    }
    if finished:
        over = ", ".join(summary["over_target"]) or "none"
        print(f"{len(finished)} claim(s) ran in {sum(finished):.0f} s; over {TARGET_S:.0f} s: {over}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "quick.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
