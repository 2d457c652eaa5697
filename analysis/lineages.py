"""Lineages of the final planners: when did the mesa-objective settle, and did search come before or after?

    python analysis/lineages.py RUN_DIR [--out DIR]

Reads a run directory's organisms.parquet (parent ids) and genomes.parquet. For every genome
the ranking of proxy over true target is read from the planner utility genes (u_proxy > u_true,
the channels of ``evosim.probe.target_features``: red vs door in red_door) and the search budget
from the depth gene (expressed as in the kernel, ``evosim.genome.depth``), whether or not the
ancestor expressed the planner block at the time.

Each final planner's line of descent is traced through ``parent_a`` (the first parent; an elite's
parent_a is itself one generation earlier). Along it:

    fixed_gen    the first generation from which the ranking stays the final one (the objective settled)
    depth_rise   the last generation at which the expressed depth rose (NaN if it never rose)
    planner_gen  the first generation from which the ancestor was a planner without interruption
    order        "depth_before" (depth last rose before fixed_gen), "depth_after" (at or after it),
                 "never_rose"

Exact generation numbers need every generation's genomes (``evolution.keep_all_genomes = true``);
otherwise only the generations written (every ``checkpoint_every``) are used and the numbers are the
first written generation at which the condition holds (stated in the output).

Writes ``lineages.csv`` (one row per final planner), ``lineage_steps.csv`` (every ancestor on
every line) and ``lineages.png`` (share of the final planners' ancestors ranking proxy over true and
their mean depth, by generation, against the whole population) to ``--out`` (default
RUN_DIR/analysis), and prints the summary.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def load(run_dir: Path):
    from evosim import worlds
    from evosim.store import RunDirectory

    rd = RunDirectory(run_dir)
    cfg = rd.config()
    world = worlds.make(cfg.world)
    org = rd.read_table("organisms", columns=["generation", "organism_id", "parent_a", "parent_b", "architecture", "depth"])
    gen = rd.read_table("genomes")
    return cfg, world, org, gen


def trace(cfg, world, org: pd.DataFrame, gen: pd.DataFrame):
    """(per-planner summary, per-step table, coverage note) for the final generation's planners."""
    from evosim import genome as gn
    from evosim.probe import target_features

    p, t = target_features(world)
    fp, ft = world.features[p], world.features[t]
    up, ut = f"u_{fp}", f"u_{ft}"
    written = np.sort(gen["generation"].unique())
    last = int(org["generation"].max())
    every = len(written) == last + 1
    g = gen.set_index("organism_id")
    depth_all = gn.depth(g.reindex(columns=gn.gene_names(world.features)).to_numpy(np.float32),
                         cfg.organisms.max_depth, cfg.organisms.min_depth)
    g = g.assign(_proxy_first=(g[up] > g[ut]).to_numpy(), _depth=depth_all)
    parent = org.set_index("organism_id")["parent_a"]
    arch = org.set_index("organism_id")["architecture"].astype(str)
    final = org[(org["generation"] == last) & (org["architecture"].astype(str) == "planner")]
    rows, steps = [], []
    for oid in final["organism_id"].to_numpy():
        line = []
        cur = int(oid)
        while cur >= 0:
            line.append(cur)
            cur = int(parent.get(cur, -1))
        line.reverse()  # generation 0 first
        n = cfg.evolution.population
        ranks, depths, archs, gens_ = [], [], [], []
        for a in line:
            ga = a // n
            archs.append(arch.get(a, ""))
            if a in g.index:
                ranks.append(bool(g.at[a, "_proxy_first"]))
                depths.append(int(g.at[a, "_depth"]))
                gens_.append(ga)
                steps.append({"final_planner": int(oid), "generation": ga, "organism_id": a, "architecture": archs[-1],
                              "proxy_over_true": ranks[-1], "depth": depths[-1]})
        if not gens_:
            continue
        fin = ranks[-1]
        k = len(ranks) - 1
        while k > 0 and ranks[k - 1] == fin:
            k -= 1
        fixed_gen = gens_[k]
        rises = [gens_[i] for i in range(1, len(depths)) if depths[i] > depths[i - 1]]
        depth_rise = rises[-1] if rises else np.nan
        j = len(archs) - 1
        while j > 0 and archs[j - 1] == "planner":
            j -= 1
        order = "never_rose" if not rises else ("depth_before" if depth_rise < fixed_gen else "depth_after")
        rows.append({"organism_id": int(oid), "proxy_over_true": fin, "final_depth": depths[-1], "fixed_gen": fixed_gen,
                     "depth_rise": depth_rise, "planner_gen": j, "order": order})
    note = ("every generation's genomes were written: generation numbers are exact" if every else
            f"only generations {written.tolist()} were written (set evolution.keep_all_genomes = true for exact "
            f"generations): numbers are the first written generation at which a condition holds")
    return pd.DataFrame(rows), pd.DataFrame(steps), note, (fp, ft), g


def figure(steps: pd.DataFrame, g: pd.DataFrame, org: pd.DataFrame, summary: pd.DataFrame, names, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    pal = sns.color_palette("colorblind", 3)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    anc = steps.drop_duplicates("organism_id")
    a = anc.groupby("generation").agg(proxy=("proxy_over_true", "mean"), depth=("depth", "mean"))
    pop = g.reset_index()
    planners = org.loc[org["architecture"].astype(str) == "planner", "organism_id"]
    popp = pop[pop["organism_id"].isin(planners)]
    b = popp.groupby("generation").agg(proxy=("_proxy_first", "mean"), depth=("_depth", "mean"))
    axes[0].plot(a.index, a["proxy"], marker=".", color=pal[0], label="ancestors of the final planners")
    axes[0].plot(b.index, b["proxy"], color=pal[1], ls="--", label="planners of the population")
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].set_ylabel(f"share ranking {names[0]} (proxy) over {names[1]} (true)")
    axes[1].plot(a.index, a["depth"], marker=".", color=pal[0], label="ancestors of the final planners")
    axes[1].plot(b.index, b["depth"], color=pal[1], ls="--", label="planners of the population")
    axes[1].set_ylabel("mean expressed search depth")
    if len(summary):
        for ax in axes:
            ax.axvline(float(summary["fixed_gen"].median()), color=pal[2], lw=1, label="median: objective fixed")
            if summary["depth_rise"].notna().any():
                ax.axvline(float(summary["depth_rise"].median()), color="grey", lw=1, ls=":",
                           label="median: last depth rise")
    for ax in axes:
        ax.set_xlabel("generation")
        ax.legend(frameon=False, fontsize=7)
    fig.suptitle("Lines of descent of the final planners (parent_a)", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    run_dir = args.run_dir
    from evosim.store import RunDirectory

    for name in ("organisms", "genomes"):
        if not RunDirectory(run_dir).has_table(name):
            print(f"lineages: {run_dir}: no {name} table; expected a complete run directory", file=sys.stderr)
            return 2
    cfg, world, org, gen = load(run_dir)
    summary, steps, note, names, g = trace(cfg, world, org, gen)
    out = args.out or run_dir / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "lineages.csv", index=False)
    steps.to_csv(out / "lineage_steps.csv", index=False)
    print(f"{run_dir}: {len(summary)} final planners; {note}")
    if len(summary):
        figure(steps, g, org, summary, names, out / "lineages.png")
        share = summary["proxy_over_true"].mean()
        print(f"  rank {names[0]} (proxy) over {names[1]} (true): {share:.2f} of the final planners")
        print(f"  objective fixed at generation: median {summary['fixed_gen'].median():.0f} "
              f"(range {summary['fixed_gen'].min()}..{summary['fixed_gen'].max()})")
        print(f"  lineage a planner since generation: median {summary['planner_gen'].median():.0f}")
        counts = summary["order"].value_counts()
        print("  search budget (depth) last rose: " + ", ".join(
            f"{k.replace('_', ' ')} the objective settled: {counts.get(k, 0)}" if k != "never_rose" else
            f"never rose: {counts.get(k, 0)}" for k in ("depth_before", "depth_after", "never_rose")))
        print(f"  wrote {out / 'lineages.csv'}, {out / 'lineage_steps.csv'}, {out / 'lineages.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
