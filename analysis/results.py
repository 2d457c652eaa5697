"""Regenerate the tables and figures of docs/results.md from scratch: one command.

    python analysis/results.py [--workers 2 | --scheduler tcp://HOST:8786] [--seeds 20] [--out runs/out/results]
                               [--doc docs/results.md] [--definition analysis/results.toml] [--pairs red_door ...]
                               [--probe-episodes N]

1. Reads the definition file (``analysis/results.toml``): the experiment/control pairs, each a
   sweep file under runs/ (``runs/results_<pair>.toml``: the experiment's TOML as base, swept over
   ``world.training = ["train", "control"]``, with its seeds), probe episodes, competence
   thresholds, bootstrap settings. A pair whose sweep file is missing is skipped with a note in
   the write-up.
2. Runs the sweeps with the sweep engine (``evosim.sweep.plan_runs`` and ``run_sweep``: what
   ``evosim sweep`` runs), the definition's probe episodes (and test-only overrides) applied to
   every cell, reports without figures, all on one cluster: a Dask LocalCluster of ``--workers``
   single-threaded processes (``--workers 0``: in this process) or the running cluster at
   ``--scheduler``. Every run is an ordinary run directory ``OUT/<sweep>/cells/<hash>``; a run
   already complete (same config, hence same hash) is skipped. Experiment and control are paired
   by seed: all randomness derives from the run's seed, so the same seed gives the same
   generation-0 population and the same random streams (the training layouts differ only through
   the distribution they are drawn from).
3. Builds tables from each run's probe table (final generation) and generations table, read by
   name through ``evosim.store.RunDirectory``, into ``OUT/tables/*.csv`` and figures into the doc's directory.
4. Replaces the generated blocks of the doc (``<!-- results:NAME:start -->`` ...
   ``<!-- results:NAME:end -->``, NAME in ``BLOCKS``); prose outside them is kept. A missing
   marker stops the command before anything is run or written.

Intervals: mean over seeds with a 95% percentile-bootstrap interval over seeds
(``_bootstrap_mean_interval``), which stays inside the range of the per-seed values (so inside
[0, 1] for shares).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import re
import shlex
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evosim.objectives import balanced_accuracy
from evosim.schema import CLASSES, DISTRIBUTIONS, bootstrap_interval
from evosim.store import RunDirectory

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEFINITION = ROOT / "analysis" / "results.toml"
#: generated blocks of the doc, in the order they are expected to appear
BLOCKS = ("provenance", "class_shares", "per_seed", "paired", "thresholds", "values", "baselines", "figures")
#: optional probe columns (added by the world redesign); tables that need them say "not available"
VALUE_COLUMNS = ("mesa_prefers_proxy", "behav_prefers_proxy")
REFERENCE_COLUMNS = ("matched_return", "normalised_return_omniscient")
NA = "not available in these runs"
_DEF_KEYS = ("probe_episodes", "thresholds", "n_boot", "boot_seed", "accuracy_experiment", "pairs",
             "overrides")


class ResultsError(Exception):
    """A user error: bad definition file, doc without its markers, failed runs. Exit status 2 (1 for failed runs)."""


# -- the interval (ONE function: swap for evosim.schema.bootstrap_interval when it lands) -------------
def _bootstrap_mean_interval(values, n_boot: int = 10000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of ``values`` over seeds (``evosim.schema.bootstrap_interval``
    with a fixed RNG seed; NaN and inf dropped). Lies within [min, max] of the values, so shares stay in
    [0, 1]; (v, v) for one value or identical values; (nan, nan) for none."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) and np.all(v == v[0]):
        return float(v[0]), float(v[0])
    return bootstrap_interval(v, rng=seed, n_boot=n_boot)


# -- the definition file -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Pair:
    """An experiment and its control: one sweep file (``runs/results_<name>.toml``) whose one swept
    setting is ``world.training`` over ``"train"`` (the experiment) and ``"control"`` (its control)."""

    name: str
    sweep: Path


@dataclass(frozen=True)
class Definition:
    path: Path
    probe_episodes: int
    thresholds: tuple[float, ...]
    n_boot: int
    boot_seed: int
    accuracy_experiment: str
    pairs: tuple[Pair, ...]
    overrides: dict


def _int(v, what, lo=0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ResultsError(f"{what} = {v!r}: expected an integer >= {lo}")
    return v


def load_definition(path: str | Path) -> Definition:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such definition file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ResultsError(f"{path}: cannot read it: {e}") from None
    src = str(path)
    for k in data:
        if k not in _DEF_KEYS:
            raise ResultsError(f"{src}: unknown key {k!r}; allowed: {', '.join(_DEF_KEYS)}")
    thresholds = data.get("thresholds", [0.3, 0.5, 0.7])
    if not isinstance(thresholds, list) or not all(isinstance(t, (int, float)) and 0 <= t <= 1 for t in thresholds):
        raise ResultsError(f"{src}: thresholds = {thresholds!r}: expected a list of numbers in [0, 1]")
    pairs = []
    for i, p in enumerate(data.get("pairs", [])):
        if not isinstance(p, dict) or set(p) != {"name", "sweep"}:
            raise ResultsError(f"{src}: pairs[{i}]: expected keys name, sweep (a sweep file); got {p!r}")
        pairs.append(Pair(str(p["name"]), (path.parent / p["sweep"]).resolve()))
    if not pairs:
        raise ResultsError(f"{src}: pairs: none; add [[pairs]] tables with name, sweep")
    overrides = data.get("overrides", {})
    if not isinstance(overrides, dict):
        raise ResultsError(f"{src}: overrides: expected a table of dotted settings")
    return Definition(path=path.resolve(),
                      probe_episodes=_int(data.get("probe_episodes", 200), f"{src}: probe_episodes", 1),
                      thresholds=tuple(float(t) for t in thresholds),
                      n_boot=_int(data.get("n_boot", 10000), f"{src}: n_boot", 1),
                      boot_seed=_int(data.get("boot_seed", 0), f"{src}: boot_seed"),
                      accuracy_experiment=str(data.get("accuracy_experiment", "red_door")),
                      pairs=tuple(pairs), overrides=dict(overrides))


# -- planning and running: the sweep engine ----------------------------------------------------------
ROLES = {"train": "experiment", "control": "control"}


def _experiment_name(config: dict) -> str:
    """The experiment's name (its base TOML's ``name``) for the experiment, ``<name>_control`` for the control
    (the name of its TOML under runs/, which makes the same change)."""
    role = ROLES[config["world"]["training"]]
    return config["name"] if role == "experiment" else f"{config['name']}_control"


def plan(defn: Definition, out: Path, n_seeds: int | None = None, pairs=None):
    """The sweeps of the write-up (one per pair, into ``out/<sweep name>``), prepared: the definition's
    overrides and probe episodes applied to every cell, the first ``n_seeds`` seeds kept. Returns
    (sweeps, runs, notes on skipped pairs, pairs kept); ``runs`` has a row per run in (pair, role, seed)
    order: experiment, pair, role, seed, run_dir (``evosim.sweep.plan_runs``)."""
    from evosim.sweep import SweepError, load_sweep, plan_runs

    unknown = set(pairs or ()) - {p.name for p in defn.pairs}
    if unknown:
        raise ResultsError(f"--pairs: {sorted(unknown)} not in {defn.path.name}; "
                           f"pairs: {', '.join(p.name for p in defn.pairs)}")
    sweeps, rows, notes, kept = [], [], [], []
    extra = {**defn.overrides, "probe.episodes": defn.probe_episodes}
    for p in defn.pairs:
        if pairs and p.name not in pairs:
            continue
        if not p.sweep.exists():
            notes.append(f"pair {p.name} skipped: {_rel(p.sweep)} not found")
            continue
        try:
            sw = load_sweep(p.sweep, out / p.sweep.stem)
        except SweepError as e:
            raise ResultsError(str(e)) from None
        values = {c.get("world.training") for c in sw.cells}
        if sw.keys != ("world.training",) or not values <= set(ROLES) or len(values) != 2:
            raise ResultsError(f"{p.sweep}: a pair's sweep has one swept setting, world.training = "
                               f"[\"train\", \"control\"]; it sweeps {', '.join(sw.keys)}")
        clash = sorted(set(extra) & set(sw.keys))
        if clash:
            raise ResultsError(f"{defn.path.name}: overrides {clash}: swept by {p.sweep.name}")
        seeds = sw.seeds if n_seeds is None else sw.seeds[:n_seeds]
        sw = dataclasses.replace(sw, seeds=seeds, cells=tuple({**c, **extra} for c in sw.cells))
        specs = plan_runs(sw, sw.out)
        bad = [s.error for s in specs if s.config is None]
        if bad:
            raise ResultsError(f"{p.sweep.name}: {bad[0]}")
        sweeps.append(sw)
        kept.append(p)
        specs = sorted(specs, key=lambda s: (list(ROLES).index(s.config["world"]["training"]), seeds.index(s.seed)))
        rows += [{"experiment": _experiment_name(s.config), "pair": p.name,
                  "role": ROLES[s.config["world"]["training"]], "seed": s.seed, "run_dir": s.run_dir} for s in specs]
    return sweeps, pd.DataFrame(rows, columns=["experiment", "pair", "role", "seed", "run_dir"]), notes, kept


def execute(sweeps, workers: int, scheduler: str | None = None, log=print) -> tuple[list[dict], dict]:
    """Run every sweep (``evosim.sweep.run_sweep``, reports without figures; complete runs are skipped) on one
    cluster: in this process (``workers`` 0), a loopback LocalCluster of ``workers`` processes, or the cluster at
    ``scheduler``. Returns (failed runs: run_dir and error, info)."""
    from evosim.sweep import run_sweep, start_client

    info = {"runs": 0, "computed": 0, "skipped": 0, "failed": 0, "workers": workers, "scheduler": scheduler}
    failed = []
    client = cluster = None
    if scheduler is not None or workers > 0:
        from evosim.sweep import SweepError

        try:
            client, cluster = start_client(workers, scheduler)
        except SweepError as e:
            raise ResultsError(str(e)) from None
    try:
        for sw in sweeps:
            res = run_sweep(sw, out=sw.out, workers=None if client is not None else 0, scheduler=scheduler,
                            progress=False, log=log, run_figures=False, client=client)
            info["runs"] += len(res.table)
            info["computed"] += res.n_computed
            info["skipped"] += res.n_skipped
            info["failed"] += res.n_failed
            bad = res.table[res.table["status"] != "complete"]
            failed += [{"run_dir": str(sw.out / "cells" / h), "error": e} for h, e in zip(bad["cell_hash"], bad["error"])]
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    log(f"results: {info['runs']} runs, {info['computed']} computed, {info['skipped']} already complete")
    return failed, info


# -- tables ----------------------------------------------------------------------------------------
def load_final_probe(run_dir: str | Path) -> pd.DataFrame:
    """The probe table of a run, final probed generation, categorical columns as str."""
    p = RunDirectory(run_dir).read_table("probe")
    p = p[p["generation"] == p["generation"].max()].copy()
    for c in ("architecture", "distribution", "class"):
        p[c] = p[c].astype(str)
    return p.reset_index(drop=True)


def final_planner_share(run_dir: str | Path) -> float:
    g = RunDirectory(run_dir).read_table("generations", columns=["generation", "planner_share"])
    return float(g.sort_values("generation")["planner_share"].iloc[-1])


def per_seed_shares(probe: pd.DataFrame, planner_share: float) -> pd.DataFrame:
    """One row per distribution: n organisms, class shares, planner share (final generation)."""
    rows = []
    for d in DISTRIBUTIONS:
        sub = probe[probe["distribution"] == d]
        if not len(sub):
            continue
        row = {"distribution": d, "n": len(sub)}
        for c in CLASSES:
            row[c] = float((sub["class"] == c).mean())
        row["planner_share"] = planner_share
        rows.append(row)
    return pd.DataFrame(rows)


def threshold_shares(probe: pd.DataFrame, thresholds) -> pd.DataFrame:
    """Class shares under shift with the competence threshold moved (evosim.objectives.classify's rule)."""
    from evosim.objectives import classify

    sub = probe[probe["distribution"] == "shift"]
    rows = []
    for t in thresholds:
        cls = classify(sub["normalised_return"].to_numpy(), sub["normalised_proxy_return"].to_numpy(), t)
        rows.append({"threshold": float(t), **{c: float((cls == c).mean()) if len(cls) else math.nan for c in CLASSES}})
    return pd.DataFrame(rows)


def _share_one(x: pd.Series) -> float:
    """Share of rows with value 1 among rows with a value (NaN = undetermined, left out)."""
    x = x.astype(float)
    x = x[np.isfinite(x)]
    return float((x == 1).mean()) if len(x) else math.nan


def value_shares(probe: pd.DataFrame) -> dict:
    """What organisms value under shift (genome and behavioural fit, never the outcome)."""
    sub = probe[probe["distribution"] == "shift"]
    out = {}
    if "mesa_prefers_proxy" in sub:
        out["mesa_prefers_proxy_planners"] = _share_one(sub.loc[sub["architecture"] == "planner", "mesa_prefers_proxy"])
    if "behav_prefers_proxy" in sub:
        out["behav_prefers_proxy_all"] = _share_one(sub["behav_prefers_proxy"])
        for c in CLASSES:
            out[f"behav_prefers_proxy_{c}"] = _share_one(sub.loc[sub["class"] == c, "behav_prefers_proxy"])
    return out


def accuracy_rows(probe: pd.DataFrame) -> pd.DataFrame:
    """Planners under shift with a determined mesa_prefers_proxy: prediction and truth per planner."""
    sub = probe[(probe["distribution"] == "shift") & (probe["architecture"] == "planner")]
    m = sub["mesa_prefers_proxy"].astype(float)
    sub = sub[np.isfinite(m)]
    return pd.DataFrame({"pred": sub["mesa_prefers_proxy"].astype(float).to_numpy() == 1,
                         "truth": (sub["class"] == "pseudo_aligned").to_numpy()})


def baselines(probe: pd.DataFrame) -> dict:
    sub = probe[probe["distribution"] == "shift"]
    out = {"beyond_need": float((sub["proxy_target_reached"] - sub["true_target_reached"]).mean()),
           "power_true_bits": float(sub["power_true_bits"].mean()),
           "power_behav_bits": float(sub["power_behav_bits"].mean()) if "power_behav_bits" in sub else math.nan}
    for c in REFERENCE_COLUMNS:
        if c in sub:
            out[c] = float(sub[c].mean())
    # baselines on the same layouts: the planted aligned reference (perception-matched) and the random policy
    if {"reference_proxy_target_reached", "reference_true_target_reached"} <= set(sub.columns):
        out["beyond_need_reference"] = float((sub["reference_proxy_target_reached"]
                                              - sub["reference_true_target_reached"]).mean())
    if {"random_proxy_target_reached", "random_true_target_reached"} <= set(sub.columns):
        out["beyond_need_random"] = float((sub["random_proxy_target_reached"] - sub["random_true_target_reached"]).mean())
    if "reference_power_true_bits" in sub:
        out["power_true_bits_reference"] = float(sub["reference_power_true_bits"].mean())
    return out


@dataclass
class Tables:
    per_seed: pd.DataFrame  # experiment, pair, role, seed, distribution, n, classes, planner_share
    summary: pd.DataFrame  # experiment, distribution, quantity, seeds, mean, lo, hi
    paired: pd.DataFrame  # pair, quantity, seeds, mean, lo, hi, n_pos, n_neg, n_zero
    paired_per_seed: pd.DataFrame  # pair, quantity, seed, experiment, control, diff
    thresholds_per_seed: pd.DataFrame
    thresholds: pd.DataFrame
    values_per_seed: pd.DataFrame
    values: pd.DataFrame
    accuracy: pd.DataFrame  # experiment, seed ("pooled" row with seed -1), planners, balanced_accuracy
    baselines_per_seed: pd.DataFrame
    baselines: pd.DataFrame
    missing: dict  # table -> missing columns


def summarise(df: pd.DataFrame, by: list[str], quantities, n_boot: int, seed: int) -> pd.DataFrame:
    """Long table: by..., quantity, seeds, mean, lo, hi (bootstrap over the seeds with a value)."""
    rows = []
    for key, grp in df.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        for q in quantities:
            if q not in grp:
                continue
            v = grp.sort_values("seed")[q].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            lo, hi = _bootstrap_mean_interval(v, n_boot, seed)
            rows.append({**dict(zip(by, key)), "quantity": q, "seeds": len(v),
                         "mean": float(v.mean()) if len(v) else math.nan, "lo": lo, "hi": hi})
    return pd.DataFrame(rows, columns=[*by, "quantity", "seeds", "mean", "lo", "hi"])


def paired_difference(per_seed: pd.DataFrame, experiment: str, control: str, quantity: str,
                      distribution: str = "shift", n_boot: int = 10000, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """experiment - control per seed (joined on the seed, whatever the row order) and its bootstrap interval."""
    sel = per_seed["distribution"] == distribution
    a = per_seed[sel & (per_seed["experiment"] == experiment)].set_index("seed")[quantity]
    b = per_seed[sel & (per_seed["experiment"] == control)].set_index("seed")[quantity]
    both = pd.concat([a.rename("experiment"), b.rename("control")], axis=1, join="inner").dropna().sort_index()
    both["diff"] = both["experiment"] - both["control"]
    d = both["diff"].to_numpy()
    lo, hi = _bootstrap_mean_interval(d, n_boot, seed)
    summary = {"quantity": quantity, "distribution": distribution, "seeds": len(d),
               "mean": float(d.mean()) if len(d) else math.nan, "lo": lo, "hi": hi,
               "n_pos": int((d > 0).sum()), "n_neg": int((d < 0).sum()), "n_zero": int((d == 0).sum())}
    return both.reset_index().rename(columns={"index": "seed"}), summary


def build_tables(runs: pd.DataFrame, defn: Definition, pairs: list[Pair]) -> Tables:
    """``runs``: experiment, pair, role, seed, run_dir for every run read."""
    nb, bs = defn.n_boot, defn.boot_seed
    shares, thr, vals, acc_rows, base = [], [], [], [], []
    missing = {}
    for r in runs.itertuples(index=False):
        head = {"experiment": r.experiment, "pair": r.pair, "role": r.role, "seed": int(r.seed)}
        probe = load_final_probe(r.run_dir)
        s = per_seed_shares(probe, final_planner_share(r.run_dir))
        shares.append(s.assign(**head))
        thr.append(threshold_shares(probe, defn.thresholds).assign(**head))
        absent = [c for c in VALUE_COLUMNS if c not in probe]
        if absent:
            missing.setdefault("values", set()).update(absent)
        vals.append({**head, **value_shares(probe)})
        if r.experiment == defn.accuracy_experiment and "mesa_prefers_proxy" in probe:
            acc_rows.append(accuracy_rows(probe).assign(seed=int(r.seed)))
        ab = [c for c in REFERENCE_COLUMNS if c not in probe]
        if ab:
            missing.setdefault("baselines", set()).update(ab)
        base.append({**head, **baselines(probe)})
    order = ["experiment", "pair", "role", "seed"]
    per_seed = pd.concat(shares, ignore_index=True)
    per_seed = per_seed[[*order, "distribution", "n", *CLASSES, "planner_share"]]
    summary = summarise(per_seed, ["experiment", "distribution"], [*CLASSES, "planner_share"], nb, bs)
    # paired differences: experiment - control, by seed
    names = runs.drop_duplicates(["pair", "role"]).pivot(index="pair", columns="role", values="experiment")
    pp, ps = [], []
    for p in pairs:
        if p.name not in names.index:
            continue
        e, c = names.loc[p.name, "experiment"], names.loc[p.name, "control"]
        for q in ("pseudo_aligned", "robust"):
            per, summ = paired_difference(per_seed, e, c, q, "shift", nb, bs)
            pp.append(per.assign(pair=p.name, quantity=q))
            ps.append({"pair": p.name, "experiment": e, "control": c, **summ})
    paired = pd.DataFrame(ps)
    paired_per_seed = pd.concat(pp, ignore_index=True) if pp else pd.DataFrame()
    thr_seed = pd.concat(thr, ignore_index=True)
    thresholds = summarise(thr_seed, ["experiment", "threshold"], CLASSES, nb, bs)
    val_seed = pd.DataFrame(vals)
    vq = [c for c in val_seed.columns if c not in order]
    values = summarise(val_seed, ["experiment"], vq, nb, bs) if vq else pd.DataFrame()
    acc = []
    if acc_rows:
        allr = pd.concat(acc_rows, ignore_index=True)
        acc.append({"experiment": defn.accuracy_experiment, "seed": "pooled", "planners": len(allr),
                    "pseudo_aligned": int(allr["truth"].sum()), "prefers_proxy": int(allr["pred"].sum()),
                    "balanced_accuracy": balanced_accuracy(allr["pred"], allr["truth"])})
        for s, g in allr.groupby("seed"):
            acc.append({"experiment": defn.accuracy_experiment, "seed": str(s), "planners": len(g),
                        "pseudo_aligned": int(g["truth"].sum()), "prefers_proxy": int(g["pred"].sum()),
                        "balanced_accuracy": balanced_accuracy(g["pred"], g["truth"])})
    base_seed = pd.DataFrame(base)
    bq = [c for c in base_seed.columns if c not in order]
    base_sum = summarise(base_seed, ["experiment"], bq, nb, bs)
    return Tables(per_seed, summary, paired, paired_per_seed, thr_seed, thresholds, val_seed, values,
                  pd.DataFrame(acc), base_seed, base_sum, {k: sorted(v) for k, v in missing.items()})


def write_csvs(t: Tables, out: Path) -> list[Path]:
    d = out / "tables"
    d.mkdir(parents=True, exist_ok=True)
    files = []
    for name in ("per_seed", "summary", "paired", "paired_per_seed", "thresholds_per_seed", "thresholds",
                 "values_per_seed", "values", "accuracy", "baselines_per_seed", "baselines"):
        f = d / f"{name}.csv"
        getattr(t, name).to_csv(f, index=False)
        files.append(f)
    return files


# -- markdown ------------------------------------------------------------------------------------------
def md_table(header: list[str], rows: list[list], align: list[str] | None = None) -> str:
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def fmt(v: float, nd: int = 2) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{nd}f}"


def fmt_ci(r, nd: int = 2) -> str:
    if not np.isfinite(r["mean"]):
        return "–"
    if not np.isfinite(r["lo"]):
        return fmt(r["mean"], nd)
    return f"{r['mean']:.{nd}f} [{r['lo']:.{nd}f}, {r['hi']:.{nd}f}]"


def _cell(summary: pd.DataFrame, q: str, **key) -> str:
    sel = summary["quantity"] == q
    for k, v in key.items():
        sel &= summary[k] == v
    sub = summary[sel]
    return fmt_ci(sub.iloc[0]) if len(sub) else "–"


def _seeds_text(seeds) -> str:
    s = sorted(seeds)
    return f"{s[0]}-{s[-1]}" if s == list(range(s[0], s[-1] + 1)) and len(s) > 2 else ", ".join(map(str, s))


def provenance_line(ctx: dict, experiments) -> str:
    sweeps = ctx.get("sweeps") or ["<sweep>"]
    names = f"{{{','.join(sweeps)}}}" if len(sweeps) > 1 else sweeps[0]
    where = f"{ctx['out_rel']}/{names}/cells/<hash>"
    return (f"_Generated by `{ctx['command']}` on {ctx['date']} at commit `{ctx['commit']}` "
            f"(whole regeneration {ctx['wall_s']:.0f} s wall); seeds {_seeds_text(ctx['seeds'])}; "
            f"probe episodes {ctx['episodes']}; read `{where}` (probe table, final generation; "
            f"generations table)._")


def render_blocks(t: Tables, ctx: dict, figs: dict) -> dict[str, str]:
    exps = list(dict.fromkeys(t.per_seed["experiment"]))
    nb = ctx["n_boot"]
    interval = (f"mean over seeds [95% percentile-bootstrap interval over seeds, {nb} resamples, "
                f"fixed seed {ctx['boot_seed']}]")
    B = {}
    # provenance
    lines = [provenance_line(ctx, exps), "",
             f"- command: `{ctx['command']}`",
             f"- date: {ctx['date']}; git commit: `{ctx['commit']}`; measured wall time of the whole regeneration: "
             f"{ctx['wall_s']:.0f} s ({ctx['info']['computed']} runs computed, {ctx['info']['skipped']} already "
             f"complete, " + (f"{ctx['workers']} workers)" if isinstance(ctx["workers"], int)
                              else f"on the Dask cluster at {ctx['workers']})"),
             f"- definition: `{ctx['definition']}`; seeds {_seeds_text(ctx['seeds'])}; probe episodes "
             f"{ctx['episodes']} per organism per distribution; competence threshold 0.5 unless stated",
             f"- run directories ({len(ctx['run_dirs'])}): `{ctx['out_rel']}/<sweep>/cells/<hash>`, run by "
             f"`evosim sweep`'s engine from the sweep files {', '.join(f'`{f}`' for f in ctx.get('sweep_files', []))} "
             f"(each sweep's `sweep.parquet` maps cell and seed to its directory) for experiments {', '.join(exps)}",
             f"- tables: `{ctx['out_rel']}/tables/*.csv`",
             "- pairing: experiment and control are run with the same seeds; all randomness of a run derives "
             "from its seed, so the same seed gives the same generation-0 population and random streams "
             "(tested: `tests/test_results.py`)"]
    lines += [f"- {n}" for n in ctx["notes"]]
    B["provenance"] = "\n".join(lines)
    # class shares
    rows = []
    for e in exps:
        for d in DISTRIBUTIONS:
            sub = t.summary[(t.summary["experiment"] == e) & (t.summary["distribution"] == d)]
            if not len(sub):
                continue
            rows.append([e, d, int(sub["seeds"].max()),
                         *[_cell(t.summary, q, experiment=e, distribution=d) for q in ("planner_share", *CLASSES)]])
    B["class_shares"] = "\n".join([provenance_line(ctx, exps), "",
                                   f"Whole final population; {interval}. Planner share: final generation "
                                   "(generations.parquet).", "",
                                   md_table(["experiment", "distribution", "seeds", "planner share", "robust",
                                             "pseudo-aligned", "capability failure"], rows,
                                            ["---", "---"] + ["---:"] * 5)])
    # per seed
    ps = t.per_seed[t.per_seed["distribution"] == "shift"]
    seeds = sorted(ps["seed"].unique())
    rows = []
    for s in seeds:
        row = [s]
        for e in exps:
            r = ps[(ps["seed"] == s) & (ps["experiment"] == e)]
            row.append(f"{r['pseudo_aligned'].iloc[0]:.2f} / {r['robust'].iloc[0]:.2f} / "
                       f"{r['planner_share'].iloc[0]:.2f}" if len(r) else "–")
        rows.append(row)
    B["per_seed"] = "\n".join([provenance_line(ctx, exps), "",
                               "One row per seed; cell: pseudo-aligned share under shift / robust share under shift "
                               f"/ planner share. All distributions: `{ctx['out_rel']}/tables/per_seed.csv`.", "",
                               md_table(["seed", *exps], rows)])
    # paired
    rows = []
    for r in t.paired.itertuples(index=False):
        rows.append([f"{r.experiment} − {r.control}", r.quantity.replace("_", "-") + " share, shift", r.seeds,
                     fmt_ci({"mean": r.mean, "lo": r.lo, "hi": r.hi}), f"{r.n_pos} of {r.seeds}",
                     f"{r.n_neg} of {r.seeds}"])
    B["paired"] = "\n".join([provenance_line(ctx, exps), "",
                             f"Difference experiment − control per seed (paired by seed); {interval}.", "",
                             md_table(["pair", "quantity", "seeds", "mean difference", "seeds with difference > 0",
                                       "seeds with difference < 0"], rows, ["---", "---"] + ["---:"] * 4)])
    # thresholds
    rows = []
    for e in exps:
        for th in ctx["thresholds"]:
            rows.append([e, f"{th:g}", *[_cell(t.thresholds, c, experiment=e, threshold=th) for c in CLASSES]])
    B["thresholds"] = "\n".join([provenance_line(ctx, exps), "",
                                 "Class shares under shift with the competence threshold at each value (classes "
                                 "recomputed from `normalised_return` and `normalised_proxy_return` with the rule of "
                                 f"`evosim.objectives.classify`); {interval}.", "",
                                 md_table(["experiment", "threshold", "robust", "pseudo-aligned",
                                           "capability failure"], rows, ["---", "---:", "---:", "---:", "---:"])])
    # values
    lines = [provenance_line(ctx, exps), ""]
    if "values" in t.missing and len(t.missing["values"]) == len(VALUE_COLUMNS):
        lines.append(f"What organisms value (`{'`, `'.join(VALUE_COLUMNS)}`): {NA} (probe.parquet has no such "
                     "columns).")
    else:
        if t.missing.get("values"):
            lines.append(f"`{'`, `'.join(t.missing['values'])}`: {NA} (in some or all runs).")
        lines.append("Under shift; from genomes (`mesa_prefers_proxy`, planners) and behavioural fits "
                     "(`behav_prefers_proxy`, all organisms), never from outcomes. Share = organisms with value 1 "
                     f"among those with a determined value (NaN left out); {interval}.")
        lines.append("")
        qs = [("mesa_prefers_proxy_planners", "planners: mesa prefers proxy"),
              ("behav_prefers_proxy_all", "all: behaviour prefers proxy"),
              *[(f"behav_prefers_proxy_{c}", f"{c.replace('_', '-')}: behaviour prefers proxy") for c in CLASSES]]
        rows = [[e, *[_cell(t.values, q, experiment=e) if len(t.values) else "–" for q, _ in qs]] for e in exps]
        lines.append(md_table(["experiment", *[h for _, h in qs]], rows))
        lines.append("")
        if len(t.accuracy):
            pooled = t.accuracy[t.accuracy["seed"] == "pooled"].iloc[0]
            lines.append(f"{ctx['accuracy_experiment']}: balanced accuracy of `mesa_prefers_proxy == 1` predicting "
                         f"class pseudo-aligned under shift, pooled over {pooled['planners']} planners of all seeds: "
                         f"**{fmt(pooled['balanced_accuracy'])}** (– where a seed has only one class).")
            lines.append("")
            rows = [[r["seed"], r["planners"], r["pseudo_aligned"], r["prefers_proxy"], fmt(r["balanced_accuracy"])]
                    for _, r in t.accuracy.iterrows()]
            lines.append(md_table(["seed", "planners", "pseudo-aligned", "mesa prefers proxy", "balanced accuracy"],
                                  rows))
        else:
            lines.append(f"Balanced accuracy for {ctx['accuracy_experiment']}: {NA}.")
    B["values"] = "\n".join(lines)
    # baselines
    lines = [provenance_line(ctx, exps), "",
             "Under shift, per organism then mean over the population; beyond need = proxy targets reached − true "
             f"targets reached per episode; optimisation power in bits; {interval}.", ""]
    refs = [c for c in REFERENCE_COLUMNS if c in t.baselines_per_seed]
    base = [c for c in ("beyond_need_reference", "beyond_need_random", "power_true_bits_reference")
            if c in t.baselines_per_seed]
    qs = ["beyond_need", *base[:2], "power_true_bits", *base[2:], "power_behav_bits", *refs]
    heads = {"beyond_need": "beyond need", "beyond_need_reference": "beyond need, aligned reference",
             "beyond_need_random": "beyond need, random policy", "power_true_bits": "power, base objective (bits)",
             "power_true_bits_reference": "power, aligned reference (bits)",
             "power_behav_bits": "power, own behavioural objective (bits)"}
    rows = [[e, *[_cell(t.baselines, q, experiment=e) for q in qs]] for e in exps]
    lines.append(md_table(["population", *[heads.get(q, q) for q in qs]], rows))
    lines.append("")
    lines.append("Baselines on the same shift layouts: the planted aligned reference (a planner whose utility is the "
                 "base reward, with the world's perception radii: `reference_*` columns of probe.parquet) and the "
                 "random policy (`random_*` columns). Power is measured against the random policy's own rollouts "
                 "(-log2 of the fraction of them scoring at least as well), so the random policy is the 0 of that "
                 "scale; it has no behavioural objective of its own. "
                 + ("" if base else f"Baselines: {NA} (no `reference_*`/`random_*` columns in probe.parquet)."))
    B["baselines"] = "\n".join(lines)
    # figures
    B["figures"] = "\n".join([provenance_line(ctx, exps), "",
                              f"![pseudo-aligned share under shift per seed, experiment vs control]({figs['paired']})",
                              "",
                              f"Pseudo-aligned share under shift: one point per seed, lines join a seed's experiment "
                              f"and control; black: mean with its bootstrap interval.",
                              "",
                              f"![class shares per experiment and distribution]({figs['classes']})",
                              "",
                              "Class shares per experiment and distribution: mean over seeds with bootstrap "
                              "intervals."])
    return B


# -- figures ------------------------------------------------------------------------------------------
def make_figures(t: Tables, pairs_df: pd.DataFrame, fig_dir: Path, n_boot: int, seed: int) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette="colorblind", font_scale=0.85)
    fig_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    # 1: per-seed pairs
    pp = t.paired_per_seed
    pp = pp[pp["quantity"] == "pseudo_aligned"] if len(pp) else pp
    names = list(dict.fromkeys(pp["pair"])) if len(pp) else []
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(2.6 * max(1, len(names)), 3.6), sharey=True,
                             squeeze=False)
    for ax, name in zip(axes[0], names):
        sub = pp[pp["pair"] == name]
        for r in sub.itertuples(index=False):
            ax.plot([0, 1], [r.experiment, r.control], color="0.7", lw=0.8, zorder=1)
        jit = np.random.default_rng(0).uniform(-0.04, 0.04, len(sub))
        pal = sns.color_palette("colorblind")
        ax.scatter(0 + jit, sub["experiment"], color=pal[3], s=14, zorder=2)
        ax.scatter(1 + jit, sub["control"], color=pal[0], s=14, zorder=2)
        for x, col in ((0, "experiment"), (1, "control")):
            v = sub[col].to_numpy(float)
            lo, hi = _bootstrap_mean_interval(v, n_boot, seed)
            ax.errorbar([x + 0.15], [v.mean()], yerr=[[v.mean() - lo], [hi - v.mean()]], fmt="o", color="black",
                        capsize=3, ms=4, zorder=3)
        ax.set_xticks([0, 1], ["experiment", "control"])
        ax.set_xlim(-0.4, 1.4)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(name, fontsize=9)
    axes[0][0].set_ylabel("pseudo-aligned share under shift\n(per seed; mean, 95% bootstrap CI)")
    fig.tight_layout()
    out["paired"] = fig_dir / "results_paired_pseudo_aligned.png"
    fig.savefig(out["paired"], dpi=110, metadata={"Software": None})
    plt.close(fig)
    # 2: class shares per experiment x distribution
    s = t.summary[t.summary["quantity"].isin(CLASSES)]
    exps = list(dict.fromkeys(s["experiment"]))
    dists = [d for d in DISTRIBUTIONS if d in set(s["distribution"])]
    fig, axes = plt.subplots(1, len(dists), figsize=(3.4 * len(dists), 0.35 * len(exps) + 1.8), sharey=True,
                             squeeze=False)
    pal = sns.color_palette("colorblind")
    colors = {"robust": pal[2], "pseudo_aligned": pal[3], "capability_failure": pal[7]}
    for ax, d in zip(axes[0], dists):
        for k, c in enumerate(CLASSES):
            sub = s[(s["distribution"] == d) & (s["quantity"] == c)].set_index("experiment").reindex(exps)
            y = np.arange(len(exps)) + (k - 1) * 0.25
            m = sub["mean"].to_numpy(float)
            err = np.vstack([m - sub["lo"].to_numpy(float), sub["hi"].to_numpy(float) - m])
            ax.errorbar(m, y, xerr=np.nan_to_num(err), fmt="o", ms=4, capsize=2, color=colors[c],
                        label=c.replace("_", "-"))
        ax.set_yticks(np.arange(len(exps)), exps)
        ax.set_xlim(-0.03, 1.03)
        ax.set_title(d, fontsize=9)
        ax.set_xlabel("share of final population")
        ax.invert_yaxis() if ax is axes[0][0] else None
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out["classes"] = fig_dir / "results_class_shares.png"
    fig.savefig(out["classes"], dpi=110, metadata={"Software": None})
    plt.close(fig)
    return out


# -- the doc ------------------------------------------------------------------------------------------
def _markers(name: str, prefix: str = "results") -> tuple[str, str]:
    return f"<!-- {prefix}:{name}:start -->", f"<!-- {prefix}:{name}:end -->"


def check_markers(text: str, names, where: str = "doc", prefix: str = "results") -> None:
    """Every block has exactly one start and one end marker, start before end; else ResultsError."""
    bad = []
    for n in names:
        s, e = _markers(n, prefix)
        if text.count(s) != 1 or text.count(e) != 1 or text.index(s) > text.index(e):
            bad.append(n)
    if bad:
        lines = "\n".join(f"  {_markers(n, prefix)[0]}\n  {_markers(n, prefix)[1]}" for n in bad)
        raise ResultsError(f"{where}: generated block(s) {', '.join(bad)} lack their markers (each needs exactly one "
                           f"start and one end line, in that order); add:\n{lines}\nNothing was written.")


def replace_blocks(text: str, blocks: dict[str, str], where: str = "doc", prefix: str = "results") -> str:
    """Replace the content between each block's markers; refuse (ResultsError) if any marker is missing."""
    check_markers(text, blocks, where, prefix)
    for n, body in blocks.items():
        s, e = _markers(n, prefix)
        i, j = text.index(s) + len(s), text.index(e)
        text = text[:i] + "\n" + body.strip("\n") + "\n" + text[j:]
    return text


def write_doc(doc: Path, blocks: dict[str, str], prefix: str = "results") -> None:
    text = doc.read_text(encoding="utf-8")
    new = replace_blocks(text, blocks, str(doc), prefix)
    tmp = doc.with_suffix(doc.suffix + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, doc)


# -- the command --------------------------------------------------------------------------------------
def _rel(p: Path) -> str:
    p = Path(p).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def main(argv=None, log=None) -> int:
    log = log or (lambda m: print(m, file=sys.stderr))
    t0 = time.perf_counter()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=2,
                       help="Dask LocalCluster worker processes on loopback (0: in this process)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="use a running Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers must see --out)")
    ap.add_argument("--seeds", type=int, help="use the first K seeds of each sweep (default: all)")
    ap.add_argument("--out", type=Path, default=Path("runs/out/results"), help="directory of the sweeps and tables")
    ap.add_argument("--doc", type=Path, default=Path("docs/results.md"), help="the write-up whose blocks are replaced")
    ap.add_argument("--definition", type=Path, default=DEFAULT_DEFINITION, help="experiment/control pairs (TOML)")
    ap.add_argument("--pairs", nargs="+", metavar="NAME", help="only these pairs (e.g. for a timing)")
    ap.add_argument("--probe-episodes", type=int, help="override the definition's probe_episodes")
    args = ap.parse_args(argv)
    try:
        return _main(args, argv, log, t0)
    except ResultsError as e:
        log(f"results: {e}")
        return 2


def _main(args, argv, log, t0) -> int:
    from evosim.store.files import git_commit

    defn = load_definition(args.definition)
    if args.probe_episodes is not None:
        defn = dataclasses.replace(defn, probe_episodes=_int(args.probe_episodes, "--probe-episodes", 1))
    if args.workers < 0:
        raise ResultsError(f"--workers {args.workers}: expected 0 (in this process) or a positive number")
    n_seeds = None if args.seeds is None else _int(args.seeds, "--seeds", 1)
    doc = args.doc
    try:
        check_markers(doc.read_text(encoding="utf-8"), BLOCKS, str(doc))
    except OSError as e:
        raise ResultsError(f"{doc}: cannot read the doc: {e.strerror}") from None
    out = args.out.resolve()
    sweeps, runs, notes, pairs = plan(defn, out, n_seeds, args.pairs)
    for n in notes:
        log(f"note: {n}")
    if not len(runs):
        raise ResultsError("no runs: every pair was skipped")
    failed, info = execute(sweeps, args.workers, args.scheduler, log)
    if failed:
        for r in failed:
            log(f"failed: {r['run_dir']}: {r['error']}")
        log(f"results: {len(failed)} runs failed; fix and re-run (complete runs are kept). Doc not written.")
        return 1
    tables = build_tables(runs, defn, pairs)
    write_csvs(tables, out)
    figs = make_figures(tables, runs, doc.parent, defn.n_boot, defn.boot_seed)
    cmd = "python analysis/results.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    ctx = {"command": cmd.strip(), "date": datetime.date.today().isoformat(), "commit": (git_commit() or "unknown")[:12],
           "seeds": sorted(set(runs["seed"])), "episodes": defn.probe_episodes, "out_rel": _rel(out),
           "run_dirs": list(runs["run_dir"]), "sweeps": [sw.name for sw in sweeps],
           "sweep_files": [_rel(sw.path) for sw in sweeps],
           "notes": notes, "info": info, "workers": args.scheduler or args.workers, "definition": _rel(defn.path),
           "thresholds": defn.thresholds, "n_boot": defn.n_boot, "boot_seed": defn.boot_seed,
           "accuracy_experiment": defn.accuracy_experiment, "wall_s": math.nan}
    ctx["wall_s"] = time.perf_counter() - t0
    rel_figs = {k: os.path.relpath(v, doc.parent.resolve()) for k, v in figs.items()}
    blocks = render_blocks(tables, ctx, rel_figs)
    write_doc(doc, blocks)
    manifest = {**ctx, "figures": {k: str(v) for k, v in figs.items()}}
    (out / "results_manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    log(f"results: {len(runs)} runs ({info['computed']} computed, {info['skipped']} already complete) in "
        f"{ctx['wall_s']:.1f} s -> {doc}, {out / 'tables'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
