"""``evosim sweep``: the command line (flags, the final table, exit codes).

Owns ``cmd_sweep`` and ``add_parser``. Exit 0 when every run completed, 1 when a run failed,
2 for a user error (``SweepError``, through ``evosim.cli``).
"""
from __future__ import annotations

import argparse
import sys

from evosim.sweep.execute import run_sweep
from evosim.sweep.results import final_table
from evosim.sweep.spec import load_sweep


def cmd_sweep(args) -> int:
    sweep = load_sweep(args.sweep, args.out)
    res = run_sweep(sweep, out=args.out, workers=args.workers, scheduler=args.scheduler, progress=not args.quiet,
                    log=lambda m: print(m, file=sys.stderr))
    print(final_table(res.table, res.summary, sweep.keys))
    print(f"sweep {sweep.name}: {len(res.table)} runs ({res.n_computed} computed, {res.n_skipped} already complete, "
          f"{res.n_failed} failed) in {res.wall_s:.1f} s -> {res.out}/sweep.parquet, summary.parquet"
          + (f", {len(res.figures)} figures" if res.figures else ""))
    if res.n_failed:
        print(f"sweep {sweep.name}: {res.n_failed} runs failed; see the `error` column of sweep.parquet", file=sys.stderr)
        return 1
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sweep", help="run a sweep of experiments (cells x seeds) locally or on a Dask cluster",
        description="Run every (cell, seed) of a sweep file as an ordinary run plus its report, skipping runs "
                    "already complete; write sweep.parquet, summary.parquet and figures/. Exit 1 if a run failed.")
    p.add_argument("sweep", metavar="SWEEP_TOML", help="sweep file (e.g. runs/conditions.toml)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="start a local Dask cluster of N single-threaded worker processes on loopback "
                            "(default: one per CPU; 0 runs every cell in this process)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="use a running Dask cluster, e.g. tcp://10.0.0.5:8786 (workers must see --out)")
    p.add_argument("--out", help="sweep directory (default: the file's `out`, else runs/out/<name>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)
    return p


__all__ = ["cmd_sweep", "add_parser"]
