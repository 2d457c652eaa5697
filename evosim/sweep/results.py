"""A sweep's results: its rows, its tables and their statistics, read back from run directories.

Owns the row of one run
(``run_row`` for a complete run, ``failed_row`` otherwise), the typed ``sweep.parquet`` table
(``sweep_table``), the per-cell summary over seeds (the seed is the unit: one row per run) with
BCa bootstrap intervals for shares and t intervals otherwise (``summarise`` ->
``summary.parquet``) and the table printed at the end of ``evosim sweep`` (``final_table``).
Every value comes from a run directory's tables (read by name through ``evosim.store.RunDirectory``), never
from the process that computed it, so local, cluster and resumed sweeps give equal tables.
Names, column documentation, class shares and intervals are ``evosim.schema``'s.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from evosim.store.directory import RunDirectory
from evosim.sweep.spec import RunSpec

# Names, column documentation, class shares and the t-interval live in evosim.schema.
from evosim.schema import ARCH_GROUPS as ARCHS  # noqa: E402
from evosim.schema import CLASSES, DISTRIBUTIONS, class_share_columns  # noqa: E402
from evosim.stats import bca_interval  # noqa: E402
from evosim.schema import t_interval as _schema_t_interval  # noqa: E402
from evosim.constants import MAX_DEPTH  # noqa: E402

#: final-generation columns of generations.parquet copied into sweep.parquet as <name>
FINAL_METRICS = ("planner_share", "fitness_mean", "return_mean", "proxy_mean", "plans_mean", "depth_mean")
#: final-population columns computed from organisms.parquet (every run has them, whatever its settings)
POPULATION_METRICS = ("heuristic_share", "memoriser_share", "fitness_max", "planner_depth_mean",
                      "planner_depth_sd", *(f"depth_{d}" for d in range(MAX_DEPTH + 1)))


def population_metrics(org: pd.DataFrame) -> dict:
    """Architecture shares, best fitness and the evolved amount of search (planners' depths) of the
    final population (``org``: its rows of organisms.parquet)."""
    arch = org["architecture"].astype(str)
    planner = (arch == "planner").to_numpy()
    dep = org["depth"].to_numpy()[planner].astype(float)
    out = {"heuristic_share": float((arch == "heuristic").mean()), "memoriser_share": float((arch == "memoriser").mean()),
           "fitness_max": float(org["fitness"].max()),
           "planner_depth_mean": float(dep.mean()) if len(dep) else math.nan,
           "planner_depth_sd": float(dep.std()) if len(dep) else math.nan}
    for d in range(MAX_DEPTH + 1):
        out[f"depth_{d}"] = float((dep == d).mean()) if len(dep) else math.nan
    if "iterations" in org.columns:  # runs with networks only (so the sweeps without them are as before)
        network = (arch == "network").to_numpy()
        its = org["iterations"].to_numpy()[network].astype(float)
        out["network_share"] = float(network.mean())
        out["network_iterations_mean"] = float(its.mean()) if len(its) else math.nan
        out["network_iterations_sd"] = float(its.std()) if len(its) else math.nan
    return out


def is_share(metric: str) -> bool:
    """Whether a sweep metric is a share in [0, 1] (architecture, depth and outcome-class shares):
    ``summarise`` gives those a bootstrap interval, which stays inside [0, 1]."""
    if metric.endswith("_share") or (metric.startswith("depth_") and metric[6:].isdigit()):
        return True
    parts = metric.split("_", 1)
    return parts[0] in DISTRIBUTIONS and any(metric.endswith("_" + c) for c in CLASSES)


def probe_shares(probe: pd.DataFrame) -> dict:
    """Class shares by distribution and architecture (``schema.class_share_columns``), the number of
    planners and the mean normalised return per distribution, of the final population."""
    if "generation" in probe.columns and len(probe):
        probe = probe[probe["generation"] == probe["generation"].max()]
    arch = probe["architecture"].astype(str)
    dist = probe["distribution"].astype(str)
    out = {}
    if "organism_id" in probe.columns:
        out["n_planners"] = float(probe.loc[arch == "planner", "organism_id"].nunique())
    else:
        out["n_planners"] = float((arch[dist == "train"] == "planner").sum())
    out.update(class_share_columns(probe))
    for d in DISTRIBUTIONS:
        in_d = dist == d
        if "normalised_return" in probe.columns and in_d.any():
            out[f"{d}_normalised_return"] = float(probe.loc[in_d, "normalised_return"].mean())
    return out


def t_interval(v: np.ndarray) -> tuple[float, float, float, float]:
    """(mean, sd, ci_lo, ci_hi): ``evosim.schema.t_interval`` of the values ``v`` (no NaNs)."""
    t = _schema_t_interval(v)
    return t.mean, t.sd, t.lo, t.hi




# -- rows ----------------------------------------------------------------------------------------
def _empty_metrics() -> dict:
    m = {"generations": -1}
    m.update({k: math.nan for k in FINAL_METRICS})
    m.update({k: math.nan for k in POPULATION_METRICS})
    m["n_planners"] = math.nan
    for dist in DISTRIBUTIONS:
        for arch in ARCHS:
            for cls in CLASSES:
                m[f"{dist}_{arch}_{cls}"] = math.nan
        m[f"{dist}_normalised_return"] = math.nan
    return m


def failed_row(spec: RunSpec, error: str, report: str = "") -> dict:
    return {"cell": spec.cell, **spec.values, "seed": spec.seed, "cell_hash": spec.cell_hash, "status": "failed",
            "error": error, "report": report, **_empty_metrics()}


def run_row(spec: RunSpec, run_dir: Path) -> dict:
    """The sweep row of a complete run, read back from its tables only."""
    m = _empty_metrics()
    rd = RunDirectory(run_dir)
    gens = rd.read_table("generations")
    last = gens.iloc[-1]
    m["generations"] = int(len(gens))
    for k in FINAL_METRICS:
        m[k] = float(last[k])
    org = rd.read_table("organisms", filters=[("generation", "==", int(last["generation"]))], missing_ok=True)
    if org is not None and len(org):
        m.update(population_metrics(org))
    probe = rd.read_table("probe", missing_ok=True)
    report = "unavailable"
    if probe is not None:
        report = "complete"
        m.update(probe_shares(probe))
    return {"cell": spec.cell, **spec.values, "seed": spec.seed, "cell_hash": spec.cell_hash, "status": "complete",
            "error": "", "report": report, **m}


# -- tables --------------------------------------------------------------------------------------
def _column(values: list) -> pd.Series:
    """A swept setting's values as one typed column (bool, int64, float64 or string)."""
    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, bool) for v in vals) and len(vals) == len(values):
        return pd.Series(values, dtype=bool)
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        if all(isinstance(v, int) for v in vals) and len(vals) == len(values):
            return pd.Series(values, dtype="int64")
        return pd.Series([math.nan if v is None else float(v) for v in values], dtype="float64")
    return pd.Series([None if v is None else str(v) for v in values], dtype="string")


def sweep_table(rows: list[dict], keys: tuple[str, ...]) -> pd.DataFrame:
    """Rows (in (cell, seed) order) -> the typed ``sweep.parquet`` table."""
    ref = failed_row(RunSpec(0, 0, {k: None for k in keys}, "", "", None), "")
    cols = list(ref)
    df = pd.DataFrame({c: [r.get(c) for r in rows] for c in cols})
    for k in keys:
        df[k] = _column([r.get(k) for r in rows])
    for c in ("cell", "seed", "generations"):
        df[c] = df[c].astype("int64")
    for c in ("cell_hash", "status", "error", "report"):
        df[c] = df[c].astype("string")
    metric_cols = [c for c in cols if c not in set(keys) | {"cell", "seed", "generations", "cell_hash",
                                                            "status", "error", "report"}]
    for c in metric_cols:
        df[c] = df[c].astype("float64")
    return df.sort_values(["cell", "seed"], kind="stable").reset_index(drop=True)


def metric_columns(table: pd.DataFrame, keys) -> list[str]:
    skip = set(keys) | {"cell", "seed", "generations", "cell_hash", "status", "error", "report"}
    return [c for c in table.columns if c not in skip and pd.api.types.is_float_dtype(table[c])]


def summarise(table: pd.DataFrame, keys) -> pd.DataFrame:
    """Per cell and metric: mean and 95% confidence interval of the mean across seeds.

    Shares (``is_share``: architecture, depth and outcome-class shares) get the BCa bootstrap
    over seeds (``evosim.stats.bca_interval``, 9999 resamples, generator seeded by the cell
    index: deterministic), which stays inside [0, 1]; unbounded metrics (fitness, return,
    depth means, ...) the t interval, mean +- t(0.975, n-1) * sd / sqrt(n) with sd the sample
    standard deviation (ddof=1; scipy.stats.t). Both NaN when n < 2. The ``interval`` column says
    which. Failed runs are counted in ``n_failed`` and excluded.
    """
    keys = list(keys)
    metrics = metric_columns(table, keys)
    out = []
    for cell, grp in table.groupby("cell", sort=True):
        ok = grp[grp["status"] == "complete"]
        n_failed = int((grp["status"] != "complete").sum())
        head = {"cell": int(cell), **{k: grp[k].iloc[0] for k in keys}}
        for m in metrics:
            v = ok[m].to_numpy(dtype=float)
            v = v[~np.isnan(v)]
            n = len(v)
            mean, sd, lo, hi = t_interval(v)
            kind = "t"
            if is_share(m):
                kind = "bootstrap"
                lo, hi = bca_interval(v, rng=int(cell))
            out.append({**head, "metric": m, "n": n, "n_failed": n_failed, "mean": mean, "sd": sd,
                        "ci_lo": lo, "ci_hi": hi, "interval": kind})
    df = pd.DataFrame(out, columns=["cell", *keys, "metric", "n", "n_failed", "mean", "sd", "ci_lo", "ci_hi",
                                    "interval"])
    df["interval"] = df["interval"].astype("string")
    for k in keys:
        df[k] = df[k].astype(table[k].dtype)
    df["metric"] = df["metric"].astype("string")
    return df


def _fmt_ci(s: pd.DataFrame, metric: str) -> pd.Series:
    sub = s[s["metric"] == metric].set_index("cell")

    def f(r):
        if math.isnan(r["mean"]):
            return "-"
        if math.isnan(r["ci_lo"]):
            return f"{r['mean']:.2f}"
        return f"{r['mean']:.2f} [{r['ci_lo']:.2f}, {r['ci_hi']:.2f}]"
    return sub.apply(f, axis=1)


def final_table(table: pd.DataFrame, summary: pd.DataFrame, keys) -> str:
    """The table printed at the end: per cell, seeds ok/failed, planner share and shift class shares with CIs."""
    keys = list(keys)
    head = table.groupby("cell", sort=True).first()[keys]
    ok = table.groupby("cell", sort=True)["status"].apply(lambda s: f"{(s == 'complete').sum()}/{len(s)}")
    t = head.copy()
    t.columns = [k.split(".")[-1] for k in keys]
    t["ok"] = ok
    for metric, label in (("planner_share", "planner share"), ("memoriser_share", "memoriser share"),
                          ("planner_depth_mean", "planner depth"), ("return_mean", "train return"),
                          ("shift_all_pseudo_aligned", "shift pseudo-aligned"), ("shift_all_robust", "shift robust")):
        t[label] = _fmt_ci(summary, metric)
    return t.to_string()


__all__ = ["FINAL_METRICS", "POPULATION_METRICS", "population_metrics", "is_share", "probe_shares", "t_interval",
           "failed_row", "run_row", "sweep_table", "metric_columns", "summarise", "final_table"]
