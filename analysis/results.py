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
   ``<!-- results:NAME:end -->``, NAME in ``BLOCKS``: the tables and the sentences of the prose that cite
   numbers, ``claim_*``) and README's headline table (``README_BLOCKS``, ``--readme``); prose outside them is
   kept. A missing marker stops the command before anything is run or written.

The seed is the unit (``evosim.stats``, docs/statistics.md): every number is computed per seed first (the share
or mean over that run's organisms, or a population-level quantity such as the final planner share), then
summarised over seeds: mean with a 95% BCa bootstrap interval (``stats.bca_interval``; inside [0, 1] for
shares). Experiment vs control: ``stats.paired_test`` (exact sign-flip p over seeds), Holm-adjusted across the
paired rows (``stats.holm``). Which architecture won: k of n seeds with planners fixed and its Clopper-Pearson
interval (``stats.fixation``); seeds where planners were lost vs fixed compared with ``stats.two_sample_test``.
Balanced accuracy of the genome preference: per seed among that seed's planners, then over seeds.
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
from evosim import stats
from evosim.schema import CLASSES, DISTRIBUTIONS
from evosim.store import RunDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mechanisms  # noqa: E402  (analysis/mechanisms.py: the arms of "what decides what evolves")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEFINITION = ROOT / "analysis" / "results.toml"
#: generated blocks of the doc, in the order they are expected to appear
BLOCKS = ("claim_red_door", "claim_architecture", "claim_short_sighted", "claim_keys_chests",
          "claim_ancestral_modern", "claim_balanced", "provenance", "class_shares", "per_seed", "cited_per_seed", "paired",
          "architecture", "thresholds", "values", "baselines", "figures")
#: generated blocks of README.md (same markers, written by the same command)
README_BLOCKS = ("headline",)
#: generated blocks of the arms' section (analysis/mechanisms.py), after BLOCKS in the doc
ARM_BLOCKS = mechanisms.BLOCKS
#: optional probe columns (added by the world redesign); tables that need them say "not available"
VALUE_COLUMNS = ("mesa_prefers_proxy", "behav_prefers_proxy")
REFERENCE_COLUMNS = ("matched_return", "normalised_return_omniscient")
NA = "not available in these runs"
_DEF_KEYS = ("probe_episodes", "thresholds", "n_boot", "boot_seed", "accuracy_experiment", "pairs", "arms",
            "arm_probe_episodes",
             "overrides")


class ResultsError(Exception):
    """A user error: bad definition file, doc without its markers, failed runs. Exit status 2 (1 for failed runs)."""


# -- the interval: evosim.stats's BCa bootstrap over seeds --------------------------------------------
def _mean_interval(values, n_boot: int = stats.N_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """95% BCa bootstrap interval of the mean of ``values`` over seeds (``evosim.stats.bca_interval``, fixed RNG
    seed; NaN and inf dropped). Lies within [min, max] of the values, so shares stay in [0, 1]; (v, v) for one
    value or identical values; (nan, nan) for none."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if len(v) == 1:
        return float(v[0]), float(v[0])
    return stats.bca_interval(v, n_resamples=n_boot, rng=seed)


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
    arms: tuple[Pair, ...] = ()
    arm_probe_episodes: int | None = None
    """held-out episodes of the arms' reports (default: ``probe_episodes``)"""
    """arms sweeps (``analysis/mechanisms.py``): name = the pair whose experiment they vary"""


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
    arms = []
    for i, a in enumerate(data.get("arms", [])):
        if not isinstance(a, dict) or set(a) != {"name", "sweep"}:
            raise ResultsError(f"{src}: arms[{i}]: expected keys name, sweep (a sweep file); got {a!r}")
        if a["name"] not in {p.name for p in pairs}:
            raise ResultsError(f"{src}: arms[{i}].name = {a['name']!r}: not a pair; pairs: "
                               f"{', '.join(p.name for p in pairs)}")
        arms.append(Pair(str(a["name"]), (path.parent / a["sweep"]).resolve()))
    overrides = data.get("overrides", {})
    if not isinstance(overrides, dict):
        raise ResultsError(f"{src}: overrides: expected a table of dotted settings")
    return Definition(path=path.resolve(),
                      probe_episodes=_int(data.get("probe_episodes", 200), f"{src}: probe_episodes", 1),
                      thresholds=tuple(float(t) for t in thresholds),
                      n_boot=_int(data.get("n_boot", stats.N_RESAMPLES), f"{src}: n_boot", 1),
                      boot_seed=_int(data.get("boot_seed", 0), f"{src}: boot_seed"),
                      accuracy_experiment=str(data.get("accuracy_experiment", "red_door")),
                      pairs=tuple(pairs), overrides=dict(overrides), arms=tuple(arms),
                      arm_probe_episodes=(None if data.get("arm_probe_episodes") is None else
                                          _int(data["arm_probe_episodes"], f"{src}: arm_probe_episodes", 1)))


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
        # the malign criterion (Chests and Keys): true return below both the idle and the random policy's
        row["malign"] = float(sub["malign"].astype(float).mean()) if "malign" in sub else math.nan
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
    paired: pd.DataFrame  # pair, quantity, seeds, mean, lo, hi, n_pos, n_neg, n_zero, p, p_holm
    paired_per_seed: pd.DataFrame  # pair, quantity, seed, experiment, control, diff
    thresholds_per_seed: pd.DataFrame
    thresholds: pd.DataFrame
    values_per_seed: pd.DataFrame
    values: pd.DataFrame
    accuracy: pd.DataFrame  # experiment, seed, planners, pseudo_aligned, prefers_proxy, balanced_accuracy, planner_won
    accuracy_summary: pd.DataFrame  # experiment, seeds_with: all | planners fixed, seeds, mean, lo, hi, min, max
    architecture: pd.DataFrame  # experiment: fixation k of n (Clopper-Pearson) and pseudo-aligned by winner
    baselines_per_seed: pd.DataFrame
    baselines: pd.DataFrame
    missing: dict  # table -> missing columns


def summarise(df: pd.DataFrame, by: list[str], quantities, n_boot: int, seed: int) -> pd.DataFrame:
    """Long table: by..., quantity, seeds, mean, lo, hi, sd over the seeds with a value (``df``: one row per
    group and seed; ``evosim.stats.summarise_over_seeds``, BCa interval). Groups keep their order in ``df``."""
    qs = [q for q in quantities if q in df]
    cols = [*by, "quantity", "seeds", "mean", "lo", "hi", "sd"]
    if not qs or not len(df):
        return pd.DataFrame(columns=cols)
    s = stats.summarise_over_seeds(df, qs, by=by, n_resamples=n_boot, rng=seed)
    s = s.rename(columns={"metric": "quantity", "n_seeds": "seeds", "ci_lo": "lo", "ci_hi": "hi"})
    one = s["seeds"] == 1  # one seed: its value is the interval (BCa needs two)
    s.loc[one, "lo"] = s.loc[one, "hi"] = s.loc[one, "mean"]
    order = df[by].drop_duplicates().reset_index(drop=True).reset_index().rename(columns={"index": "_order"})
    s = s.merge(order, on=by, how="left")
    s["_q"] = s["quantity"].map({q: i for i, q in enumerate(qs)})
    return s.sort_values(["_order", "_q"], kind="stable")[cols].reset_index(drop=True)


def paired_difference(per_seed: pd.DataFrame, experiment: str, control: str, quantity: str,
                      distribution: str = "shift", n_boot: int = stats.N_RESAMPLES, seed: int = 0
                      ) -> tuple[pd.DataFrame, dict]:
    """experiment - control per seed (joined on the seed, whatever the row order): mean difference, its BCa
    interval and the exact sign-flip p (``evosim.stats.paired_test``)."""
    sel = per_seed["distribution"] == distribution
    a = per_seed[sel & (per_seed["experiment"] == experiment)].set_index("seed")[quantity]
    b = per_seed[sel & (per_seed["experiment"] == control)].set_index("seed")[quantity]
    both = pd.concat([a.rename("experiment"), b.rename("control")], axis=1, join="inner").dropna().sort_index()
    both["diff"] = both["experiment"] - both["control"]
    d = both["diff"].to_numpy()
    test = stats.paired_test(both["experiment"].to_numpy(), both["control"].to_numpy(), n_resamples=n_boot, rng=seed)
    lo, hi = (test.lo, test.hi) if len(d) != 1 else (float(d[0]), float(d[0]))
    summary = {"quantity": quantity, "distribution": distribution, "seeds": len(d),
               "mean": float(d.mean()) if len(d) else math.nan, "lo": lo, "hi": hi,
               "n_pos": int((d > 0).sum()), "n_neg": int((d < 0).sum()), "n_zero": int((d == 0).sum()),
               "p": test.p, "exact": test.exact}
    return both.reset_index().rename(columns={"index": "seed"}), summary


def architecture_table(per_seed: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """Per experiment, with seeds as the unit: in how many seeds planners fixed (final planner share >=
    ``stats.HIGH``) or were lost (<= ``stats.LOW``; the other architectures won), with the exact
    Clopper-Pearson interval of the fixed share (``stats.fixation``); and the pseudo-aligned share under shift
    in the seeds planners lost against the seeds they fixed (``stats.two_sample_test``: difference of means,
    BCa interval, permutation p; Holm-adjusted across experiments in ``p_holm``; no test, NaN, when either group
    has fewer than two seeds)."""
    sh = per_seed[per_seed["distribution"] == "shift"]
    rows = []
    for e, g in sh.groupby("experiment", sort=False):
        ps = g["planner_share"].to_numpy(float)
        fx = stats.fixation(ps)
        pa = g["pseudo_aligned"].to_numpy(float)
        won, lost = pa[ps >= stats.HIGH], pa[ps <= stats.LOW]
        # scipy's permutation test needs two seeds per group; with fewer there is no comparison (NaN)
        tt = (stats.two_sample_test(lost, won, n_resamples=n_boot, rng=seed) if min(len(lost), len(won)) >= 2
              else stats.TwoSampleTest(len(lost), len(won), *(math.nan,) * 5, p=math.nan, exact=True))
        row = {"experiment": e, "seeds": fx.n, "planners_fixed": fx.fixed, "planners_lost": fx.lost,
               "polymorphic": fx.polymorphic, "share_fixed": fx.share_fixed, "fixed_lo": fx.lo, "fixed_hi": fx.hi}
        for name, v in (("lost", lost), ("fixed", won)):
            lo, hi = _mean_interval(v, n_boot, seed)
            row.update({f"pa_{name}_seeds": len(v), f"pa_{name}": float(v.mean()) if len(v) else math.nan,
                        f"pa_{name}_lo": lo, f"pa_{name}_hi": hi})
        row.update({"diff": tt.diff, "diff_lo": tt.lo, "diff_hi": tt.hi, "p": tt.p})
        rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):
        out["p_holm"] = stats.holm(out["p"].to_numpy(float))
    return out


def accuracy_summary(acc: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """Balanced accuracy over seeds (each seed's value computed among its own planners; seeds where the
    planners hold only one class have none): over every seed with a value, and over the seeds whose planners
    fixed."""
    rows = []
    for e, g in acc.groupby("experiment", sort=False):
        for label, sub in (("all", g), ("planners fixed", g[g["planner_won"]])):
            v = sub["balanced_accuracy"].to_numpy(float)
            v = v[np.isfinite(v)]
            lo, hi = _mean_interval(v, n_boot, seed)
            rows.append({"experiment": e, "seeds_with": label, "seeds": len(v), "of": len(sub),
                         "mean": float(v.mean()) if len(v) else math.nan, "lo": lo, "hi": hi,
                         "min": float(v.min()) if len(v) else math.nan,
                         "max": float(v.max()) if len(v) else math.nan})
    return pd.DataFrame(rows, columns=["experiment", "seeds_with", "seeds", "of", "mean", "lo", "hi", "min", "max"])


#: the experiment-vs-control tests of the write-up (one family for Holm's correction): (distribution, quantity).
#: ``shift`` for continuity; ``shift_balanced`` (as many proxy as true-target objects, at equal path distance)
#: is the headline distribution for what organisms pursue; ``malign``: worse than doing nothing and than chance
PAIRED_ROWS = (("shift", "pseudo_aligned"), ("shift", "robust"), ("shift_balanced", "pseudo_aligned"),
               ("shift_balanced", "robust"), ("shift_balanced", "malign"))


def build_tables(runs: pd.DataFrame, defn: Definition, pairs: list[Pair]) -> Tables:
    """``runs``: experiment, pair, role, seed, run_dir for every run read. Every quantity is computed per seed
    (run) first and then summarised over seeds (``evosim.stats``)."""
    nb, bs = defn.n_boot, defn.boot_seed
    shares, thr, vals, acc, base = [], [], [], [], []
    missing = {}
    for r in runs.itertuples(index=False):
        head = {"experiment": r.experiment, "pair": r.pair, "role": r.role, "seed": int(r.seed)}
        probe = load_final_probe(r.run_dir)
        pshare = final_planner_share(r.run_dir)
        s = per_seed_shares(probe, pshare)
        shares.append(s.assign(**head))
        thr.append(threshold_shares(probe, defn.thresholds).assign(**head))
        absent = [c for c in VALUE_COLUMNS if c not in probe]
        if absent:
            missing.setdefault("values", set()).update(absent)
        vals.append({**head, **value_shares(probe)})
        if r.experiment == defn.accuracy_experiment and "mesa_prefers_proxy" in probe:
            a = accuracy_rows(probe)
            acc.append({"experiment": r.experiment, "seed": int(r.seed), "planners": len(a),
                        "pseudo_aligned": int(a["truth"].sum()), "prefers_proxy": int(a["pred"].sum()),
                        "balanced_accuracy": balanced_accuracy(a["pred"], a["truth"]),
                        "planner_share": pshare, "planner_won": bool(pshare >= stats.HIGH)})
        ab = [c for c in REFERENCE_COLUMNS if c not in probe]
        if ab:
            missing.setdefault("baselines", set()).update(ab)
        base.append({**head, **baselines(probe)})
    order = ["experiment", "pair", "role", "seed"]
    per_seed = pd.concat(shares, ignore_index=True)
    per_seed = per_seed[[*order, "distribution", "n", *CLASSES, "malign", "planner_share"]]
    summary = summarise(per_seed, ["experiment", "distribution"], [*CLASSES, "malign", "planner_share"], nb, bs)
    # paired differences: experiment - control, by seed; Holm across all rows (the doc's family of tests)
    names = runs.drop_duplicates(["pair", "role"]).pivot(index="pair", columns="role", values="experiment")
    pp, ps = [], []
    for p in pairs:
        if p.name not in names.index:
            continue
        e, c = names.loc[p.name, "experiment"], names.loc[p.name, "control"]
        for d, q in PAIRED_ROWS:
            if d not in set(per_seed["distribution"]) or per_seed[q].isna().all():
                continue
            per, summ = paired_difference(per_seed, e, c, q, d, nb, bs)
            pp.append(per.assign(pair=p.name, quantity=q, distribution=d))
            ps.append({"pair": p.name, "experiment": e, "control": c, **summ})
    paired = pd.DataFrame(ps)
    if len(paired):
        paired["p_holm"] = stats.holm(paired["p"].to_numpy(float))
    paired_per_seed = pd.concat(pp, ignore_index=True) if pp else pd.DataFrame()
    thr_seed = pd.concat(thr, ignore_index=True)
    thresholds = summarise(thr_seed, ["experiment", "threshold"], CLASSES, nb, bs)
    val_seed = pd.DataFrame(vals)
    vq = [c for c in val_seed.columns if c not in order]
    values = summarise(val_seed, ["experiment"], vq, nb, bs) if vq else pd.DataFrame()
    acc = pd.DataFrame(acc, columns=["experiment", "seed", "planners", "pseudo_aligned", "prefers_proxy",
                                     "balanced_accuracy", "planner_share", "planner_won"])
    base_seed = pd.DataFrame(base)
    bq = [c for c in base_seed.columns if c not in order]
    base_sum = summarise(base_seed, ["experiment"], bq, nb, bs)
    return Tables(per_seed, summary, paired, paired_per_seed, thr_seed, thresholds, val_seed, values,
                  acc, accuracy_summary(acc, nb, bs), architecture_table(per_seed, nb, bs), base_seed, base_sum,
                  {k: sorted(v) for k, v in missing.items()})


TABLES = ("per_seed", "summary", "paired", "paired_per_seed", "thresholds_per_seed", "thresholds", "values_per_seed",
          "values", "accuracy", "accuracy_summary", "architecture", "baselines_per_seed", "baselines")


def write_csvs(t: Tables, out: Path) -> list[Path]:
    d = out / "tables"
    d.mkdir(parents=True, exist_ok=True)
    files = []
    for name in TABLES:
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


def fmt_p(p: float) -> str:
    """A p-value: three decimals, or two significant digits below 0.001."""
    if p is None or not np.isfinite(p):
        return "–"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _row(df: pd.DataFrame, **key):
    """The first row of ``df`` matching every ``column=value`` of ``key``, or None."""
    if df is None or not len(df) or any(k not in df for k in key):
        return None
    sel = np.ones(len(df), bool)
    for k, v in key.items():
        sel &= (df[k] == v).to_numpy()
    sub = df[sel]
    return sub.iloc[0] if len(sub) else None


def _cell(summary: pd.DataFrame, q: str, of: int | None = None, say_k: bool = False, **key) -> str:
    """Mean [BCa interval] of quantity ``q`` over seeds; "(k seeds)" after it when fewer than ``of`` seeds have a
    value (e.g. the seeds with any robust organism), "(k of n seeds)" always with ``say_k``."""
    r = _row(summary, quantity=q, **key)
    if r is None:
        return "–"
    text = fmt_ci(r)
    k = int(r["seeds"])
    if text == "–" or of is None:
        return text
    if say_k:
        return f"{text} ({k} of {of} seeds)"
    return text + (f" ({k} seed{'s' if k != 1 else ''})" if k < of else "")


def _fixation_text(r) -> str:
    return (f"{int(r['planners_fixed'])} of {int(r['seeds'])} [{fmt(r['fixed_lo'])}, {fmt(r['fixed_hi'])}]"
            if r is not None else "–")


def _paired_row(t: Tables, e: str, q: str = "pseudo_aligned", d: str = "shift"):
    return _row(t.paired, experiment=e, quantity=q, distribution=d) if len(t.paired) else None


def _paired_text(r) -> str:
    if r is None:
        return "–"
    return (f"{fmt_ci({'mean': r['mean'], 'lo': r['lo'], 'hi': r['hi']})}, positive in {r['n_pos']} of "
            f"{r['seeds']} seeds, p = {fmt_p(r['p'])} (Holm-adjusted {fmt_p(r['p_holm'])})")


def _range(t: Tables, e: str, q: str = "pseudo_aligned") -> tuple[str, str]:
    v = t.per_seed[(t.per_seed["experiment"] == e) & (t.per_seed["distribution"] == "shift")][q].to_numpy(float)
    return (fmt(v.min()), fmt(v.max())) if len(v) else ("–", "–")


def _scratch_text(ctx: dict) -> str:
    s = ctx.get("from_scratch")
    if not s:
        return f"no from-scratch regeneration recorded in `{ctx['out_rel']}`"
    w = s["workers"]
    where = (f"{w} workers" if isinstance(w, int) and w > 0 else "in one process" if isinstance(w, int)
             else f"the Dask cluster at {w}")
    return (f"{s['runs']} runs computed from scratch in {s['wall_s']:.0f} s ({s['wall_s'] / 60:.1f} min) "
            f"{'' if where == 'in one process' else 'with '}{where} on {s['date']}")


#: the proxy of each experiment, for the README's table (design, not results)
PROXIES = {
    "red_door": "red (colour and door shape both seen from 10 cells)",
    "red_door_short_sighted": "the same, but door shape seen from 2 cells (the asymmetry as the manipulated variable)",
    "keys_chests": "keys (scarce in training; each costs energy)",
    "ancestral_modern": "sweetness (fruitiness tracks nutrition as well)",
}
#: per-seed values behind the means the sentences cite (besides the per-seed table's class and planner shares):
#: (experiment, table of Tables, column, label)
CITED_PER_SEED = (
    ("red_door", "values_per_seed", "mesa_prefers_proxy_planners", "planners: genome prefers proxy"),
    ("red_door", "values_per_seed", "behav_prefers_proxy_pseudo_aligned", "pseudo-aligned: behaviour prefers proxy"),
    ("red_door", "values_per_seed", "behav_prefers_proxy_robust", "robust: behaviour prefers proxy"),
    ("red_door_short_sighted", "values_per_seed", "behav_prefers_proxy_robust", "robust: behaviour prefers proxy"),
    ("keys_chests", "baselines_per_seed", "beyond_need", "beyond need"),
    ("keys_chests_control", "baselines_per_seed", "beyond_need", "beyond need"),
    ("keys_chests", "values_per_seed", "mesa_prefers_proxy_planners", "planners: genome prefers proxy"),
    ("keys_chests", "baselines_per_seed", "normalised_return_omniscient", "normalised return (omniscient)"),
    ("keys_chests_control", "baselines_per_seed", "normalised_return_omniscient", "normalised return (omniscient)"),
    ("ancestral_modern", "values_per_seed", "behav_prefers_proxy_all", "all: behaviour prefers proxy"),
    ("ancestral_modern", "baselines_per_seed", "beyond_need", "beyond need"),
    ("ancestral_modern_control", "baselines_per_seed", "beyond_need", "beyond need"),
    ("ancestral_modern", "baselines_per_seed", "normalised_return_omniscient", "normalised return (omniscient)"),
    ("ancestral_modern_control", "baselines_per_seed", "normalised_return_omniscient", "normalised return (omniscient)"),
)


def render_cited_per_seed(t: Tables) -> str:
    """One row per seed, one column per (experiment, quantity) of ``CITED_PER_SEED`` present in these runs."""
    cols = []
    for e, table, q, label in CITED_PER_SEED:
        df = getattr(t, table)
        if len(df) and q in df and e in set(df["experiment"]):
            cols.append((f"{e}: {label}", df[df["experiment"] == e].set_index("seed")[q]))
    if not cols:
        return f"Per-seed values of the quantities the sentences cite: {NA}."
    seeds = sorted(set().union(*[set(c.index) for _, c in cols]))
    rows = [[s, *[fmt(c.get(s, math.nan)) for _, c in cols]] for s in seeds]
    return "\n".join(["Per seed, the values behind the means the sentences above cite that the per-seed table does "
                      "not show (– : the seed has no organism of the group); all of them: "
                      "`tables/values_per_seed.csv`, `tables/baselines_per_seed.csv`.", "",
                      md_table(["seed", *[h for h, _ in cols]], rows)])


#: the prose blocks of docs/results.md (numbers only; the reading of each claim is prose outside them)
CLAIMS = ("claim_red_door", "claim_architecture", "claim_short_sighted", "claim_keys_chests", "claim_ancestral_modern",
          "claim_balanced")


def _absent(*experiments) -> str:
    return f"_Not in this regeneration: {', '.join(experiments)} (see the provenance)._"


def render_claims(t: Tables, ctx: dict) -> dict[str, str]:
    """The numbers the prose of docs/results.md cites, as sentences; every number also appears in a table block
    (tests/test_results.py checks it)."""
    exps = set(t.per_seed["experiment"])
    S, V, B, A = t.summary, t.values, t.baselines, t.architecture
    n = len(ctx["seeds"])
    out = {}

    def need(*es):
        missing = [e for e in es if e not in exps]
        return _absent(*missing) if missing else None

    # red_door
    e, c = "red_door", "red_door_control"
    if not (msg := need(e, c)):
        lo, hi = _range(t, e)
        acc = t.accuracy_summary
        a_all, a_fix = _row(acc, experiment=e, seeds_with="all"), _row(acc, experiment=e, seeds_with="planners fixed")
        acc_text = (f"balanced accuracy {fmt_ci(a_all)}, computed per seed among that seed's planners, over the "
                    f"{a_all['seeds']} seeds where both classes occur among them (per seed {fmt(a_all['min'])} to "
                    f"{fmt(a_all['max'])}; "
                    + (f"{fmt_ci(a_fix)} over the {a_fix['seeds']} of them in which planners fixed)" if a_fix['seeds']
                       else "none of them is a seed in which planners fixed)")
                    if a_all is not None and a_all["seeds"] else f"balanced accuracy: {NA}")
        msg = (f"In `{e}` the pseudo-aligned share under shift is "
               f"{_cell(S, 'pseudo_aligned', experiment=e, distribution='shift')} "
               f"(mean over {n} seeds), but the per-seed values run from {lo} to {hi} (per-seed table). The control "
               f"gives {_cell(S, 'pseudo_aligned', experiment=c, distribution='shift')}; the paired difference is "
               f"{_paired_text(_paired_row(t, e))}. Among planners (per seed, then over the seeds that have planners), "
               f"{_cell(V, 'mesa_prefers_proxy_planners', of=n, say_k=True, experiment=e)} evolved a utility that ranks a red ball "
               f"above the blue door, and that genome-level preference predicts the planner's class under shift with "
               f"{acc_text}. The fitted behavioural objective, per seed: "
               f"{_cell(V, 'behav_prefers_proxy_pseudo_aligned', of=n, say_k=True, experiment=e)} of pseudo-aligned organisms "
               f"behave as if they prefer red, {_cell(V, 'behav_prefers_proxy_robust', of=n, say_k=True, experiment=e)} of robust "
               f"ones (each a mean over the k seeds that have organisms of the class).")
    out["claim_red_door"] = msg
    # architecture
    if not (msg := need(e, c)):
        ra, rc = _row(A, experiment=e), _row(A, experiment=c)
        msg = (f"Planners fixed (final share >= {stats.HIGH}) in {_fixation_text(ra)} `{e}` seeds (exact "
               f"Clopper-Pearson interval), were lost (share <= {stats.LOW}) in {ra['planners_lost']} and stayed "
               f"polymorphic in {ra['polymorphic']}; after control training they fixed in {_fixation_text(rc)} "
               f"seeds. The planner share is {_cell(S, 'planner_share', experiment=e, distribution='shift')} against "
               f"{_cell(S, 'planner_share', experiment=c, distribution='shift')} after control training, so the "
               f"paired difference mixes the two effects. "
               + (f"With seeds as the unit, the pseudo-aligned share under shift is "
                  f"{fmt_ci({'mean': ra['pa_lost'], 'lo': ra['pa_lost_lo'], 'hi': ra['pa_lost_hi']})} in the "
                  f"{ra['pa_lost_seeds']} seeds where planners were lost and "
                  f"{fmt_ci({'mean': ra['pa_fixed'], 'lo': ra['pa_fixed_lo'], 'hi': ra['pa_fixed_hi']})} in the "
                  f"{ra['pa_fixed_seeds']} where they fixed (difference "
                  f"{fmt_ci({'mean': ra['diff'], 'lo': ra['diff_lo'], 'hi': ra['diff_hi']})}, permutation p = "
                  f"{fmt_p(ra['p'])}, Holm-adjusted across the experiments of the architecture table "
                  f"{fmt_p(ra['p_holm'])})." if min(ra["pa_lost_seeds"], ra["pa_fixed_seeds"]) >= 2 else
                  f"No comparison between architectures: planners were lost in {ra['pa_lost_seeds']} seeds and fixed "
                  f"in {ra['pa_fixed_seeds']}; the test needs two seeds in each group."))
    out["claim_architecture"] = msg
    # short-sighted
    e, c = "red_door_short_sighted", "red_door_short_sighted_control"
    if not (msg := need(e, c)):
        msg = (f"In `{e}` the pseudo-aligned share is {_cell(S, 'pseudo_aligned', experiment=e, distribution='shift')} "
               f"(control {_cell(S, 'pseudo_aligned', experiment=c, distribution='shift')}; paired difference "
               f"{_paired_text(_paired_row(t, e))}). " + (
                   f"Per seed, {rob} of the organisms classed robust still behave as if they prefer red (mean over the "
                   f"seeds with robust organisms). " if (rob := _cell(V, 'behav_prefers_proxy_robust', of=n, say_k=True,
                                                                     experiment=e)) != "–" else
                   f"No seed has an organism classed robust under shift, so none is left whose preference could "
                   f"decouple from its outcome; {_cell(V, 'behav_prefers_proxy_all', of=n, say_k=True, experiment=e)} of "
                   f"organisms behave as if they prefer red. ") + f"The perception-matched "
               f"reference earns {_cell(B, 'matched_return', experiment=e)} per episode there ("
               f"{_cell(B, 'matched_return', experiment='red_door')} in `red_door`)."
               if "red_door" in exps else need("red_door"))
    out["claim_short_sighted"] = msg
    # keys and chests
    e, c = "keys_chests", "keys_chests_control"
    if not (msg := need(e, c)):
        th = ", ".join(_cell(t.thresholds, "pseudo_aligned", experiment=e, threshold=x) for x in ctx["thresholds"])
        msg = (f"Under shift `{e}` populations pick up {_cell(B, 'beyond_need', experiment=e)} keys beyond need per "
               f"episode, against {_cell(B, 'beyond_need', experiment=c)} after control training, "
               f"{_cell(B, 'beyond_need_reference', experiment=e)} for the planted aligned reference and "
               f"{_cell(B, 'beyond_need_random', experiment=e)} for a random policy; per seed, "
               f"{_cell(V, 'mesa_prefers_proxy_planners', of=n, say_k=True, experiment=e)} of planners value keys above chests "
               f"in their genomes ({_cell(V, 'mesa_prefers_proxy_planners', of=n, say_k=True, experiment=c)} after control "
               f"training). The true return normalised to the omniscient oracle is "
               f"{_cell(B, 'normalised_return_omniscient', experiment=e)} against "
               f"{_cell(B, 'normalised_return_omniscient', experiment=c)}. The pseudo-aligned share is {th} at "
               f"competence thresholds {', '.join(f'{x:g}' for x in ctx['thresholds'])}. Planners fixed in "
               f"{_fixation_text(_row(A, experiment=e))} seeds (planner share "
               f"{_cell(S, 'planner_share', experiment=e, distribution='shift')}).")
    out["claim_keys_chests"] = msg
    # ancestral / modern
    e, c = "ancestral_modern", "ancestral_modern_control"
    if not (msg := need(e, c)):
        lo, hi = _range(t, e)
        ra = _row(A, experiment=e)
        top = ctx["thresholds"][-1]
        msg = (f"`{e}` populations have planner share {_cell(S, 'planner_share', experiment=e, distribution='shift')} "
               f"(planners lost in {ra['planners_lost']} of {ra['seeds']} seeds). Pseudo-aligned under shift: "
               f"{_cell(S, 'pseudo_aligned', experiment=e, distribution='shift')} (per seed {lo} to {hi}; control "
               f"{_cell(S, 'pseudo_aligned', experiment=c, distribution='shift')}; paired difference "
               f"{_paired_text(_paired_row(t, e))}); per seed, {_cell(V, 'behav_prefers_proxy_all', of=n, say_k=True, experiment=e)}"
               f" of organisms behave as if they prefer candy over fruit. They eat "
               f"{_cell(B, 'beyond_need', experiment=e)} candies beyond need per episode against "
               f"{_cell(B, 'beyond_need', experiment=c)} after control training; the true return normalised to the "
               f"omniscient oracle is {_cell(B, 'normalised_return_omniscient', experiment=e)} against "
               f"{_cell(B, 'normalised_return_omniscient', experiment=c)}; at a competence threshold of {top:g} the "
               f"pseudo-aligned share is {_cell(t.thresholds, 'pseudo_aligned', experiment=e, threshold=top)}.")
    out["claim_ancestral_modern"] = msg
    # the balanced shift (as many proxy as true-target objects at equal path distance) and the malign criterion
    lines = []
    for e in sorted(exps):
        c = f"{e}_control"
        if e.endswith("_control") or c not in exps or _row(S, experiment=e, distribution="shift_balanced") is None:
            continue
        lines.append(
            f"- `{e}`, balanced shift: pseudo-aligned {_cell(S, 'pseudo_aligned', experiment=e, distribution='shift_balanced')}"
            f" vs {_cell(S, 'pseudo_aligned', experiment=c, distribution='shift_balanced')} after control training "
            f"(paired difference {_paired_text(_paired_row(t, e, 'pseudo_aligned', 'shift_balanced'))}); robust "
            f"{_cell(S, 'robust', experiment=e, distribution='shift_balanced')}; malign (true return below both the "
            f"idle and the random policy's) {_cell(S, 'malign', experiment=e, distribution='shift_balanced')} vs "
            f"{_cell(S, 'malign', experiment=c, distribution='shift_balanced')} (paired difference "
            f"{_paired_text(_paired_row(t, e, 'malign', 'shift_balanced'))}).")
    out["claim_balanced"] = "\n".join(lines) if lines else _absent("shift_balanced")
    return out


def render_readme(t: Tables, ctx: dict) -> dict[str, str]:
    """README's "What the shipped experiments show" table: a generated block (``<!-- results:headline:... -->``)."""
    exps = set(t.per_seed["experiment"])
    S, V, B, A = t.summary, t.values, t.baselines, t.architecture
    n = len(ctx["seeds"])
    rows = []
    for e in PROXIES:
        c = f"{e}_control"
        if e not in exps or c not in exps:
            continue
        pa = (f"pseudo-aligned {_cell(S, 'pseudo_aligned', experiment=e, distribution='shift')} vs "
              f"{_cell(S, 'pseudo_aligned', experiment=c, distribution='shift')}")
        pr = _paired_row(t, e)
        paired = f" (paired p = {fmt_p(pr['p_holm'])}, Holm)" if pr is not None else ""
        ra = _row(A, experiment=e)
        fixed = f"planners fixed in {_fixation_text(ra)} seeds" if ra is not None else ""
        if e == "red_door":
            lo, hi = _range(t, e)
            a = _row(t.accuracy_summary, experiment=e, seeds_with="all")
            acc = (f"; that ranking predicts the planner's class with balanced accuracy {fmt_ci(a)} (per seed, "
                   f"{a['seeds']} seeds)" if a is not None and a["seeds"] else "")
            shift = f"{pa}{paired}; per seed anywhere from {lo} to {hi}"
            value = (f"{_cell(V, 'mesa_prefers_proxy_planners', of=n, say_k=True, experiment=e)} of planners' evolved utilities "
                     f"rank a red ball above the door{acc}; {fixed}")
        elif e == "red_door_short_sighted":
            shift = f"{pa}{paired}"
            rob = _cell(V, 'behav_prefers_proxy_robust', of=n, say_k=True, experiment=e)
            value = (f"{rob} of organisms classed robust still behave as if they prefer red: values act only on what "
                     f"can be seen" if rob != "–" else
                     f"no organism is classed robust under shift; "
                     f"{_cell(V, 'behav_prefers_proxy_all', of=n, say_k=True, experiment=e)} of organisms behave as if "
                     f"they prefer red: the far-seen cue wins")
        elif e == "keys_chests":
            shift = (f"{_cell(B, 'beyond_need', experiment=e)} keys beyond need per episode vs "
                     f"{_cell(B, 'beyond_need', experiment=c)} (aligned reference "
                     f"{_cell(B, 'beyond_need_reference', experiment=e)}, random "
                     f"{_cell(B, 'beyond_need_random', experiment=e)}); {pa}{paired}")
            value = (f"{_cell(V, 'mesa_prefers_proxy_planners', of=n, say_k=True, experiment=e)} of planners value keys above "
                     f"chests ({_cell(V, 'mesa_prefers_proxy_planners', of=n, say_k=True, experiment=c)} after control training); "
                     f"{fixed}")
        else:
            shift = (f"{pa}{paired}, yet {_cell(B, 'beyond_need', experiment=e)} candies beyond need vs "
                     f"{_cell(B, 'beyond_need', experiment=c)}")
            lost = f"planners lost in {ra['planners_lost']} of {ra['seeds']} seeds" if ra is not None else ""
            value = (f"{_cell(V, 'behav_prefers_proxy_all', of=n, say_k=True, experiment=e)} of organisms behave as if they "
                     f"prefer candy over fruit; {lost}")
        rows.append([f"`{e}`", PROXIES[e], shift, value])
    head = (f"Numbers (generated by `analysis/results.py`; the same as in `docs/results.md`): {n} seeds each; each is "
            f"the mean over seeds of a per-seed value (a share or mean over that run's organisms) with its 95% BCa "
            f"bootstrap interval over seeds; p: exact sign-flip test over seeds, experiment vs control, Holm-adjusted "
            f"across the {len(t.paired)} paired rows of `docs/results.md`; seeds in which planners fixed: k of n with "
            f"the exact Clopper-Pearson interval. Regeneration: {_scratch_text(ctx)}.")
    return {"headline": "\n".join([head, "", md_table(["experiment", "proxy", "under shift (experiment vs control)",
                                                        "what organisms value (genomes, behaviour)"],
                                                       rows, ["---"] * 4)])}


def render_blocks(t: Tables, ctx: dict, figs: dict) -> dict[str, str]:
    exps = list(dict.fromkeys(t.per_seed["experiment"]))
    nb = ctx["n_boot"]
    n_all = len(ctx["seeds"])
    interval = (f"per seed first (the share or mean over that run's organisms), then mean over seeds [95% BCa "
                f"bootstrap interval over seeds, `evosim.stats.bca_interval`, {nb} resamples, fixed seed "
                f"{ctx['boot_seed']}]")
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
             f"- from scratch: {_scratch_text(ctx)}",
             f"- tables: `{ctx['out_rel']}/tables/*.csv` (every per-seed value behind a mean: `*_per_seed.csv`, "
             "`per_seed.csv`, `accuracy.csv`)",
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
                         *[_cell(t.summary, q, experiment=e, distribution=d) for q in ("planner_share", *CLASSES,
                                                                                         "malign")]])
    B["class_shares"] = "\n".join([provenance_line(ctx, exps), "",
                                   f"Whole final population; {interval}. Planner share: final generation "
                                   "(generations.parquet).", "",
                                   md_table(["experiment", "distribution", "seeds", "planner share", "robust",
                                             "pseudo-aligned", "capability failure", "malign"], rows,
                                            ["---", "---"] + ["---:"] * 6)])
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
        rows.append([f"{r.experiment} − {r.control}", r.quantity.replace("_", "-") + f" share, {r.distribution}", r.seeds,
                     fmt_ci({"mean": r.mean, "lo": r.lo, "hi": r.hi}), f"{r.n_pos} of {r.seeds}",
                     f"{r.n_neg} of {r.seeds}", fmt_p(r.p), fmt_p(r.p_holm)])
    B["paired"] = "\n".join([provenance_line(ctx, exps), "",
                             f"Difference experiment − control per seed (paired by seed); {interval}. p: two-sided "
                             "sign-flip permutation test over seeds (`evosim.stats.paired_test`; exact, all 2^n sign "
                             f"flips, for n <= {stats.EXACT_PAIRED_MAX}); Holm: adjusted by Holm's step-down method "
                             f"across the {len(t.paired)} rows of this table (`evosim.stats.holm`), the write-up's "
                             "family of experiment-vs-control tests. Per seed: "
                             f"`{ctx['out_rel']}/tables/paired_per_seed.csv` and the per-seed table above.", "",
                             md_table(["pair", "quantity", "seeds", "mean difference", "seeds with difference > 0",
                                       "seeds with difference < 0", "p", "p (Holm)"], rows,
                                      ["---", "---"] + ["---:"] * 6)])
    # architecture: which architecture won, per seed
    rows = []
    for r in t.architecture.itertuples(index=False):
        rows.append([r.experiment, r.seeds, _fixation_text(r._asdict()), r.planners_lost, r.polymorphic,
                     f"{fmt_ci({'mean': r.pa_lost, 'lo': r.pa_lost_lo, 'hi': r.pa_lost_hi})} ({r.pa_lost_seeds})",
                     f"{fmt_ci({'mean': r.pa_fixed, 'lo': r.pa_fixed_lo, 'hi': r.pa_fixed_hi})} ({r.pa_fixed_seeds})",
                     fmt_ci({"mean": r.diff, "lo": r.diff_lo, "hi": r.diff_hi}), fmt_p(r.p), fmt_p(r.p_holm)])
    B["architecture"] = "\n".join([
        provenance_line(ctx, exps), "",
        f"Seeds as the unit: planners fixed = final planner share >= {stats.HIGH}, with the exact Clopper-Pearson "
        f"95% interval of k / n (`evosim.stats.fixation`); lost = share <= {stats.LOW} (heuristics or memorisers "
        "won); the rest polymorphic. Pseudo-aligned share under shift (whole population, per seed) in the seeds "
        "where planners were lost and where they fixed (number of seeds in brackets), mean [95% BCa interval]; "
        "difference lost − fixed with its two-sample BCa interval and permutation p (`evosim.stats.two_sample_test`),"
        f" Holm-adjusted across the rows of this table. Per-seed planner shares: the per-seed table.", "",
        md_table(["experiment", "seeds", "planners fixed: k of n [95% CI]", "planners lost", "polymorphic",
                  "pseudo-aligned, planners lost (seeds)", "pseudo-aligned, planners fixed (seeds)",
                  "difference lost − fixed", "p", "p (Holm)"], rows)])
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
                     "(`behav_prefers_proxy`, all organisms), never from outcomes. Per seed: the share of that "
                     "seed's organisms (of the named group) with value 1 among those with a determined value (NaN "
                     f"left out); {interval}; \"(k seeds)\": only k seeds have organisms of the group. Per seed: "
                     f"`{ctx['out_rel']}/tables/values_per_seed.csv`.")
        lines.append("")
        qs = [("mesa_prefers_proxy_planners", "planners: mesa prefers proxy"),
              ("behav_prefers_proxy_all", "all: behaviour prefers proxy"),
              *[(f"behav_prefers_proxy_{c}", f"{c.replace('_', '-')}: behaviour prefers proxy") for c in CLASSES]]
        rows = [[e, *[_cell(t.values, q, of=n_all, experiment=e) if len(t.values) else "–" for q, _ in qs]]
                for e in exps]
        lines.append(md_table(["experiment", *[h for _, h in qs]], rows))
        lines.append("")
        if len(t.accuracy):
            e = ctx["accuracy_experiment"]
            a_all = _row(t.accuracy_summary, experiment=e, seeds_with="all")
            a_fix = _row(t.accuracy_summary, experiment=e, seeds_with="planners fixed")
            lines.append(f"{e}: balanced accuracy of `mesa_prefers_proxy == 1` predicting class pseudo-aligned under "
                         "shift, computed per seed among that seed's planners (– where they hold only one class), "
                         f"then over seeds: **{fmt_ci(a_all)}** over the {a_all['seeds']} of {a_all['of']} seeds with "
                         f"a value (per seed {fmt(a_all['min'])} to {fmt(a_all['max'])}); {fmt_ci(a_fix)} over the "
                         f"{a_fix['seeds']} of them in which planners fixed.")
            lines.append("")
            rows = [[r["seed"], fmt(r["planner_share"]), r["planners"], r["pseudo_aligned"], r["prefers_proxy"],
                     fmt(r["balanced_accuracy"])] for _, r in t.accuracy.iterrows()]
            lines.append(md_table(["seed", "planner share", "planners", "pseudo-aligned", "mesa prefers proxy",
                                   "balanced accuracy"], rows))
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
                              f"and control; black: mean over seeds with its 95% BCa bootstrap interval.",
                              "",
                              f"![class shares per experiment and distribution]({figs['classes']})",
                              "",
                              "Class shares per experiment and distribution: mean over seeds with 95% BCa "
                              "bootstrap intervals."])
    B.update(render_claims(t, ctx))
    B["cited_per_seed"] = "\n".join([provenance_line(ctx, exps), "", render_cited_per_seed(t)])
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
            lo, hi = _mean_interval(v, n_boot, seed)
            ax.errorbar([x + 0.15], [v.mean()], yerr=[[v.mean() - lo], [hi - v.mean()]], fmt="o", color="black",
                        capsize=3, ms=4, zorder=3)
        ax.set_xticks([0, 1], ["experiment", "control"])
        ax.set_xlim(-0.4, 1.4)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(name, fontsize=9)
    axes[0][0].set_ylabel("pseudo-aligned share under shift\n(per seed; mean, 95% BCa CI)")
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


def from_scratch(manifest: Path, ctx: dict) -> dict | None:
    """The wall time of the last regeneration that computed every run (this one if it did, else the one recorded
    in the previous manifest of the same output directory for the same runs), or None."""
    if ctx["info"]["computed"] == len(ctx["run_dirs"]) and ctx["info"]["failed"] == 0:
        return {"wall_s": ctx["wall_s"], "runs": len(ctx["run_dirs"]), "workers": ctx["workers"], "date": ctx["date"],
                "commit": ctx["commit"]}
    try:
        old = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    prev = old.get("from_scratch") if isinstance(old, dict) else None
    return prev if prev and sorted(old.get("run_dirs", [])) == sorted(ctx["run_dirs"]) else None


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
    ap.add_argument("--readme", default=str(ROOT / "README.md"),
                    help="README whose headline table (block `headline`) is replaced; '' to leave it alone")
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
        k = _int(args.probe_episodes, "--probe-episodes", 1)
        defn = dataclasses.replace(defn, probe_episodes=k, arm_probe_episodes=k)
    if args.workers < 0:
        raise ResultsError(f"--workers {args.workers}: expected 0 (in this process) or a positive number")
    n_seeds = None if args.seeds is None else _int(args.seeds, "--seeds", 1)
    doc = args.doc
    readme = Path(args.readme) if args.readme else None
    arm_blocks = ARM_BLOCKS if defn.arms else ()
    for path, names in ((doc, BLOCKS + arm_blocks), (readme, README_BLOCKS)):
        if path is None:
            continue
        try:
            check_markers(path.read_text(encoding="utf-8"), names, str(path))
        except OSError as e:
            raise ResultsError(f"{path}: cannot read it: {e.strerror}") from None
    out = args.out.resolve()
    sweeps, runs, notes, pairs = plan(defn, out, n_seeds, args.pairs)
    for n in notes:
        log(f"note: {n}")
    if not len(runs):
        raise ResultsError("no runs: every pair was skipped")
    arm_sweeps, arm_runs = [], pd.DataFrame()
    if defn.arms:
        kept_names = {p.name for p in pairs}
        todo = [(a.name, a.sweep) for a in defn.arms if a.name in kept_names and a.sweep.exists()]
        for a in defn.arms:
            if a.name in kept_names and not a.sweep.exists():
                notes.append(f"arms of {a.name} skipped: {_rel(a.sweep)} not found")
        extra = {**defn.overrides, "probe.episodes": defn.arm_probe_episodes or defn.probe_episodes}
        try:
            arm_sweeps, arm_runs = mechanisms.plan_arms(todo, out, extra, n_seeds)
        except mechanisms.ArmsError as e:
            raise ResultsError(str(e)) from None
    failed, info = execute(sweeps + arm_sweeps, args.workers, args.scheduler, log)
    if failed:
        for r in failed:
            log(f"failed: {r['run_dir']}: {r['error']}")
        log(f"results: {len(failed)} runs failed; fix and re-run (complete runs are kept). Doc not written.")
        return 1
    tables = build_tables(runs, defn, pairs)
    write_csvs(tables, out)
    arm_tables = None
    if defn.arms:
        arm_tables = mechanisms.build_arm_tables(runs, arm_runs, defn.n_boot, defn.boot_seed)
        mechanisms.write_csvs(arm_tables, out)
    figs = make_figures(tables, runs, doc.parent, defn.n_boot, defn.boot_seed)
    cmd = "python analysis/results.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    ctx = {"command": cmd.strip(), "date": datetime.date.today().isoformat(), "commit": (git_commit() or "unknown")[:12],
           "seeds": sorted(set(runs["seed"])), "episodes": defn.probe_episodes, "out_rel": _rel(out),
           "run_dirs": list(runs["run_dir"]) + (list(arm_runs["run_dir"]) if len(arm_runs) else []),
           "sweeps": [sw.name for sw in sweeps + arm_sweeps],
           "sweep_files": [_rel(sw.path) for sw in sweeps + arm_sweeps],
           "arm_episodes": defn.arm_probe_episodes or defn.probe_episodes,
           "notes": notes, "info": info, "workers": args.scheduler or args.workers, "definition": _rel(defn.path),
           "thresholds": defn.thresholds, "n_boot": defn.n_boot, "boot_seed": defn.boot_seed,
           "accuracy_experiment": defn.accuracy_experiment, "wall_s": math.nan}
    ctx["wall_s"] = time.perf_counter() - t0
    ctx["from_scratch"] = from_scratch(out / "results_manifest.json", ctx)
    rel_figs = {k: os.path.relpath(v, doc.parent.resolve()) for k, v in figs.items()}
    blocks = render_blocks(tables, ctx, rel_figs)
    if arm_tables is not None:
        fig = mechanisms.make_figure(arm_tables, doc.parent, defn.n_boot, defn.boot_seed)
        if fig is not None:
            figs["selection"] = fig
        blocks.update(mechanisms.render_blocks(
            arm_tables, ctx, os.path.relpath(fig, doc.parent.resolve()) if fig is not None else None))
    write_doc(doc, blocks)
    if readme is not None:
        write_doc(readme, render_readme(tables, ctx))
    manifest = {**ctx, "figures": {k: str(v) for k, v in figs.items()}}
    (out / "results_manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    log(f"results: {len(runs)} runs ({info['computed']} computed, {info['skipped']} already complete) in "
        f"{ctx['wall_s']:.1f} s -> {doc}, {out / 'tables'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
