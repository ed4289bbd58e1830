"""Each claim's full-budget wall time, from the verdict ledger, against the budget rule.

    python benchmarks/bench_claims.py [--results-dir results] [--check]
    python benchmarks/bench_claims.py --run din mamba [--record] [--threads 2]

Reads ``results/claims/<id>.json`` (see :mod:`mlpzoo.claims.ledger`) and prints per implemented claim
its full-budget wall time, seeds and the machine it ran on, then the median and maximum against the
rule of issue 13 (median <= 20 min, none over 60 min, all together <= 8 h on the project's 2-core
machine). Claims without an entry are listed. An entry re-judged from stored arms (``resumed_arms``,
about 0 s: a verdict-text change re-applied to the same runs) is timed by the wall time of the
earlier entry in the git history whose runs it re-judged (same per-arm records), and says which.
It runs nothing unless asked: ``--run ID...`` (or
``--run all``) runs those claims at the full budget here, resuming any interrupted run, prints their
wall times and, with ``--record``, writes their ledger entries. ``--check`` exits 1 when an entry is
missing or the rule is broken. Wall times taken on a busy machine overstate the budget: say so.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mlpzoo.claims import implemented_claims
from mlpzoo.claims.ledger import default_results_dir, read_entries

MEDIAN_LIMIT_MIN, MAX_LIMIT_MIN, TOTAL_LIMIT_H = 20, 60, 8


def run_claims(ids: list[str], record: bool, runs_dir: Path, results_dir: Path) -> None:
    """Run each claim at the full budget in this process (resuming stored arms) and print its wall time."""
    from mlpzoo.claims import run
    from mlpzoo.claims.base import get_budget
    from mlpzoo.claims.ledger import record as record_entry

    for paper_id in ids:
        start = time.perf_counter()
        result = run(paper_id, get_budget("full"), runs_dir=runs_dir, log=lambda line: None)
        folder = result.save(runs_dir)
        minutes = (time.perf_counter() - start) / 60
        print(
            f"ran {paper_id}: {minutes:.1f} min wall ({result.seconds / 60:.1f} min in the claim), "
            f"verdict {result.verdict}"
        )
        if record:
            print(f"  ledger entry: {record_entry(result, results_dir, run_folder=folder, runs_dir=runs_dir)}")


def _git(results_dir: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(results_dir), *args], capture_output=True, text=True, check=False)
    except OSError:  # no git: resumed entries keep their lower bound
        return None
    return done.stdout if done.returncode == 0 else None


def earlier_run(results_dir: Path, paper_id: str, entry: dict) -> tuple[float, str] | None:
    """``(seconds, commit)`` of the newest earlier ledger entry for ``paper_id`` that ran (not resumed) the same
    arms, i.e. has the same per-arm records; None when git or such an entry is missing."""
    path = f"claims/{paper_id}.json"
    commits = _git(results_dir, "log", "--format=%H", "--", path)
    for commit in (commits or "").split():
        text = _git(results_dir, "show", f"{commit}:./{path}")
        if text is None:
            continue
        try:
            old = json.loads(text)
        except ValueError:
            continue
        if not old.get("resumed_arms") and old.get("runs") == entry.get("runs"):
            return float(old["seconds"]), commit[:7]
    return None


def report(results_dir: Path) -> bool:
    """Print the wall-time table and the rule; True when every claim has an entry and the rule holds."""
    entries = read_entries(results_dir)
    claims = implemented_claims()
    timed = [(pid, entries[pid]) for pid in claims if pid in entries and entries[pid]["budget"] == "full"]
    missing = [pid for pid in claims if pid not in dict(timed)]
    seconds, flags = {}, {}
    for paper_id, entry in timed:
        seconds[paper_id], flags[paper_id] = entry["seconds"], ""
        if entry.get("resumed_arms"):
            found = earlier_run(results_dir, paper_id, entry)
            if found is not None:
                seconds[paper_id] = found[0]
                flags[paper_id] = f"  re-judged from the runs of the entry at {found[1]} (its wall time)"
            else:
                flags[paper_id] = (
                    f"  resumed ({entry['resumed_arms']} arms from an earlier session: the time is a lower bound)"
                )
    print(f"{'claim':<18} {'minutes':>8} {'seeds':>5}  machine")
    for paper_id, entry in sorted(timed, key=lambda item: -seconds[item[0]]):
        env = entry.get("environment") or {}
        machine = f"{env.get('cores', '?')} cores, {env.get('threads', '?')} threads, {env.get('cpu', '?')}"
        load = env.get("load_1min") or {}
        if load.get("start") is not None:
            machine += f", load {load['start']:.1f} -> {load.get('end') or 0:.1f}"
        flag = ("  over 60 min" if seconds[paper_id] > MAX_LIMIT_MIN * 60 else "") + flags[paper_id]
        print(f"{paper_id:<18} {seconds[paper_id] / 60:>8.1f} {len(entry['seeds']):>5}  {machine}{flag}")
    if missing:
        print(f"no full-budget entry ({len(missing)}): {', '.join(missing)}")
    if not timed:
        print("no full-budget entries to time; record some with 'mlpzoo reproduce ID --budget full --record'")
        return False
    minutes = [seconds[paper_id] / 60 for paper_id, _ in timed]
    median, largest, total_h = statistics.median(minutes), max(minutes), sum(minutes) / 60
    holds = median <= MEDIAN_LIMIT_MIN and largest <= MAX_LIMIT_MIN and total_h <= TOTAL_LIMIT_H
    print(
        f"median {median:.1f} min (limit {MEDIAN_LIMIT_MIN}), max {largest:.1f} min (limit {MAX_LIMIT_MIN}), "
        f"total {total_h:.2f} h (limit {TOTAL_LIMIT_H}) over {len(timed)} of {len(claims)} claims: "
        f"{'within the rule' if holds else 'RULE BROKEN'}"
    )
    return holds and not missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--results-dir", type=Path, default=None, help="the ledger's folder (default: the checkout's results/)"
    )
    parser.add_argument(
        "--run", nargs="+", metavar="ID", default=None, help="run these claims (or 'all') at the full budget first"
    )
    parser.add_argument("--record", action="store_true", help="with --run: write their ledger entries")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads for --run")
    parser.add_argument("--check", action="store_true", help="exit 1 when an entry is missing or the rule is broken")
    args = parser.parse_args()
    results_dir = args.results_dir or default_results_dir()
    if args.record and not args.run:
        parser.error("--record needs --run ID...")
    if args.run:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        run_claims(implemented_claims() if args.run == ["all"] else args.run, args.record, args.runs_dir, results_dir)
    holds = report(results_dir)
    if args.check and not holds:
        sys.exit(1)


if __name__ == "__main__":
    main()
