"""Write-up tables across seeds: outcome-class shares and key probe metrics with 95% CIs.

    python analysis/seeds_table.py runs/out/red_door__seed* runs/out/red_door_control__seed* --out analysis/out

Reads only ``probe.parquet`` (run ``evosim report`` on each run first) and ``config.toml``
of every run directory, through ``evosim.store.RunDirectory``. One value per run (the share or mean over its final population),
then mean and a 95% t-interval (``evosim.schema.t_interval``) across the seeds of each experiment. Writes
``class_shares.csv``, ``metrics.csv`` and ``class_shares.png`` to ``--out`` and prints
the class-share table as Markdown.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from evosim.schema import CLASSES, class_shares, t_interval
from evosim.store import RunDirectory

METRICS = ("normalised_return", "normalised_proxy_return", "proxy_choice_rate", "proxy_target_reached",
           "true_target_reached", "agree", "power_true_bits", "power_behav_bits")


def per_run(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(class shares, metric means) of one run's final probed generation, by architecture x distribution."""
    rd = RunDirectory(run_dir)
    cfg = rd.config()
    p = rd.read_table("probe")
    p = p[p["generation"] == p["generation"].max()].copy()
    p["architecture"] = p["architecture"].astype(str)
    p["distribution"] = p["distribution"].astype(str)
    p["class"] = p["class"].astype(str)
    keys = ["architecture", "distribution"]
    # per architecture, then the whole population ("all"), whatever the architecture
    shares = class_shares(p, include_all=True)[[*keys, *CLASSES, "n"]]
    cols = [m for m in METRICS if m in p]
    metrics = pd.concat([p.groupby(keys)[cols].mean(),
                         p.assign(architecture="all").groupby(keys)[cols].mean()]).reset_index()
    for df in (shares, metrics):
        df.insert(0, "seed", cfg.seed)
        df.insert(0, "experiment", cfg.name)
    return shares, metrics


def ci(values: pd.Series) -> pd.Series:
    """Mean and 95% t-interval half-width across seeds (NaN half-width with one seed)."""
    t = t_interval(values)
    return pd.Series({"mean": t.mean, "ci95": t.half, "seeds": t.n})


def across_seeds(df: pd.DataFrame, value_cols) -> pd.DataFrame:
    long = df.melt(id_vars=["experiment", "seed", "architecture", "distribution"], value_vars=list(value_cols),
                   var_name="quantity")
    out = long.groupby(["experiment", "architecture", "distribution", "quantity"])["value"].apply(ci).unstack()
    return out.reset_index()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run directories with a report (probe table)")
    ap.add_argument("--out", type=Path, default=Path("analysis/out"), help="output directory")
    args = ap.parse_args(argv)
    missing = [str(r) for r in args.runs if not RunDirectory(r).has_table("probe")]
    if missing:
        print(f"seeds_table: no probe table in {', '.join(missing)}; run `evosim report RUN_DIR` first", file=sys.stderr)
        return 2
    parts = [per_run(r) for r in args.runs]
    shares = pd.concat([s for s, _ in parts], ignore_index=True)
    metrics = pd.concat([m for _, m in parts], ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    cs = across_seeds(shares, CLASSES)
    ms = across_seeds(metrics, [m for m in METRICS if m in metrics])
    cs.to_csv(args.out / "class_shares.csv", index=False)
    ms.to_csv(args.out / "metrics.csv", index=False)
    shares.to_csv(args.out / "class_shares_per_seed.csv", index=False)
    pop = shares[shares["architecture"] != "all"].pivot_table(index=["experiment", "seed"], columns="architecture",
                                                                values="n", aggfunc="first").fillna(0)
    (pop.div(pop.sum(axis=1), axis=0)).to_csv(args.out / "architecture_shares_per_seed.csv")
    fmt = cs.assign(cell=lambda d: d.apply(lambda r: f"{r['mean']:.2f} ± {r['ci95']:.2f}" if np.isfinite(r["ci95"])
                                            else f"{r['mean']:.2f}", axis=1))
    table = fmt.pivot_table(index=["experiment", "architecture", "distribution"], columns="quantity", values="cell",
                            aggfunc="first")[list(CLASSES)]
    print(table.to_markdown() if hasattr(table, "to_markdown") and _has_tabulate() else table.to_string())
    _figure(cs, args.out / "class_shares.png")
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(cs: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette="colorblind", font_scale=0.85)
    d = cs[(cs["quantity"] == "pseudo_aligned") & (cs["distribution"] == "shift") & (cs["architecture"] == "all")]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.bar(d["experiment"], d["mean"], yerr=d["ci95"].fillna(0), color=sns.color_palette("colorblind")[3], capsize=4)
    ax.set(ylabel="pseudo-aligned share\nunder shift (mean, 95% CI)", xlabel="experiment", ylim=(0, 1.05))
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
