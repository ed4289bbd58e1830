"""Run the speed benchmarks with goals and write one table of ratios: benchmarks/out/summary.md.

    python benchmarks/run_all.py [--quick] [--references DIR] [--threads 1] [--clock wall|cpu]

Each benchmark runs in its own process (``python benchmarks/bench_*.py ... --out out/<name>.json``) and
reports its goals as rows ``{goal, measured, target, passed}`` (``timing.goal``); this script gathers
them into one Markdown table with the machine load beside each benchmark: the 1-minute load average
before and after, and the share of the CPUs that other processes used while it ran (busy CPU time
from /proc/stat less the benchmark's own). The load average counts the benchmarks themselves and
decays over minutes, so the table judges the goals only when that share stayed at most 10 % for
every benchmark; otherwise it says the ratios are indicative only.

The reference implementations are never dependencies of mlpzoo: ``--references DIR`` points at a
throw-away folder holding checkouts ``DIR/mamba-minimal`` (johnma2006/mamba-minimal),
``DIR/efficient-kan`` (Blealtan/efficient-kan), optionally ``DIR/fast-kan`` (ZiyaoLi/fast-kan), and
``DIR/site`` with ``einops`` (mamba-minimal imports it), e.g.::

    git clone https://github.com/johnma2006/mamba-minimal DIR/mamba-minimal
    git clone https://github.com/Blealtan/efficient-kan DIR/efficient-kan
    git clone https://github.com/ZiyaoLi/fast-kan DIR/fast-kan
    pip install --target DIR/site einops

Without them the rows against those references are missing (and say so). The benchmarks: Mamba scan
(``bench_mamba_scan.py``), B-spline KAN vs efficient-kan (``bench_kan_layers.py``), FinalMLP's Trainer
as a fraction of the compute limit and against FuxiCTR (``bench_ctr.py``; ``--fuxictr-python`` runs
``fuxictr_finalmlp.py`` right before it at the same thread count, in ``--ctr-rounds`` back-to-back
rounds judged on their medians, see ``ctr_rounds``; else the FuxiCTR row is missing) and the
``train.fused: auto`` rule on a GR-KAN model (``bench_fused_auto.py``). ``--quick`` is a smoke
run of a few seconds per benchmark at the goal shapes with one or two repeats: it checks the
harness, not the goals.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import timing

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
IDLE_SHARE = 0.10  # other processes may use at most this share of the CPUs for the goals to be judged


def benchmarks(args) -> dict[str, list[str]]:
    """Name -> command-line arguments of every benchmark that reports goals."""
    refs = Path(args.references) if args.references else None
    common = ["--threads", str(args.threads), "--clock", args.clock]
    mamba = ["--lengths", "1024" if args.quick else "1024,8192", "--repeats", "1" if args.quick else "5", "--no-peak"]
    kan = ["--repeats", "2" if args.quick else "11", "--no-fused", "--only-bspline"]
    if args.quick:
        kan += ["--sizes", "64,64,4096", "256,256,1024"]
    if refs is not None:
        mamba += ["--reference", str(refs / "mamba-minimal")]
        kan += ["--efficient-kan", str(refs / "efficient-kan")]
        if (refs / "fast-kan").exists():
            kan += ["--fastkan", str(refs / "fast-kan")]
    ctr = ["--epochs", "3" if args.quick else "5"]  # ctr_rounds adds each round's --fuxictr-json
    fused = ["--steps", "3" if args.quick else "5"]
    return {
        "mamba_scan": mamba + common,
        "kan_layers": kan + common,
        "ctr": ctr + common,
        "fused_auto": fused + common,
    }


def fuxictr(args, env: dict, out: Path) -> dict:
    """FuxiCTR 2.3.10's FinalMLP samples/s (benchmarks/fuxictr_finalmlp.py) for the ctr row's ratio."""
    script = HERE / "fuxictr_finalmlp.py"
    extra = ["--fuxictr-python", args.fuxictr_python, "--epochs", "2" if args.quick else "5"]
    extra += ["--threads", str(args.threads), "--skip-converge", "--out", str(out)]
    record = run("fuxictr", extra, env, script=script, out=out)
    if record["returncode"] == 0 and out.exists():
        record["samples_per_s"] = json.loads(out.read_text())["samples_per_s"]
    return record


def ctr_rounds(args, env: dict, extra: list[str]) -> list[dict]:
    """FuxiCTR, then the ctr benchmark against it, ``--ctr-rounds`` times; the goals on the medians.

    This VM's speed drifts by 10-20 % over minutes (FuxiCTR alone measured 8.3k-11.5k samples/s on the
    idle machine within two hours), so a FuxiCTR figure taken minutes before mlpzoo's can bias the
    ratio either way. Back-to-back rounds sample both sides at the same times; with more than one
    round each round's rows are information and the goals are judged on a pooled row: the median of
    the rounds' Trainer fractions, and the median of mlpzoo's samples/s over the median of FuxiCTR's.
    """
    rounds = args.ctr_rounds
    records, pairs = [], []
    for number in range(1, rounds + 1):
        fx_out, ctr_out = OUT / f"fuxictr_{number}.json", OUT / f"ctr_{number}.json"
        fx = fuxictr(args, env, fx_out) if args.fuxictr_python else None
        if fx is None:
            fx_out.unlink(missing_ok=True)  # no stale FuxiCTR figure from an earlier run: the row says absent
        ctr = run("ctr", [*extra, "--fuxictr-json", str(fx_out)], env, out=ctr_out)
        records += [r for r in (fx, ctr) if r is not None]
        if rounds > 1:
            for g in ctr["goals"]:
                g["goal"] = f"{g['goal']}, round {number} of {rounds} (information)"
        if ctr["returncode"] == 0 and ctr_out.exists():
            pairs.append((json.loads(ctr_out.read_text()), fx.get("samples_per_s") if fx else None))
    if rounds > 1 and pairs:
        goals = pooled_ctr_goals(pairs)
        ctr_records = [r for r in records if r["name"] == "ctr"]
        shares = [r["others_cpu_share"] for r in ctr_records if r.get("others_cpu_share") is not None]
        records.append(
            {
                "name": "ctr (pooled)",
                "command": f"the {rounds} rounds above",
                "returncode": 0,
                "load_before": ctr_records[0]["load_before"],
                "load_after": ctr_records[-1]["load_after"],
                "others_cpu_share": max(shares) if shares else None,
                "seconds": 0.0,
                "goals": goals,
            }
        )
    return records


def pooled_ctr_goals(pairs: list[tuple[dict, float | None]]) -> list[dict]:
    """The ctr goals over rounds of ``(bench_ctr.py's JSON, FuxiCTR's samples/s or None)``: the median
    Trainer fraction of the compute limit, and the median of mlpzoo's samples/s over FuxiCTR's median."""
    ours = statistics.median(p[0]["compute_limit"]["trainer_samples_per_s"] for p in pairs)
    goals = [
        timing.goal(
            f"FinalMLP Trainer samples/s / compute limit (median of {len(pairs)} rounds)",
            statistics.median(p[0]["compute_limit"]["fraction"] for p in pairs),
            0.85,
            unit="%",
        )
    ]
    theirs = [p[1] for p in pairs if p[1]]
    if theirs:
        goals.append(
            timing.goal(
                f"FinalMLP Trainer / FuxiCTR 2.3.10, end to end (median samples/s of {len(pairs)} rounds each: "
                f"{ours:,.0f} / {statistics.median(theirs):,.0f})",
                ours / statistics.median(theirs),
                5.0,
            )
        )
    return goals


def run(name: str, extra: list[str], env: dict, script: Path | None = None, out: Path | None = None) -> dict:
    out = out or OUT / f"{name}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(script or HERE / f"bench_{name}.py"), *extra]
    if script is None:
        cmd += ["--out", str(out)]
    print("$", " ".join(cmd), flush=True)
    before, start = timing.load(), time.perf_counter()
    busy_before, own_before = timing.machine_busy_seconds(), _children_cpu_seconds()
    done = subprocess.run(cmd, check=False, env=env)  # a failed benchmark is a row, not the end
    seconds = time.perf_counter() - start
    busy_after, own = timing.machine_busy_seconds(), _children_cpu_seconds() - own_before
    others = None
    if busy_before is not None and busy_after is not None:
        # The share of the machine's CPUs that other processes used while the benchmark ran.
        others = max(0.0, busy_after - busy_before - own) / (seconds * (before["cpus"] or 1))
    record = {
        "name": name,
        "command": " ".join(cmd),
        "returncode": done.returncode,
        "load_before": before,
        "load_after": timing.load(),
        "others_cpu_share": others,
        "seconds": seconds,
        "goals": [],
    }
    if done.returncode == 0 and out.exists():
        record["goals"] = json.loads(out.read_text()).get("goals", [])
    return record


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _format(g: dict) -> tuple[str, str]:
    """The measured value and the target as the table shows them (ratio, percentage or yes/no)."""
    sign = ">=" if g["higher_is_better"] else "<="
    unit = g.get("unit", "x")
    if unit == "%":
        return f"{g['measured']:.1%}", f"{sign} {g['target']:.0%}"
    if unit == "yes/no":
        return ("yes" if g["measured"] >= 0.5 else "no"), "yes"
    return f"{g['measured']:.2f}x", f"{sign} {g['target']:g}x"


def table(records: list[dict], args) -> str:
    load = timing.load()
    mode = "quick smoke run (not the goals)" if args.quick else "full run"
    header = (
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {mode}; threads {args.threads}; clock {args.clock}; "
        f"{load['cpus']} CPUs, load average now {load['load1']:.2f} / {load['load5']:.2f} / {load['load15']:.2f} "
        "(1 / 5 / 15 min)."
    )
    # FuxiCTR's Ray data loader runs in processes this script does not wait for, so its own work counts as
    # "others" there: its share is shown, not used to judge the machine idle.
    shares = [
        rec["others_cpu_share"]
        for rec in records
        if rec.get("others_cpu_share") is not None and rec["name"] != "fuxictr"
    ]
    if shares:
        # The load average counts the benchmarks themselves (and decays over minutes after each one), so the
        # idle test is what other processes took: machine CPU time less this run's own, from /proc/stat.
        busy = max(shares)
        caveat = (
            f"Other processes used up to {busy:.0%} of the machine's CPUs during a benchmark: ratios measured in one "
            "run are indicative only; the goals are judged by a run on an idle machine."
            if busy > IDLE_SHARE
            else f"The machine was idle: other processes used at most {busy:.0%} of its CPUs during any benchmark "
            f"(limit {IDLE_SHARE:.0%}), so the goals can be judged."
        )
    else:
        busy = max(rec["load_before"]["load1"] for rec in records) if records else load["load1"]
        caveat = (
            f"The machine was busy (1-minute load up to {busy:.1f} on {load['cpus']} CPUs): ratios measured in one "
            "run are indicative only; the goals are judged by a run on an idle machine."
            if busy > 0.5 * (load["cpus"] or 1)
            else "The machine was idle enough (1-minute load at most half the CPU count) for the goals to be judged."
        )
    lines = [
        "# Benchmark summary",
        "",
        header,
        "",
        caveat,
        "",
        "| benchmark | goal | measured | target | result | load before -> after, others' CPU share |",
        "|---|---|---|---|---|---|",
    ]
    for rec in records:
        loads = f"{rec['load_before']['load1']:.2f} -> {rec['load_after']['load1']:.2f}"
        if rec.get("others_cpu_share") is not None:
            loads += f", {rec['others_cpu_share']:.0%}"
        if rec["returncode"] != 0:
            lines.append(f"| {rec['name']} | (benchmark failed, exit {rec['returncode']}) | | | ERROR | {loads} |")
        if rec.get("samples_per_s"):
            lines.append(
                f"| {rec['name']} | FuxiCTR 2.3.10 FinalMLP samples/s, the ctr row's reference (information; its Ray "
                f"loader's processes count as others) | {rec['samples_per_s']:,.0f} | | info | {loads} |"
            )
        for g in rec["goals"]:
            result = "info" if "(information)" in g["goal"] else ("PASS" if g["passed"] else "FAIL")
            measured, target = _format(g)
            lines.append(f"| {rec['name']} | {g['goal']} | {measured} | {target} | {result} | {loads} |")
    notes = [
        f"- {g['goal']}: {g['note']}" for rec in records for g in rec["goals"] if g.get("note") and not g["passed"]
    ]
    lines += ["", "Notes on goals not met:", "", *notes] if notes else []
    lines += ["", "Commands:", ""] + [f"- `{rec['command']}` ({rec['seconds']:.0f} s)" for rec in records]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one shape, one or two repeats")
    parser.add_argument("--references", help="folder with mamba-minimal/, efficient-kan/ and site/ (see above)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=sorted(timing.CLOCKS), default="wall")
    parser.add_argument("--only", nargs="*", help="benchmark names to run (default: all)")
    parser.add_argument(
        "--fuxictr-python",
        help="python of a throw-away FuxiCTR 2.3.10 environment (README.md): measure FuxiCTR first, for the ctr row",
    )
    parser.add_argument(
        "--ctr-rounds",
        type=int,
        default=None,
        help="back-to-back FuxiCTR + ctr rounds, goals on their medians (default 3; 1 with --quick)",
    )
    args = parser.parse_args()
    if args.ctr_rounds is None:
        args.ctr_rounds = 1 if args.quick else 3
    if args.ctr_rounds < 1:
        parser.error(f"--ctr-rounds {args.ctr_rounds}: give at least 1")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    paths = [str(HERE.parent / "src"), str(HERE)]
    if args.references:
        paths.append(str(Path(args.references) / "site"))
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [os.environ.get("PYTHONPATH")] if p])
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = benchmarks(args)
    wanted = {name: extra for name, extra in wanted.items() if not args.only or name in args.only}
    records = []
    for name, extra in wanted.items():
        records += ctr_rounds(args, env, extra) if name == "ctr" else [run(name, extra, env)]
    summary = table(records, args)
    (OUT / "summary.md").write_text(summary)
    print(summary)
    print(f"wrote {OUT / 'summary.md'}")
    sys.exit(1 if any(rec["returncode"] for rec in records) else 0)


if __name__ == "__main__":
    main()
