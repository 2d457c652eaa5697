"""Regenerate docs/dose_response.md (its tables, figures and per-seed CSVs) from scratch: one command.

    python analysis/dose_response.py [--workers 2 | --scheduler tcp://HOST:8786] [--seeds 20] [--out runs/out/dose_response]
                                     [--doc docs/dose_response.md] [--data docs/data] [--definition analysis/dose_response.toml]
                                     [--curves red_door ...] [--rates 0 1] [--probe-episodes N]

1. Reads the definition file (``analysis/dose_response.toml``): the curves, each a sweep file under runs/ of one of
   three kinds: ``rate`` (outcome against ``world.proxy_break_rate``), ``asymmetry`` (against the true cue's
   perception radius ``world.radius.<channel>``, at break rate 0) and ``regret`` (the regret-selection arm
   against the break rate, paired by seed with the ``rate`` curve it names). A curve whose sweep file is missing
   is skipped with a note in the write-up.
2. Runs the sweeps with the sweep engine (``evosim.sweep.plan_runs`` and ``run_sweep``, what ``evosim sweep``
   runs; the same cluster code as ``analysis/results.py``): a Dask LocalCluster of ``--workers`` single-threaded
   processes (0: in this process) or the running cluster at ``--scheduler``. The definition's probe episodes
   (and test-only overrides) are set on every cell; ``--rates`` keeps only the rate cells listed (a quick look);
   runs already complete (same config, hence same hash) are skipped.
3. Per run (the seed is the unit): from the probe table's final generation, the pseudo-aligned and robust shares
   on ``shift_balanced`` (the balanced shift: as many proxy as true targets, paired at equal distance), the
   pseudo-aligned share on ``shift``, the malign share on ``shift``; from the generations table the final
   planner share, fitness and training return; the held-out training return (probe ``train`` rows, the same
   layouts for every run of a world, so the two training selections are compared on common ground); the run's
   wall time (manifest) and training rollout episodes per generation.
4. Per curve and cell: mean with its 95% BCa interval over seeds (``evosim.stats``), planner fixation k of n with
   its Clopper-Pearson interval; per rate curve the logistic midpoint (``stats.ed50``: ED50 with a bootstrap
   interval over seeds within each rate; rate 0 placed one decade below the smallest positive rate) and the
   smallest rate whose paired difference from rate 0 is significant under Holm (``stats.smallest_effective_rate``);
   per asymmetry curve each radius against the symmetric one, paired by seed, Holm across radii; per regret curve
   regret minus uniform at every rate, paired by seed (``stats.paired_test``), Holm across rates.
5. Writes the per-seed table of every curve to ``--data`` (``dose_response_<curve>.csv``, small, committed: the
   notebook ``docs/evolution_analogy.ipynb`` reads them), the summaries to ``OUT/tables/``, the figures beside
   the doc, and replaces the doc's generated blocks (``<!-- results:NAME:start -->`` ...
   ``<!-- results:NAME:end -->``, NAME in ``BLOCKS``); prose outside them is kept. A missing marker stops the
   command before anything is run or written.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import shlex
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import ResultsError, check_markers, execute, fmt, fmt_p, load_final_probe, md_table, write_doc  # noqa: E402

from evosim import stats  # noqa: E402
from evosim.store import RunDirectory  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEFINITION = ROOT / "analysis" / "dose_response.toml"
#: generated blocks of the doc, in the order they appear
BLOCKS = ("provenance", "reading", "rates", "ed50", "asymmetry", "regret", "per_seed", "figures")
KINDS = ("rate", "asymmetry", "regret")
RATE_KEY = "world.proxy_break_rate"
#: the per-seed quantities (columns of the per-seed tables), with their labels
QUANTITIES = {
    "pseudo_aligned": "pseudo-aligned share, shift_balanced",
    "robust": "robust share, shift_balanced",
    "malign": "malign share, shift",
    "pseudo_aligned_shift": "pseudo-aligned share, shift",
    "planner_share": "final planner share",
    "fitness": "final training fitness (the layouts trained on)",
    "train_return": "held-out training return (probe train layouts)",
    "run_s": "run wall time (s)",
}
#: the quantity the curves, the ED50 and the smallest rate that matters are about
PRIMARY = "pseudo_aligned"
_DEF_KEYS = ("probe_episodes", "n_boot", "boot_seed", "ed50_resamples", "alpha", "curves", "overrides")


class DoseError(ResultsError):
    """A user error: bad definition, doc without its markers, bad arguments. Exit status 2."""


# -- the definition file -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Curve:
    """One curve: a sweep file whose runs differ in one x setting (the break rate, or a radius)."""

    name: str
    kind: str
    sweep: Path
    uniform: str | None = None
    """regret curves: the rate curve paired with it by seed"""


@dataclass(frozen=True)
class Definition:
    path: Path
    probe_episodes: int
    n_boot: int
    boot_seed: int
    ed50_resamples: int
    alpha: float
    curves: tuple[Curve, ...]
    overrides: dict


def _int(v, what, lo=0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise DoseError(f"{what} = {v!r}: expected an integer >= {lo}")
    return v


def load_definition(path: str | Path) -> Definition:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DoseError(f"{path}: no such definition file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise DoseError(f"{path}: cannot read it: {e}") from None
    src = str(path)
    for k in data:
        if k not in _DEF_KEYS:
            raise DoseError(f"{src}: unknown key {k!r}; allowed: {', '.join(_DEF_KEYS)}")
    curves = []
    for i, c in enumerate(data.get("curves", [])):
        if not isinstance(c, dict) or not {"name", "kind", "sweep"} <= set(c) or not set(c) <= {"name", "kind", "sweep", "uniform"}:
            raise DoseError(f"{src}: curves[{i}]: expected keys name, kind, sweep (and uniform for a regret curve); got {c!r}")
        if c["kind"] not in KINDS:
            raise DoseError(f"{src}: curves[{i}].kind = {c['kind']!r}: expected one of {', '.join(KINDS)}")
        if (c["kind"] == "regret") != ("uniform" in c):
            raise DoseError(f"{src}: curves[{i}]: a regret curve names the rate curve it is paired with (uniform = ...), "
                            f"other kinds do not")
        curves.append(Curve(str(c["name"]), c["kind"], (path.parent / c["sweep"]).resolve(), c.get("uniform")))
    if not curves:
        raise DoseError(f"{src}: curves: none; add [[curves]] tables with name, kind, sweep")
    names = [c.name for c in curves]
    if len(set(names)) != len(names):
        raise DoseError(f"{src}: curves: names must be unique, got {names}")
    for c in curves:
        if c.uniform is not None and not any(o.name == c.uniform and o.kind == "rate" for o in curves):
            raise DoseError(f"{src}: curve {c.name}: uniform = {c.uniform!r} is not a rate curve of this file")
    overrides = data.get("overrides", {})
    if not isinstance(overrides, dict):
        raise DoseError(f"{src}: overrides: expected a table of dotted settings")
    alpha = data.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise DoseError(f"{src}: alpha = {alpha!r}: expected a number with 0 < alpha < 1")
    return Definition(path=path.resolve(),
                      probe_episodes=_int(data.get("probe_episodes", 50), f"{src}: probe_episodes", 1),
                      n_boot=_int(data.get("n_boot", stats.N_RESAMPLES), f"{src}: n_boot", 1),
                      boot_seed=_int(data.get("boot_seed", 0), f"{src}: boot_seed"),
                      ed50_resamples=_int(data.get("ed50_resamples", stats.ED50_RESAMPLES), f"{src}: ed50_resamples", 1),
                      alpha=float(alpha), curves=tuple(curves), overrides=dict(overrides))


# -- planning --------------------------------------------------------------------------------------
def _x_key(sw, curve: Curve) -> str:
    """The setting a curve's x axis is: the break rate, or the one swept radius."""
    if curve.kind in ("rate", "regret"):
        if RATE_KEY not in sw.keys:
            raise DoseError(f"{curve.sweep.name}: a {curve.kind} curve sweeps {RATE_KEY}; it sweeps {', '.join(sw.keys)}")
        return RATE_KEY
    radii = [k for k in sw.keys if k.startswith("world.radius.")]
    if len(radii) != 1 or len(sw.keys) != 1:
        raise DoseError(f"{curve.sweep.name}: an asymmetry curve sweeps one setting, world.radius.<channel>; it sweeps "
                        f"{', '.join(sw.keys)}")
    return radii[0]


def _x_value(config: dict, key: str) -> float:
    parts = key.split(".")
    v = config
    for p in parts:
        v = v[p]
    return float(v)


def plan(defn: Definition, out: Path, n_seeds: int | None = None, curves=None, rates=None):
    """The sweeps of the write-up (one per curve, into ``out/<sweep name>``), prepared: the definition's
    overrides and probe episodes on every cell, the first ``n_seeds`` seeds, only the rates in ``rates`` (rate and
    regret curves). Returns (sweeps, runs, notes, curves kept); ``runs``: one row per run, curve, kind, x_key, x,
    seed, run_dir."""
    from evosim.sweep import SweepError, load_sweep, plan_runs

    unknown = set(curves or ()) - {c.name for c in defn.curves}
    if unknown:
        raise DoseError(f"--curves: {sorted(unknown)} not in {defn.path.name}; curves: "
                        f"{', '.join(c.name for c in defn.curves)}")
    chosen = [c for c in defn.curves if not curves or c.name in curves]
    sweeps, rows, notes, kept = [], [], [], []
    extra = {**defn.overrides, "probe.episodes": defn.probe_episodes}
    for c in chosen:
        if not c.sweep.exists():
            notes.append(f"curve {c.name} skipped: {_rel(c.sweep)} not found")
            continue
        try:
            sw = load_sweep(c.sweep, out / c.sweep.stem)
        except SweepError as e:
            raise DoseError(str(e)) from None
        key = _x_key(sw, c)
        clash = sorted(set(extra) & set(sw.keys))
        if clash:
            raise DoseError(f"{defn.path.name}: overrides {clash}: swept by {c.sweep.name}")
        cells = list(sw.cells)
        if rates is not None and key == RATE_KEY:
            cells = [cell for cell in cells if any(math.isclose(float(cell[RATE_KEY]), r) for r in rates)]
            if not cells:
                notes.append(f"curve {c.name} skipped: none of --rates {list(rates)} in {c.sweep.name}")
                continue
        seeds = sw.seeds if n_seeds is None else sw.seeds[:n_seeds]
        sw = dataclasses.replace(sw, seeds=seeds, cells=tuple({**cell, **extra} for cell in cells))
        specs = plan_runs(sw, sw.out)
        bad = [s.error for s in specs if s.config is None]
        if bad:
            raise DoseError(f"{c.sweep.name}: {bad[0]}")
        sweeps.append(sw)
        kept.append(c)
        for s in specs:
            rows.append({"curve": c.name, "kind": c.kind, "x_key": key, "x": _x_value(s.config, key), "seed": s.seed,
                         "run_dir": s.run_dir})
    runs = pd.DataFrame(rows, columns=["curve", "kind", "x_key", "x", "seed", "run_dir"])
    if len(runs):
        runs = runs.sort_values(["curve", "x", "seed"], kind="stable").reset_index(drop=True)
    # a regret curve without its uniform curve is still reported, without the paired comparison
    return sweeps, runs, notes, kept


# -- per-seed values -------------------------------------------------------------------------------
def _share(probe: pd.DataFrame, dist: str, col: str, value=None) -> float:
    sub = probe[probe["distribution"] == dist]
    if not len(sub) or col not in sub:
        return math.nan
    v = sub[col]
    return float((v.astype(str) == value).mean()) if value is not None else float(v.astype(float).mean())


def run_values(run_dir: str | Path) -> dict:
    """One run's per-seed values (``QUANTITIES``) and its training rollout episodes per generation."""
    rd = RunDirectory(run_dir)
    probe = load_final_probe(run_dir)
    gens = rd.read_table("generations", columns=["generation", "planner_share", "fitness_mean", "return_mean"])
    last = gens.sort_values("generation").iloc[-1]
    cfg = rd.config()
    w = cfg.world
    sub = probe[probe["distribution"] == "train"]
    return {
        "pseudo_aligned": _share(probe, "shift_balanced", "class", "pseudo_aligned"),
        "robust": _share(probe, "shift_balanced", "class", "robust"),
        "malign": _share(probe, "shift", "malign"),
        "pseudo_aligned_shift": _share(probe, "shift", "class", "pseudo_aligned"),
        "planner_share": float(last["planner_share"]),
        "fitness": float(last["fitness_mean"]),
        "train_return": float(sub["true_return"].mean()) if len(sub) else math.nan,
        "run_s": float((rd.manifest().get("wall_times_s") or {}).get("run", math.nan)),
        "rollout_episodes": int(cfg.evolution.episodes * (w.regret_pool if w.training_selection == "regret" else 1)),
    }


def per_seed_table(runs: pd.DataFrame) -> pd.DataFrame:
    rows = [{**r._asdict(), **run_values(r.run_dir)} for r in runs.itertuples(index=False)]
    cols = ["curve", "kind", "x_key", "x", "seed", *QUANTITIES, "rollout_episodes", "run_dir"]
    return pd.DataFrame(rows, columns=cols)


# -- summaries -------------------------------------------------------------------------------------
@dataclass
class Tables:
    per_seed: pd.DataFrame  # curve, kind, x_key, x, seed, quantities..., run_dir
    cells: pd.DataFrame  # curve, kind, x, quantity, seeds, mean, lo, hi, sd
    fixation: pd.DataFrame  # curve, x, seeds, fixed, lost, share_fixed, lo, hi
    ed50: pd.DataFrame  # curve, quantity, ed50, lo, hi, lower, upper, slope, turned, reason, smallest_rate
    steps: pd.DataFrame  # curve, quantity, rate, seeds, mean_diff, lo, hi, p, p_holm, differs (vs rate 0)
    asymmetry: pd.DataFrame  # curve, x, seeds, mean_diff, lo, hi, p, p_holm (vs the symmetric radius)
    regret: pd.DataFrame  # curve, quantity, rate, seeds, regret, uniform, mean_diff, lo, hi, p, p_holm


def build_tables(ps: pd.DataFrame, defn: Definition, curves: list[Curve]) -> Tables:
    nb, bs = defn.n_boot, defn.boot_seed
    qs = list(QUANTITIES)
    cells = stats.summarise_over_seeds(ps, qs, by=["curve", "x"], n_resamples=nb, rng=bs)
    cells = cells.rename(columns={"metric": "quantity", "n_seeds": "seeds", "ci_lo": "lo", "ci_hi": "hi"})
    one = cells["seeds"] == 1
    cells.loc[one, "lo"] = cells.loc[one, "hi"] = cells.loc[one, "mean"]
    kind = {c.name: c.kind for c in curves}
    cells.insert(1, "kind", cells["curve"].map(kind))
    fix = []
    for (curve, x), g in ps.groupby(["curve", "x"], sort=True):
        f = stats.fixation(g["planner_share"])
        fix.append({"curve": curve, "x": x, "seeds": f.n, "fixed": f.fixed, "lost": f.lost, "share_fixed": f.share_fixed,
                    "lo": f.lo, "hi": f.hi})
    ed, steps, asym, reg = [], [], [], []
    for c in curves:
        g = ps[ps["curve"] == c.name]
        if c.kind in ("rate", "regret"):
            has_zero, n_rates = bool((g["x"] == 0).any()), g["x"].nunique()
            for q in ("pseudo_aligned", "robust"):
                f = stats.ed50(g["x"], g[q], n_resamples=defn.ed50_resamples, rng=bs) if n_rates >= 3 and (g["x"] > 0).any() \
                    else stats.ED50(None, *(math.nan,) * 5, len(g), math.nan, math.nan, "fewer than 3 rates")
                smallest, t = (stats.smallest_effective_rate(g["x"], g["seed"], g[q], alpha=defn.alpha, n_resamples=nb, rng=bs)
                               if has_zero and n_rates >= 2 else (None, pd.DataFrame()))
                ed.append({"curve": c.name, "quantity": q, **f._asdict(), "smallest_rate": smallest})
                if len(t):
                    steps.append(t.assign(curve=c.name, quantity=q))
        if c.kind == "asymmetry":
            sym = g["x"].max()  # the shipped experiment: the true cue seen as far as the proxy
            base = g[g["x"] == sym].set_index("seed")[PRIMARY]
            rows = []
            for x in sorted(g["x"].unique(), reverse=True):
                if x == sym:
                    continue
                at = g[g["x"] == x].set_index("seed")[PRIMARY]
                both = pd.concat([at.rename("a"), base.rename("b")], axis=1, join="inner")
                t = stats.paired_test(both["a"], both["b"], n_resamples=nb, rng=bs)
                rows.append({"curve": c.name, "x": x, "symmetric": sym, "seeds": t.n, "mean_diff": t.mean_diff,
                             "lo": t.lo, "hi": t.hi, "p": t.p})
            if rows:
                r = pd.DataFrame(rows)
                r["p_holm"] = stats.holm(r["p"].to_numpy(float))
                asym.append(r)
        if c.kind == "regret" and c.uniform in set(ps["curve"]):
            u = ps[ps["curve"] == c.uniform]
            for q in ("pseudo_aligned", "train_return", "fitness", "run_s"):
                rows = []
                for x in sorted(set(g["x"]) & set(u["x"])):
                    a = g[g["x"] == x].set_index("seed")[q]
                    b = u[u["x"] == x].set_index("seed")[q]
                    both = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").sort_index()
                    t = stats.paired_test(both["a"], both["b"], n_resamples=nb, rng=bs)
                    rows.append({"curve": c.name, "uniform_curve": c.uniform, "quantity": q, "rate": x, "seeds": t.n,
                                 "regret": float(both["a"].mean()), "uniform": float(both["b"].mean()),
                                 "mean_diff": t.mean_diff, "lo": t.lo, "hi": t.hi, "p": t.p})
                if rows:
                    r = pd.DataFrame(rows)
                    r["p_holm"] = stats.holm(r["p"].to_numpy(float))
                    reg.append(r)
    cat = lambda xs, cols: pd.concat(xs, ignore_index=True) if xs else pd.DataFrame(columns=cols)  # noqa: E731
    return Tables(ps, cells, pd.DataFrame(fix), pd.DataFrame(ed),
                  cat(steps, ["rate", "seeds", "mean_diff", "lo", "hi", "p", "p_holm", "differs", "curve", "quantity"]),
                  cat(asym, ["curve", "x", "symmetric", "seeds", "mean_diff", "lo", "hi", "p", "p_holm"]),
                  cat(reg, ["curve", "uniform_curve", "quantity", "rate", "seeds", "regret", "uniform", "mean_diff", "lo",
                            "hi", "p", "p_holm"]))


def write_csvs(t: Tables, out: Path, data: Path) -> list[Path]:
    """Summaries to ``out/tables/``; each curve's per-seed table (without run paths) to ``data``."""
    files = []
    (out / "tables").mkdir(parents=True, exist_ok=True)
    for name in ("per_seed", "cells", "fixation", "ed50", "steps", "asymmetry", "regret"):
        f = out / "tables" / f"{name}.csv"
        getattr(t, name).to_csv(f, index=False)
        files.append(f)
    data.mkdir(parents=True, exist_ok=True)
    for curve, g in t.per_seed.groupby("curve", sort=False):
        f = data / f"dose_response_{curve}.csv"
        g.drop(columns=["run_dir"]).to_csv(f, index=False, float_format="%.6g")
        files.append(f)
    return files


# -- markdown --------------------------------------------------------------------------------------
def fmt_x(x: float, key: str) -> str:
    if key == RATE_KEY:
        return "0" if x == 0 else f"{x:g}"
    return f"{x:g}"


def _ci(r, nd: int = 2) -> str:
    if r is None or not np.isfinite(r["mean"]):
        return "–"
    if not np.isfinite(r["lo"]):
        return fmt(r["mean"], nd)
    return f"{r['mean']:.{nd}f} [{r['lo']:.{nd}f}, {r['hi']:.{nd}f}]"


def _cell(t: Tables, curve: str, x: float, q: str):
    c = t.cells
    sub = c[(c["curve"] == curve) & (c["x"] == x) & (c["quantity"] == q)]
    return sub.iloc[0] if len(sub) else None


def _fix_text(t: Tables, curve: str, x: float) -> str:
    f = t.fixation
    r = f[(f["curve"] == curve) & (f["x"] == x)]
    if not len(r):
        return "–"
    r = r.iloc[0]
    return f"{int(r['fixed'])}/{int(r['seeds'])} [{r['lo']:.2f}, {r['hi']:.2f}]"


def _rate_text(v) -> str:
    return "none" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:g}"


def _ed50_text(r) -> str:
    if r is None:
        return "–"
    if r["ed50"] is None or (isinstance(r["ed50"], float) and not np.isfinite(r["ed50"])):
        return f"none ({r['reason']})"
    return f"{r['ed50']:.2g} [{r['lo']:.2g}, {r['hi']:.2g}]"


def _ed50_row(t: Tables, curve: str, q: str = PRIMARY):
    e = t.ed50
    if not len(e):
        return None
    sub = e[(e["curve"] == curve) & (e["quantity"] == q)]
    return sub.iloc[0] if len(sub) else None


def render_blocks(t: Tables, ctx: dict, figs: dict, curves: list[Curve]) -> dict[str, str]:
    ps = t.per_seed
    names = {c.name: c for c in curves}
    present = [c for c in curves if c.name in set(ps["curve"])]
    b = {}
    runs = len(ps)
    took = ctx["wall_s"]
    b["provenance"] = (f"_Generated by `{ctx['command']}` on {ctx['date']} at commit `{ctx['commit']}`: {runs} runs "
                       f"({ctx['info']['computed']} computed, {ctx['info']['skipped']} already complete) in {took:.0f} s "
                       f"wall on {ctx['workers']}; seeds {', '.join(map(str, ctx['seeds']))}; probe episodes "
                       f"{ctx['episodes']}; read `{ctx['out_rel']}/<sweep>/cells/<hash>` (probe table, final generation; "
                       f"generations table; manifest). Intervals: 95% BCa over seeds ({ctx['n_boot']} resamples, seed "
                       f"{ctx['boot_seed']}); ED50: {ctx['ed50_resamples']} refits; Holm at alpha {ctx['alpha']}._"
                       + ("\n\n" + "\n".join(f"- {n}" for n in ctx["notes"]) if ctx["notes"] else ""))
    # the reading: one sentence per curve, numbers from the tables only
    lines = []
    for c in present:
        g = ps[ps["curve"] == c.name]
        xs = sorted(g["x"].unique())
        key = g["x_key"].iloc[0]
        lo_c, hi_c = _cell(t, c.name, xs[0], PRIMARY), _cell(t, c.name, xs[-1], PRIMARY)
        if c.kind in ("rate", "regret"):
            e = _ed50_row(t, c.name)
            sm = e["smallest_rate"] if e is not None else None
            arm = "regret selection" if c.kind == "regret" else "uniform training"
            lines.append(f"- `{c.name}` ({arm}): pseudo-aligned share on the balanced shift {_ci(lo_c)} at break rate "
                         f"{fmt_x(xs[0], key)}, {_ci(hi_c)} at {fmt_x(xs[-1], key)}; ED50 {_ed50_text(e)}; smallest rate "
                         f"whose paired difference from rate 0 excludes 0 (Holm): {_rate_text(sm)}.")
        else:
            a = t.asymmetry[t.asymmetry["curve"] == c.name] if len(t.asymmetry) else pd.DataFrame()
            sig = a[a["p_holm"] <= ctx["alpha"]] if len(a) else a
            first = f"{sig['x'].max():g}" if len(sig) else "none"
            lines.append(f"- `{c.name}` ({key.split('.')[-1]} radius {fmt_x(xs[-1], key)} down to {fmt_x(xs[0], key)}): "
                         f"pseudo-aligned share on the balanced shift {_ci(hi_c)} at the symmetric radius, {_ci(lo_c)} "
                         f"at the smallest; largest radius whose paired difference from the symmetric one excludes 0 "
                         f"(Holm): {first}.")
    for c in present:
        if c.kind != "regret" or not len(t.regret):
            continue
        r = t.regret[(t.regret["curve"] == c.name) & (t.regret["quantity"] == PRIMARY)]
        rs = t.regret[(t.regret["curve"] == c.name) & (t.regret["quantity"] == "run_s")]
        if not len(r):
            continue
        low = r[r["rate"] > 0].head(3) if (r["rate"] > 0).any() else r.head(1)
        parts = [f"{fmt_x(x, RATE_KEY)}: {d:+.2f} [{lo:+.2f}, {hi:+.2f}], Holm p {fmt_p(p)}"
                 for x, d, lo, hi, p in zip(low["rate"], low["mean_diff"], low["lo"], low["hi"], low["p_holm"])]
        ratio = (rs["regret"].mean() / rs["uniform"].mean()) if len(rs) and rs["uniform"].mean() > 0 else math.nan
        lines.append(f"- `{c.name}` minus `{c.uniform}`, pseudo-aligned share on the balanced shift, paired by seed, at "
                     f"the smallest rates: {'; '.join(parts)}; run wall time {fmt(ratio, 1)}x uniform's.")
    b["reading"] = "\n".join(lines) if lines else "_No curve in this regeneration._"
    # every cell of the rate and regret curves
    rows = []
    for c in present:
        if c.kind == "asymmetry":
            continue
        g = ps[ps["curve"] == c.name]
        for x in sorted(g["x"].unique()):
            rows.append([f"`{c.name}`", fmt_x(x, RATE_KEY), int((g["x"] == x).sum())]
                        + [_ci(_cell(t, c.name, x, q)) for q in ("pseudo_aligned", "robust", "malign")]
                        + [_fix_text(t, c.name, x)])
    b["rates"] = (md_table(["curve", "break rate", "seeds", QUANTITIES["pseudo_aligned"], QUANTITIES["robust"],
                            QUANTITIES["malign"], "planners fixed k/n [Clopper-Pearson]"], rows)
                  if rows else "_No rate curve in this regeneration._")
    rows = []
    for c in present:
        if c.kind == "asymmetry":
            continue
        for q in ("pseudo_aligned", "robust"):
            e = _ed50_row(t, c.name, q)
            if e is None:
                continue
            plateau = (f"{e['lower']:.2f} → {e['upper']:.2f}" if np.isfinite(e["lower"]) else "–")
            turned = f"{e['turned']:.2f}" if np.isfinite(e["turned"]) else "–"
            rows.append([f"`{c.name}`", QUANTITIES[q], _ed50_text(e), plateau, turned, _rate_text(e["smallest_rate"]),
                         f"{e['zero_rate_at']:g}" if np.isfinite(e["zero_rate_at"]) else "–"])
    b["ed50"] = (md_table(["curve", "quantity", "ED50 [95% bootstrap]", "fitted plateaus (low → high rate)",
                           "refits that turned", "smallest rate that matters", "rate 0 drawn at"], rows)
                 if rows else "_No rate curve in this regeneration._")
    rows = []
    for c in present:
        if c.kind != "asymmetry":
            continue
        g = ps[ps["curve"] == c.name]
        key = g["x_key"].iloc[0]
        sym = g["x"].max()
        a = t.asymmetry[t.asymmetry["curve"] == c.name] if len(t.asymmetry) else pd.DataFrame()
        for x in sorted(g["x"].unique(), reverse=True):
            d = a[a["x"] == x] if len(a) else a
            diff = (f"{d.iloc[0]['mean_diff']:+.2f} [{d.iloc[0]['lo']:+.2f}, {d.iloc[0]['hi']:+.2f}]; Holm p "
                    f"{fmt_p(d.iloc[0]['p_holm'])}" if len(d) else "(the symmetric point)")
            rows.append([f"`{c.name}`", f"{x:g} ({x / sym:.2f})", int((g["x"] == x).sum()),
                         _ci(_cell(t, c.name, x, "pseudo_aligned")), _ci(_cell(t, c.name, x, "robust")),
                         _fix_text(t, c.name, x), diff])
        del key
    b["asymmetry"] = (md_table(["curve", "true-cue radius (relative to the proxy's)", "seeds",
                                QUANTITIES["pseudo_aligned"], QUANTITIES["robust"], "planners fixed k/n",
                                "pseudo-aligned minus the symmetric point, paired by seed"], rows)
                      if rows else "_No asymmetry curve in this regeneration._")
    rows = []
    if len(t.regret):
        for r in t.regret.itertuples(index=False):
            nd = 1 if r.quantity == "run_s" else 2
            rows.append([f"`{r.curve}` − `{r.uniform_curve}`", QUANTITIES[r.quantity], fmt_x(r.rate, RATE_KEY), r.seeds,
                         fmt(r.regret, nd), fmt(r.uniform, nd), f"{r.mean_diff:+.{nd}f} [{r.lo:+.{nd}f}, {r.hi:+.{nd}f}]",
                         fmt_p(r.p), fmt_p(r.p_holm)])
    b["regret"] = (md_table(["arms", "quantity", "break rate", "seeds", "regret", "uniform", "difference [95% BCa]",
                             "p (exact sign-flip)", "Holm p (across rates)"], rows)
                   if rows else "_No regret arm with its uniform curve in this regeneration._")
    rows = []
    for c in present:
        g = ps[ps["curve"] == c.name]
        for x in sorted(g["x"].unique()):
            v = g[g["x"] == x].sort_values("seed")
            rows.append([f"`{c.name}`", fmt_x(x, g["x_key"].iloc[0]),
                         " ".join(f"{s}:{p:.2f}" for s, p in zip(v["seed"], v[PRIMARY])),
                         " ".join(f"{p:.2f}" for p in v["planner_share"])])
    b["per_seed"] = (md_table(["curve", "x", "seed: pseudo-aligned share (shift_balanced)", "final planner share, same seeds"],
                              rows, ["---", "---:", "---", "---"])
                     + f"\n\nEvery per-seed value, all quantities: `{ctx['data_rel']}/dose_response_<curve>.csv`."
                     if rows else "_No runs._")
    b["figures"] = "\n\n".join(f"![{k}]({v})" for k, v in figs.items()) if figs else "_No figures._"
    return b


# -- figures ---------------------------------------------------------------------------------------
def make_figures(t: Tables, curves: list[Curve], fig_dir: Path) -> dict[str, Path]:
    """Curves with intervals: the pseudo-aligned share on the balanced shift (mean, 95% BCa; per-seed points) against
    the break rate (log axis, rate 0 drawn a decade below the smallest rate; the fitted logistic and its ED50) and
    against the true cue's relative radius."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette="colorblind", font_scale=0.85)
    fig_dir.mkdir(parents=True, exist_ok=True)
    ps = t.per_seed
    pal = sns.color_palette("colorblind")
    out = {}
    rate_curves = [c for c in curves if c.kind == "rate" and c.name in set(ps["curve"])]
    if rate_curves:
        fig, axes = plt.subplots(1, len(rate_curves), figsize=(3.3 * len(rate_curves), 3.3), sharey=True, squeeze=False)
        for ax, c in zip(axes[0], rate_curves):
            arms = [c] + [o for o in curves if o.kind == "regret" and o.uniform == c.name and o.name in set(ps["curve"])]
            for k, arm in enumerate(arms):
                g = ps[ps["curve"] == arm.name]
                if not (g["x"] > 0).any():
                    continue
                x, zero_x = stats.dose_axis(g["x"])
                colour = pal[0] if arm.kind == "rate" else pal[3]
                jit = np.random.default_rng(k).uniform(-0.06, 0.06, len(g))
                ax.scatter(x + jit, g[PRIMARY], s=6, color=colour, alpha=0.35, lw=0)
                xs = sorted(g["x"].unique())
                at = dict(zip(g["x"], x))
                cx = [at[v] for v in xs]
                cells = [_cell(t, arm.name, v, PRIMARY) for v in xs]
                m = np.array([cc["mean"] for cc in cells])
                err = np.vstack([m - [cc["lo"] for cc in cells], [cc["hi"] for cc in cells] - m])
                ax.errorbar(cx, m, yerr=np.nan_to_num(err), fmt="o-", ms=4, capsize=2, color=colour,
                            label="regret selection" if arm.kind == "regret" else "uniform")
                e = _ed50_row(t, arm.name)
                if e is not None and e["ed50"] is not None and np.isfinite(e["ed50"]):
                    grid = np.linspace(zero_x, max(cx), 200)
                    mid = np.log10(e["ed50"])
                    ax.plot(grid, e["lower"] + (e["upper"] - e["lower"]) / (1 + np.exp(-e["slope"] * (grid - mid))),
                            color=colour, lw=0.8, ls="--")
                    ax.axvspan(np.log10(e["lo"]), np.log10(e["hi"]), color=colour, alpha=0.08)
                ax.set_xticks(cx, [fmt_x(v, RATE_KEY) for v in xs], rotation=45, fontsize=7)
            ax.set_title(c.name, fontsize=9)
            ax.set_xlabel("proxy-break rate of training")
            ax.set_ylim(-0.03, 1.03)
        axes[0][0].set_ylabel("pseudo-aligned share, balanced shift\n(per seed; mean, 95% BCa)")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        out["rates"] = fig_dir / "dose_response_rates.png"
        fig.savefig(out["rates"], dpi=110, metadata={"Software": None})
        plt.close(fig)
    asym = [c for c in curves if c.kind == "asymmetry" and c.name in set(ps["curve"])]
    if asym:
        fig, ax = plt.subplots(figsize=(4.2, 3.3))
        for k, c in enumerate(asym):
            g = ps[ps["curve"] == c.name]
            rel = g["x"] / g["x"].max()
            colour = pal[k + 1]
            jit = np.random.default_rng(k).uniform(-0.01, 0.01, len(g))
            ax.scatter(rel + jit, g[PRIMARY], s=6, color=colour, alpha=0.35, lw=0)
            xs = sorted(g["x"].unique())
            cells = [_cell(t, c.name, v, PRIMARY) for v in xs]
            m = np.array([cc["mean"] for cc in cells])
            err = np.vstack([m - [cc["lo"] for cc in cells], [cc["hi"] for cc in cells] - m])
            ax.errorbar(np.array(xs) / max(xs), m, yerr=np.nan_to_num(err), fmt="o-", ms=4, capsize=2, color=colour,
                        label=f"{c.name} ({g['x_key'].iloc[0].split('.')[-1]})")
        ax.set_xlabel("true cue's perception radius / proxy's")
        ax.set_ylabel("pseudo-aligned share, balanced shift")
        ax.set_ylim(-0.03, 1.03)
        ax.legend(fontsize=7)
        fig.tight_layout()
        out["asymmetry"] = fig_dir / "dose_response_asymmetry.png"
        fig.savefig(out["asymmetry"], dpi=110, metadata={"Software": None})
        plt.close(fig)
    return out


# -- the command -----------------------------------------------------------------------------------
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
    ap.add_argument("--out", type=Path, default=Path("runs/out/dose_response"), help="directory of the sweeps and tables")
    ap.add_argument("--doc", type=Path, default=Path("docs/dose_response.md"), help="the write-up whose blocks are replaced")
    ap.add_argument("--data", type=Path, help="directory of the per-seed CSVs (default: data/ beside the doc)")
    ap.add_argument("--definition", type=Path, default=DEFAULT_DEFINITION, help="the curves (TOML)")
    ap.add_argument("--curves", nargs="+", metavar="NAME", help="only these curves (e.g. for a timing)")
    ap.add_argument("--rates", nargs="+", type=float, metavar="RATE", help="only these break rates of the rate curves")
    ap.add_argument("--probe-episodes", type=int, help="override the definition's probe_episodes")
    args = ap.parse_args(argv)
    try:
        return _main(args, argv, log, t0)
    except ResultsError as e:
        log(f"dose_response: {e}")
        return 2


def _main(args, argv, log, t0) -> int:
    from evosim.store.files import git_commit

    defn = load_definition(args.definition)
    if args.probe_episodes is not None:
        defn = dataclasses.replace(defn, probe_episodes=_int(args.probe_episodes, "--probe-episodes", 1))
    if args.workers < 0:
        raise DoseError(f"--workers {args.workers}: expected 0 (in this process) or a positive number")
    if args.rates is not None and any(not (0 <= r <= 1) for r in args.rates):
        raise DoseError(f"--rates {args.rates}: expected rates with 0 <= rate <= 1")
    n_seeds = None if args.seeds is None else _int(args.seeds, "--seeds", 1)
    doc = args.doc
    data = args.data if args.data is not None else doc.parent / "data"
    try:
        check_markers(doc.read_text(encoding="utf-8"), BLOCKS, str(doc))
    except OSError as e:
        raise DoseError(f"{doc}: cannot read it: {e.strerror}") from None
    out = args.out.resolve()
    sweeps, runs, notes, curves = plan(defn, out, n_seeds, args.curves, args.rates)
    for n in notes:
        log(f"note: {n}")
    if not len(runs):
        raise DoseError("no runs: every curve was skipped")
    failed, info = execute(sweeps, args.workers, args.scheduler, log)
    if failed:
        for r in failed:
            log(f"failed: {r['run_dir']}: {r['error']}")
        log(f"dose_response: {len(failed)} runs failed; fix and re-run (complete runs are kept). Doc not written.")
        return 1
    tables = build_tables(per_seed_table(runs), defn, curves)
    write_csvs(tables, out, data)
    figs = make_figures(tables, curves, doc.parent)
    cmd = "python analysis/dose_response.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    ctx = {"command": cmd.strip(), "date": datetime.date.today().isoformat(), "commit": (git_commit() or "unknown")[:12],
           "seeds": sorted(set(runs["seed"])), "episodes": defn.probe_episodes, "out_rel": _rel(out),
           "data_rel": os.path.relpath(data.resolve(), doc.parent.resolve()), "notes": notes, "info": info,
           "workers": f"the Dask cluster at {args.scheduler}" if args.scheduler else
           (f"{args.workers} worker processes" if args.workers else "this process"),
           "n_boot": defn.n_boot, "boot_seed": defn.boot_seed, "ed50_resamples": defn.ed50_resamples, "alpha": defn.alpha}
    ctx["wall_s"] = time.perf_counter() - t0
    rel_figs = {k: os.path.relpath(v, doc.parent.resolve()) for k, v in figs.items()}
    write_doc(doc, render_blocks(tables, ctx, rel_figs, curves))
    manifest = {**ctx, "run_dirs": list(runs["run_dir"]), "figures": {k: str(v) for k, v in figs.items()}}
    (out / "dose_response_manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    log(f"dose_response: {len(runs)} runs ({info['computed']} computed, {info['skipped']} already complete) in "
        f"{ctx['wall_s']:.1f} s -> {doc}, {data}, {out / 'tables'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
