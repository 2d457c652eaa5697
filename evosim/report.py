"""``evosim report RUN_DIR``: probe a finished run, infer objectives, classify outcomes, draw figures.

Writes into the run directory, each file atomically (a re-run replaces its own outputs)::

    probe.parquet          one row per (organism, distribution): evosim.schema.PROBE_COLUMNS["probe"]
    interventions.parquet  the causal check on planners: evosim.schema.PROBE_COLUMNS["interventions"]
    population_agreement.parquet  per saved generation and distribution: fitness vs the base value of
                           what the mesa-objective picks (PROBE_COLUMNS["population_agreement"])
    three_way.parquet      per organism: mesa vs behavioural view vs class (PROBE_COLUMNS["three_way"])
    figures/*.png          evosim.figures.make_all

and, last, marks the report complete in the run's manifest through the store
(``RunDirectory.mark_report_complete``: the report's wall time). It holds the run
directory's lock while it writes. Deterministic
given the run: held-out layouts and in-kernel random numbers derive from the run's seed
under ``STREAM_PROBE``.
"""
from __future__ import annotations

import dataclasses
import io
import sys
import time
from pathlib import Path

import pandas as pd

from evosim import genome as gn
from evosim import worlds
from evosim.errors import UserError
from evosim.schema import CLASSES, class_shares
from evosim.store import RunDirectory, RunError, load_run
from evosim.store.files import write_bytes


class ReportError(UserError, ValueError):
    """Bad arguments to ``evosim report``."""


def _generations(run, generations) -> list[int]:
    saved = sorted(int(g) for g in run.genomes_all["generation"].unique())
    if not generations:
        return [saved[-1]]
    out = []
    for g in generations:
        if isinstance(g, bool) or not isinstance(g, (int,)) and not hasattr(g, "__index__"):
            raise ReportError(f"{run.path}: --generations {g!r}: expected an integer; saved: {saved}")
        g = int(g)
        if g not in saved:
            raise RunError(f"{run.path}: no genomes saved for generation {g}; saved: {saved}")
        if g not in out:
            out.append(g)
    return sorted(out)


def _write_figures(figdir: Path, figs: dict) -> None:
    import matplotlib.pyplot as plt

    figdir.mkdir(exist_ok=True)
    for name, fig in figs.items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        write_bytes(figdir / name, buf.getvalue())


def summary_table(probe: pd.DataFrame) -> pd.DataFrame:
    """Class shares by architecture and distribution, for the last generation probed."""
    tab = class_shares(probe)
    tab.insert(0, "generation", int(probe["generation"].max()))
    return tab[["generation", "architecture", "distribution", "n", *CLASSES]]


def report_run(run_dir, generations=None, episodes=None, progress: bool = False, figures: bool = True) -> pd.DataFrame:
    """Probe a run, write probe.parquet, interventions.parquet and (unless ``figures=False``) figures/;
    return the class-share summary."""
    from evosim.probe import interventions, population_agreement, probe_population, probe_sets, three_way
    from evosim.schema import DISTRIBUTIONS

    t0 = time.perf_counter()
    run = load_run(run_dir)
    cfg = run.config
    if episodes is not None:
        if isinstance(episodes, bool) or not isinstance(episodes, int) or not 1 <= episodes <= 100_000:
            raise ReportError(f"{run.path}: --episodes {episodes!r}: expected an integer with 1 <= value <= 100000")
        cfg = dataclasses.replace(cfg, probe=dataclasses.replace(cfg.probe, episodes=episodes))
    gens = _generations(run, generations)
    world = worlds.make(cfg.world)
    names = gn.gene_names(world.features)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(gens) * (len(DISTRIBUTIONS) + 1) + 3, desc=f"report {run.path.name}", unit="step",
                   file=sys.stderr, leave=False)
    tick = (lambda k: bar.update(k)) if bar is not None else None
    rd = RunDirectory(run.path)
    try:
        with rd.lock():
            sets = probe_sets(cfg, world)
            if tick:
                tick(1)
            frames = []
            for g in gens:
                pop = run.genomes_at(g)
                frames.append(probe_population(cfg, world, sets, pop[names].to_numpy(), pop["organism_id"].to_numpy(),
                                               g, progress=tick))
            probe = pd.concat(frames, ignore_index=True)
            last = run.genomes_at(gens[-1])
            iv = interventions(cfg, world, sets, last[names].to_numpy(), last["organism_id"].to_numpy(), gens[-1])
            if tick:
                tick(1)
            pop = population_agreement(cfg, world, sets, run.genomes_all, run.organisms, names)
            tw = three_way(probe, world)
            rd.write_table("probe", probe)
            rd.write_table("interventions", iv)
            rd.write_table("population_agreement", pop)
            rd.write_table("three_way", tw)
            if figures:
                from evosim.figures import make_all  # (matplotlib and seaborn: imported only to draw)

                _write_figures(rd.figures, make_all(run.generations, probe, iv, world.features, pop, tw))
            if tick:
                tick(1)
            rd.mark_report_complete(time.perf_counter() - t0)  # last: the report is complete
    finally:
        if bar is not None:
            bar.close()
    return summary_table(probe)


def format_summary(tab: pd.DataFrame) -> str:
    """The short table ``evosim report`` prints."""
    t = tab.copy()
    for c in CLASSES:
        t[c] = t[c].map(lambda v: f"{v:.2f}")
    return t.to_string(index=False)


def cmd_report(args) -> int:
    tab = report_run(args.run_dir, generations=args.generations, episodes=args.episodes, progress=not args.quiet)
    print(format_summary(tab))
    print(f"wrote probe.parquet, interventions.parquet and figures/ in {args.run_dir}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("report", help="probe a finished run under train/shift/control; tables and figures")
    p.add_argument("run_dir", help="run directory (e.g. runs/out/red_door__seed3)")
    p.add_argument("--generations", type=int, nargs="+", metavar="G",
                   help="checkpointed generations to probe (default: the final one)")
    p.add_argument("--episodes", type=int, help="held-out episodes per organism per distribution (default: probe.episodes)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_report)


__all__ = ["report_run", "add_parser", "summary_table", "ReportError"]
