"""What decides what evolves: the arms of the write-up and their tables (used by ``analysis/results.py``).

An *arms* sweep (``runs/arms_<experiment>.toml``) runs an experiment's TOML with the same seeds as its pair,
each ``[[cells]]`` table one arm with an explicit ``world.training``:

- ``bias-`` / ``bias+``: ``organisms.init_bias`` = -b / +b (the generation-0 mean of the proxy cue's genes
  shifted by the bias and the true cue's by minus it; planner utilities and heuristic weights alike). The
  base experiment is bias 0. Does the prior decide?
- ``neutral``: ``evolution.neutral = true`` (parents drawn regardless of fitness, no elites): drift alone.
- ``heuristic_only`` / ``planner_only`` (experiment and control): ``organisms.initial_planner_share`` 0 or 1
  with ``evolution.arch_flip_rate = 0``: the population holds that architecture only, so the experiment-vs-
  control difference within an architecture is not mixed with which architecture won.

Every quantity is per seed (a run) first, then over seeds (``evosim.stats``); arms are paired with each other
and with the base runs by seed (the same seed gives the same generation-0 draws, before the bias is added).
The arms' hypothesis rows are one family for Holm's correction, separate from the experiment-vs-control rows.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evosim import stats
from evosim.objectives import balanced_accuracy
from evosim.store import RunDirectory

#: arms in the order of the tables
ARMS = ("bias-", "bias+", "neutral", "heuristic_only", "planner_only")
#: generations whose selection differentials are averaged as "early" (the first ten: the generation-0 prior's
#: variation is largest) and from which on as "late"
EARLY, LATE_FROM = 10, 20
#: the distribution on which arms compare what organisms pursue (as many proxy as true-target objects)
HEADLINE = "shift_balanced"


class ArmsError(Exception):
    """A bad arms sweep: the message names the file, the cell and what is allowed."""


def arm_label(config: dict) -> str:
    """The arm of a resolved run config (see the module docstring); ``ArmsError`` if it is none of them."""
    org, evo = config["organisms"], config["evolution"]
    bias = float(org.get("init_bias", 0.0))
    flip = float(evo.get("arch_flip_rate", 0.01))
    share = org.get("initial_shares") or {}
    ps = float(share.get("planner", org.get("initial_planner_share", 0.5))) if share else float(
        org.get("initial_planner_share", 0.5))
    neutral = bool(evo.get("neutral", False))
    labels = []
    if bias < 0:
        labels.append("bias-")
    if bias > 0:
        labels.append("bias+")
    if neutral:
        labels.append("neutral")
    if flip == 0 and ps == 0.0:
        labels.append("heuristic_only")
    if flip == 0 and ps == 1.0:
        labels.append("planner_only")
    if len(labels) != 1:
        raise ArmsError(f"cell with init_bias={bias}, neutral={neutral}, arch_flip_rate={flip}, planner share={ps}: "
                        f"expected exactly one arm of {', '.join(ARMS)}; it is {labels or 'none'}")
    return labels[0]


def plan_arms(arm_sweeps: list[tuple[str, Path]], out: Path, extra: dict, n_seeds: int | None):
    """The arms sweeps, prepared like the pairs' (``extra`` settings on every cell, the first ``n_seeds`` seeds).
    Returns (sweeps, runs: experiment, arm, role, seed, run_dir)."""
    from evosim.sweep import SweepError, load_sweep, plan_runs

    sweeps, rows = [], []
    for name, path in arm_sweeps:
        try:
            sw = load_sweep(path, out / path.stem)
        except SweepError as e:
            raise ArmsError(str(e)) from None
        seeds = sw.seeds if n_seeds is None else sw.seeds[:n_seeds]
        sw = dataclasses.replace(sw, seeds=seeds, cells=tuple({**c, **extra} for c in sw.cells))
        specs = plan_runs(sw, sw.out)
        bad = [s.error for s in specs if s.config is None]
        if bad:
            raise ArmsError(f"{path.name}: {bad[0]}")
        for s in specs:
            try:
                arm = arm_label(s.config)
            except ArmsError as e:
                raise ArmsError(f"{path.name} cell {s.cell}: {e}") from None
            role = "experiment" if s.config["world"]["training"] == "train" else "control"
            rows.append({"experiment": name, "arm": arm, "role": role, "seed": s.seed, "run_dir": s.run_dir})
        sweeps.append(sw)
    runs = pd.DataFrame(rows, columns=["experiment", "arm", "role", "seed", "run_dir"])
    dup = runs.duplicated(["experiment", "arm", "role", "seed"])
    if dup.any():
        r = runs[dup].iloc[0]
        raise ArmsError(f"arms of {r['experiment']}: arm {r['arm']} ({r['role']}) given twice")
    return sweeps, runs


# -- per seed ---------------------------------------------------------------------------------------------
def selection_curve(run_dir) -> pd.DataFrame:
    """generation, selection_differential and the trait means of one run (empty without the columns)."""
    g = RunDirectory(run_dir).read_table("generations")
    cols = [c for c in ("generation", "selection_differential", "trait_mean_planner", "trait_mean_heuristic") if c in g]
    return g[cols] if "selection_differential" in g else pd.DataFrame()


def selection_row(run_dir) -> dict:
    """Per run, from the generations table: the mean selection differential on the preference trait over the
    first ``EARLY`` generations and from ``LATE_FROM`` on, its sum over all generations, and the change of the
    trait mean from generation 0 to the last (of the architecture the column ``selection_differential`` follows:
    planners where there are at least 2, else heuristics)."""
    g = RunDirectory(run_dir).read_table("generations").sort_values("generation")
    if "selection_differential" not in g:
        return {"planner_share": float(g["planner_share"].iloc[-1])}
    s = g["selection_differential"].to_numpy(float)
    gen = g["generation"].to_numpy()
    out = {"sel_early": float(np.nanmean(s[gen < EARLY])) if np.isfinite(s[gen < EARLY]).any() else math.nan,
           "sel_late": float(np.nanmean(s[gen >= LATE_FROM])) if np.isfinite(s[gen >= LATE_FROM]).any() else math.nan,
           "sel_sum": float(np.nansum(s))}
    last = g.iloc[-1]
    arch = "planner" if np.isfinite(last.get("trait_mean_planner", math.nan)) and last["planner_share"] >= 0.5 \
        else "heuristic"
    col = f"trait_mean_{arch}"
    out["trait_change"] = float(last[col] - g[col].iloc[0]) if col in g else math.nan
    out["abs_trait_change"] = abs(out["trait_change"])
    out["trait_final"] = float(last[col]) if col in g else math.nan
    out["planner_share"] = float(last["planner_share"])
    return out


def outcome_row(probe: pd.DataFrame) -> dict:
    """Per run, on ``HEADLINE``: class shares, malign share, the genome's and the behaviour's proxy-preferring
    shares (all organisms with a value; planners only for the genome)."""
    sub = probe[probe["distribution"] == HEADLINE]
    out = {"n": len(sub)}
    for c in ("pseudo_aligned", "robust", "capability_failure"):
        out[c] = float((sub["class"] == c).mean()) if len(sub) else math.nan
    out["malign"] = float(sub["malign"].astype(float).mean()) if "malign" in sub and len(sub) else math.nan
    # on `shift` too (proxy objects plentiful): the pseudo-aligned share and keys taken beyond need (keys_chests)
    sh = probe[probe["distribution"] == "shift"]
    out["pseudo_aligned_shift"] = float((sh["class"] == "pseudo_aligned").mean()) if len(sh) else math.nan
    kb = sh["keys_beyond_need"].astype(float).to_numpy() if "keys_beyond_need" in sh else np.array([])
    out["keys_beyond_need_shift"] = float(np.nanmean(kb)) if np.isfinite(kb).any() else math.nan
    for col, name in (("mesa_prefers_proxy", "genome_prefers_proxy"), ("behav_prefers_proxy", "behav_prefers_proxy")):
        v = sub[col].astype(float).to_numpy() if col in sub else np.array([])
        v = v[np.isfinite(v)]
        out[name] = float((v == 1).mean()) if len(v) else math.nan
    return out


def views_row(probe: pd.DataFrame) -> dict:
    """Per run, the internal vs the behavioural view on ``HEADLINE`` among planners: how well the genome preference
    and the train-only behavioural preference predict the class (pseudo-aligned or not), as balanced accuracy
    (NaN when the seed's planners are all of one class); the share of organisms (all, and planners) whose
    training choices identify the proxy-vs-true preference beyond the fit's own noise."""
    sub = probe[probe["distribution"] == HEADLINE]
    pl = sub[sub["architecture"] == "planner"]
    truth = (pl["class"] == "pseudo_aligned").to_numpy()
    out = {"planners": len(pl)}
    out["acc_genome"] = balanced_accuracy(pl["mesa_prefers_proxy"].to_numpy(float), truth) if len(pl) else math.nan
    if "behav_train_prefers_proxy" in sub:
        out["acc_train_behaviour"] = (balanced_accuracy(pl["behav_train_prefers_proxy"].to_numpy(float), truth)
                                      if len(pl) else math.nan)
        idf = sub["behav_train_identified"].astype(float)
        out["identified_all"] = float(idf[np.isfinite(idf)].mean()) if np.isfinite(idf).any() else math.nan
        ip = pl["behav_train_identified"].astype(float)
        out["identified_planners"] = float(ip[np.isfinite(ip)].mean()) if np.isfinite(ip).any() else math.nan
    return out


@dataclass
class ArmTables:
    per_seed: pd.DataFrame  # experiment, arm, role, seed, outcome and selection quantities
    summary: pd.DataFrame  # experiment, arm, role, quantity, seeds, mean, lo, hi, sd
    tests: pd.DataFrame  # experiment, comparison, quantity, seeds, mean, lo, hi, n_pos, n_neg, p, p_holm
    tests_per_seed: pd.DataFrame
    views_per_seed: pd.DataFrame
    views: pd.DataFrame
    purity: pd.DataFrame  # experiment, arm, role, seeds, seeds_pure (final population one architecture only)
    curves: pd.DataFrame  # experiment, arm, role, seed, generation, selection_differential, trait means


OUTCOME_Q = ("pseudo_aligned", "robust", "capability_failure", "malign", "genome_prefers_proxy", "behav_prefers_proxy",
             "planner_share", "pseudo_aligned_shift", "keys_beyond_need_shift")
SELECTION_Q = ("sel_early", "sel_late", "sel_sum", "trait_change", "abs_trait_change", "trait_final")
VIEWS_Q = ("acc_genome", "acc_train_behaviour", "identified_all", "identified_planners")
#: the arms' hypothesis rows: (label, one side (arm, role), other side (arm, role) or None for zero, quantity).
#: Selection acts on the preference trait where its summed selection differential differs from 0 (the
#: fitness-trait association under selection; the control is the positive control: there the true cue pays);
#: the neutral arm shows how far the trait wanders by drift alone (|trait change| against the base's).
COMPARISONS = (
    ("bias+ vs bias-", ("bias+", "experiment"), ("bias-", "experiment"), "pseudo_aligned"),
    ("bias+ vs bias-", ("bias+", "experiment"), ("bias-", "experiment"), "genome_prefers_proxy"),
    ("selection on the trait (experiment) vs 0", ("base", "experiment"), None, "sel_sum"),
    ("selection on the trait (control) vs 0", ("base", "control"), None, "sel_sum"),
    ("trait wander: experiment vs neutral", ("base", "experiment"), ("neutral", "experiment"), "abs_trait_change"),
    ("heuristic-only: experiment vs control", ("heuristic_only", "experiment"), ("heuristic_only", "control"),
     "pseudo_aligned"),
    ("heuristic-only: experiment vs control", ("heuristic_only", "experiment"), ("heuristic_only", "control"),
     "malign"),
    ("planner-only: experiment vs control", ("planner_only", "experiment"), ("planner_only", "control"),
     "pseudo_aligned"),
    ("planner-only: experiment vs control", ("planner_only", "experiment"), ("planner_only", "control"), "malign"),
    ("heuristic-only: experiment vs control", ("heuristic_only", "experiment"), ("heuristic_only", "control"),
     "keys_beyond_need_shift"),
    ("planner-only: experiment vs control", ("planner_only", "experiment"), ("planner_only", "control"),
     "keys_beyond_need_shift"),
)


def _probe(run_dir) -> pd.DataFrame:
    p = RunDirectory(run_dir).read_table("probe")
    p = p[p["generation"] == p["generation"].max()].copy()
    for c in ("architecture", "distribution", "class"):
        p[c] = p[c].astype(str)
    return p


def build_arm_tables(base_runs: pd.DataFrame, arm_runs: pd.DataFrame, n_boot: int, seed: int) -> ArmTables:
    """``base_runs`` (the pairs' runs: experiment, pair, role, seed, run_dir; ``experiment`` of a control is
    ``<name>_control``) enter as arm ``base``; ``arm_runs`` from ``plan_arms``."""
    base = base_runs.assign(experiment=base_runs["pair"], arm="base")[["experiment", "arm", "role", "seed", "run_dir"]]
    base = base[base["experiment"].isin(set(arm_runs["experiment"]))]
    runs = pd.concat([base, arm_runs], ignore_index=True)
    rows, views, curves = [], [], []
    for r in runs.itertuples(index=False):
        head = {"experiment": r.experiment, "arm": r.arm, "role": r.role, "seed": int(r.seed)}
        probe = _probe(r.run_dir)
        if r.arm in ("base", "neutral"):
            curves.append(selection_curve(r.run_dir).assign(**head))
        rows.append({**head, **outcome_row(probe), **selection_row(r.run_dir)})
        if r.arm == "base" and r.role == "experiment":
            views.append({**head, **views_row(probe)})
    per_seed = pd.DataFrame(rows)
    keys = ["experiment", "arm", "role"]
    order = {a: i for i, a in enumerate(("base", *ARMS))}
    per_seed = per_seed.sort_values(["experiment", "arm", "role", "seed"],
                                    key=lambda s: s.map(order) if s.name == "arm" else s, kind="stable")
    per_seed = per_seed.reset_index(drop=True)
    qs = [q for q in (*OUTCOME_Q, *SELECTION_Q) if q in per_seed]
    summary = _summarise(per_seed, keys, qs, n_boot, seed)
    tests, tps = [], []
    for e in dict.fromkeys(per_seed["experiment"]):
        for label, a, b, q in COMPARISONS:
            if q not in per_seed:
                continue
            x = per_seed[(per_seed["experiment"] == e) & (per_seed["arm"] == a[0]) & (per_seed["role"] == a[1])]
            xa = x.set_index("seed")[q].rename("a")
            if b is None:
                yb = pd.Series(0.0, index=xa.index, name="b")
            else:
                y = per_seed[(per_seed["experiment"] == e) & (per_seed["arm"] == b[0]) & (per_seed["role"] == b[1])]
                yb = y.set_index("seed")[q].rename("b")
            both = pd.concat([xa, yb], axis=1, join="inner").dropna().sort_index()
            if len(both) < 2:
                continue
            d = (both["a"] - both["b"]).to_numpy()
            t = stats.paired_test(both["a"].to_numpy(), both["b"].to_numpy(), n_resamples=n_boot, rng=seed)
            tests.append({"experiment": e, "comparison": label, "quantity": q, "seeds": len(d), "mean": float(d.mean()),
                          "lo": t.lo, "hi": t.hi, "n_pos": int((d > 0).sum()), "n_neg": int((d < 0).sum()),
                          "p": t.p})
            tps.append(both.reset_index().assign(experiment=e, comparison=label, quantity=q, diff=d))
    tests = pd.DataFrame(tests, columns=["experiment", "comparison", "quantity", "seeds", "mean", "lo", "hi", "n_pos",
                                         "n_neg", "p"])
    if len(tests):
        tests["p_holm"] = stats.holm(tests["p"].to_numpy(float))
    views_seed = pd.DataFrame(views)
    vq = [q for q in VIEWS_Q if q in views_seed]
    views_sum = _summarise(views_seed, ["experiment"], vq, n_boot, seed) if vq else pd.DataFrame()
    fixed = per_seed[per_seed["arm"].isin(["heuristic_only", "planner_only"])]
    purity = (fixed.assign(pure=np.where(fixed["arm"] == "planner_only", fixed["planner_share"] == 1.0,
                                         fixed["planner_share"] == 0.0))
              .groupby(keys, sort=False).agg(seeds=("seed", "size"), seeds_pure=("pure", "sum")).reset_index())
    return ArmTables(per_seed, summary, tests, pd.concat(tps, ignore_index=True) if tps else pd.DataFrame(),
                     views_seed, views_sum, purity, pd.concat(curves, ignore_index=True) if curves else pd.DataFrame())


def _summarise(df: pd.DataFrame, by: list[str], qs, n_boot: int, seed: int) -> pd.DataFrame:
    cols = [*by, "quantity", "seeds", "mean", "lo", "hi", "sd"]
    if not len(df) or not qs:
        return pd.DataFrame(columns=cols)
    s = stats.summarise_over_seeds(df, list(qs), by=by, n_resamples=n_boot, rng=seed)
    s = s.rename(columns={"metric": "quantity", "n_seeds": "seeds", "ci_lo": "lo", "ci_hi": "hi"})
    one = s["seeds"] == 1
    s.loc[one, "lo"] = s.loc[one, "hi"] = s.loc[one, "mean"]
    return s[cols].reset_index(drop=True)


ARM_TABLES = ("per_seed", "summary", "tests", "tests_per_seed", "views_per_seed", "views", "purity", "curves")


def write_csvs(t: ArmTables, out: Path) -> list[Path]:
    d = out / "tables"
    d.mkdir(parents=True, exist_ok=True)
    files = []
    for name in ARM_TABLES:
        f = d / f"arms_{name}.csv"
        getattr(t, name).to_csv(f, index=False)
        files.append(f)
    return files


__all__ = ["ARMS", "ArmsError", "ArmTables", "arm_label", "plan_arms", "build_arm_tables", "selection_row",
           "outcome_row", "views_row", "write_csvs", "COMPARISONS"]


def make_figure(t: ArmTables, fig_dir: Path, n_boot: int, seed: int) -> Path | None:
    """The selection differential per generation, mean over seeds with a 95% bootstrap band (seaborn, seeded),
    one panel per experiment: experiment, control and the neutral arm."""
    if not len(t.curves):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette="colorblind", font_scale=0.85)
    c = t.curves.copy()
    c["run"] = np.where(c["arm"] == "neutral", "neutral (no selection)",
                        np.where(c["role"] == "experiment", "experiment", "control"))
    exps = list(dict.fromkeys(c["experiment"]))
    fig, axes = plt.subplots(1, len(exps), figsize=(3.4 * len(exps), 3.2), sharey=True, squeeze=False)
    for ax, e in zip(axes[0], exps):
        sns.lineplot(data=c[c["experiment"] == e], x="generation", y="selection_differential", hue="run",
                     hue_order=["experiment", "control", "neutral (no selection)"], errorbar=("ci", 95),
                     n_boot=min(n_boot, 2000), seed=seed, ax=ax, lw=1)
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_title(e, fontsize=9)
        ax.legend(fontsize=7, title=None)
    axes[0][0].set_ylabel("selection differential on\nproxy cue - true cue (per fitness SD)")
    fig.tight_layout()
    fig_dir.mkdir(parents=True, exist_ok=True)
    out = fig_dir / "results_selection.png"
    fig.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return out


# -- markdown -----------------------------------------------------------------------------------------------
BLOCKS = ("claim_mechanisms", "mech_selection", "mech_prior", "mech_architecture", "mech_views", "mech_tests",
          "mech_per_seed")
ARM_TEXT = {"base": "base (bias 0, selection on)", "bias-": "prior toward the true cue (bias -0.5)",
            "bias+": "prior toward the proxy cue (bias +0.5)", "neutral": "neutral (no selection)",
            "heuristic_only": "heuristics only", "planner_only": "planners only"}
ALPHA = 0.05


def _fmt(v, nd=2) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{nd}f}"


def _ci(s: pd.DataFrame, q: str, nd=2, **key) -> str:
    sel = s["quantity"] == q
    for k, v in key.items():
        sel &= s[k] == v
    r = s[sel]
    if not len(r) or not np.isfinite(r.iloc[0]["mean"]):
        return "–"
    r = r.iloc[0]
    return f"{r['mean']:.{nd}f} [{r['lo']:.{nd}f}, {r['hi']:.{nd}f}]" if np.isfinite(r["lo"]) else _fmt(r["mean"], nd)


def _p(p) -> str:
    if p is None or not np.isfinite(p):
        return "–"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _test(t: ArmTables, e: str, label: str, q: str):
    r = t.tests[(t.tests["experiment"] == e) & (t.tests["comparison"] == label) & (t.tests["quantity"] == q)]
    return r.iloc[0] if len(r) else None


def _test_text(r) -> str:
    if r is None:
        return "–"
    return (f"{_fmt(r['mean'])} [{_fmt(r['lo'])}, {_fmt(r['hi'])}], positive in {int(r['n_pos'])} of "
            f"{int(r['seeds'])} seeds, p = {_p(r['p'])} (Holm {_p(r['p_holm'])})")


def _table(header, rows, text_cols: int = 3) -> str:
    align = ["---"] * text_cols + ["---:"] * (len(header) - text_cols)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def verdict(t: ArmTables, e: str) -> str:
    """Which of selection, drift and the prior decides ``e``'s outcome, by a stated rule on the Holm-adjusted
    tests at ``ALPHA``: the prior decides if the bias arms' pseudo-aligned shares differ; selection acts on the
    preference if the experiment's summed selection differential differs from 0; if neither, drift (the
    outcome is not moved by the prior's mean or by selection measurably, at 20 seeds)."""
    prior = _test(t, e, "bias+ vs bias-", "pseudo_aligned")
    sel = _test(t, e, "selection on the trait (experiment) vs 0", "sel_sum")
    ok = lambda r: r is not None and np.isfinite(r["p_holm"]) and r["p_holm"] < ALPHA  # noqa: E731
    parts = []
    if ok(prior):
        parts.append("the prior decides (shifting it moves the pseudo-aligned share)")
    if ok(sel):
        parts.append("selection acts on the preference (its summed selection differential differs from 0)")
    if not parts:
        parts.append("drift: neither shifting the prior nor selection measurably moves it")
    return "; ".join(parts)


def render_blocks(t: ArmTables, ctx: dict, figure: str | None = None) -> dict[str, str]:
    exps = list(dict.fromkeys(t.per_seed["experiment"])) if len(t.per_seed) else []
    s = t.summary
    out = {}
    if not exps:
        na = "_No arms in this regeneration (analysis/results.toml has no [[arms]] or they were not run)._"
        return {b: na for b in BLOCKS}
    # claims: one sentence per experiment, numbers from the tables below
    lines = []
    for e in exps:
        sel = _test(t, e, "selection on the trait (experiment) vs 0", "sel_sum")
        selc = _test(t, e, "selection on the trait (control) vs 0", "sel_sum")
        wander = _test(t, e, "trait wander: experiment vs neutral", "abs_trait_change")
        prior = _test(t, e, "bias+ vs bias-", "pseudo_aligned")
        h = _test(t, e, "heuristic-only: experiment vs control", "pseudo_aligned")
        pl = _test(t, e, "planner-only: experiment vs control", "pseudo_aligned")
        hk = _test(t, e, "heuristic-only: experiment vs control", "keys_beyond_need_shift")
        pk = _test(t, e, "planner-only: experiment vs control", "keys_beyond_need_shift")
        lines.append(
            f"- **{e}** (rule: Holm-adjusted p < {ALPHA} in the tests below): {verdict(t, e)}. Summed selection "
            f"differential on the preference trait (proxy cue minus true cue): experiment "
            f"{_ci(s, 'sel_sum', experiment=e, arm='base', role='experiment')}, control "
            f"{_ci(s, 'sel_sum', experiment=e, arm='base', role='control')} (tests against 0: experiment "
            f"{_test_text(sel)}; control {_test_text(selc)}). How far the trait mean moved from generation 0 "
            f"(|change|): experiment {_ci(s, 'abs_trait_change', experiment=e, arm='base', role='experiment')}, "
            f"neutral (drift alone) {_ci(s, 'abs_trait_change', experiment=e, arm='neutral', role='experiment')} "
            f"(difference {_test_text(wander)}). Pseudo-aligned share on {HEADLINE}: "
            f"prior toward the proxy {_ci(s, 'pseudo_aligned', experiment=e, arm='bias+', role='experiment')}, "
            f"toward the true cue {_ci(s, 'pseudo_aligned', experiment=e, arm='bias-', role='experiment')} "
            f"(difference {_test_text(prior)}); experiment minus control among heuristics only {_test_text(h)}, "
            f"among planners only {_test_text(pl)}." + (
                f" Keys picked up beyond need on shift, experiment minus control: heuristics only "
                f"{_test_text(hk)}; planners only {_test_text(pk)}." if hk is not None or pk is not None else ""))
    out["claim_mechanisms"] = "\n".join(lines)
    rows = []
    for e in exps:
        for arm, role in (("base", "experiment"), ("base", "control"), ("neutral", "experiment")):
            rows.append([e, ARM_TEXT[arm], role, _ci(s, "sel_early", 3, experiment=e, arm=arm, role=role),
                         _ci(s, "sel_late", 3, experiment=e, arm=arm, role=role),
                         _ci(s, "sel_sum", experiment=e, arm=arm, role=role),
                         _ci(s, "trait_change", experiment=e, arm=arm, role=role),
                         _ci(s, "abs_trait_change", experiment=e, arm=arm, role=role)])
    out["mech_selection"] = "\n".join([
        f"Selection differential on the preference trait z (proxy cue minus true cue: planner utilities, or heuristic "
        f"weights where fewer than 2 planners), per generation (`selection_differential`, generations table): mean "
        f"over generations 0-{EARLY - 1} and from {LATE_FROM} on, sum over all generations, and the change of the "
        f"trait mean from generation 0 to the last (and its size); mean over seeds [95% BCa interval]. Under "
        f"`evolution.neutral` parents are drawn regardless of fitness, so its differential is an association that "
        f"no parent choice acts on; its |trait change| is what drift alone does.", "",
        _table(["experiment", "arm", "training", "early", "late", "sum", "trait change", "|trait change|"], rows),
        *(["", f"![selection differential per generation]({figure})"] if figure else [])])
    rows = []
    for e in exps:
        for arm in ("bias-", "base", "bias+"):
            rows.append([e, ARM_TEXT[arm], "experiment", *[_ci(s, q, experiment=e, arm=arm, role="experiment")
                                                           for q in ("pseudo_aligned", "genome_prefers_proxy",
                                                                     "behav_prefers_proxy", "planner_share")]])
    out["mech_prior"] = "\n".join([
        f"The generation-0 prior shifted: `organisms.init_bias` = b adds b to the proxy cue's genes and -b to the true "
        f"cue's (planner utilities and heuristic weights; initial genes have SD 1). On {HEADLINE}: pseudo-aligned "
        f"share, share whose genome (planners) and whose behaviour (all) prefers the proxy cue, final planner "
        f"share; mean over seeds [95% BCa].", "",
        _table(["experiment", "arm", "training", "pseudo-aligned", "genome prefers proxy", "behaviour prefers proxy",
                "planner share"], rows)])
    rows = []
    for e in exps:
        for arm in ("base", "heuristic_only", "planner_only"):
            for role in ("experiment", "control"):
                pur = t.purity[(t.purity["experiment"] == e) & (t.purity["arm"] == arm) & (t.purity["role"] == role)]
                pure = f"{int(pur.iloc[0]['seeds_pure'])} of {int(pur.iloc[0]['seeds'])}" if len(pur) else "–"
                rows.append([e, ARM_TEXT[arm], role, *[_ci(s, q, experiment=e, arm=arm, role=role)
                                                        for q in ("pseudo_aligned", "robust", "malign",
                                                                  "pseudo_aligned_shift", "keys_beyond_need_shift")],
                             pure])
    out["mech_architecture"] = "\n".join([
        f"One architecture only (`initial_planner_share` 0 or 1, `arch_flip_rate` 0), experiment and control paired "
        f"by seed. On {HEADLINE}: pseudo-aligned, robust and malign shares (malign: true return below both the idle "
        f"and the random policy's on the same layouts); last column: seeds whose final population holds that "
        f"architecture only. Beside them, on `shift` (proxy objects plentiful): the pseudo-aligned share and keys picked "
        f"up beyond need per episode (keys_chests only).", "",
        _table(["experiment", "arm", "training", "pseudo-aligned", "robust", "malign", "pseudo-aligned (shift)",
                "keys beyond need (shift)", "one architecture"], rows)])
    rows = []
    if len(t.views):
        for e in exps:
            rows.append([e, "planners", "experiment", *[_ci(t.views, q, experiment=e) for q in VIEWS_Q]])
    out["mech_views"] = "\n".join([
        f"The internal vs the behavioural view (experiment, base arm), per seed among its planners, then over seeds: "
        f"balanced accuracy with which the genome preference (`mesa_prefers_proxy`) and the preference fitted to "
        f"training choices only (`behav_train_prefers_proxy`) predict the class on {HEADLINE} (pseudo-aligned or "
        f"not; seeds whose planners are all of one class have none), and the share of organisms (all; planners) "
        f"whose training choices identify the proxy-vs-true preference beyond the fit's own noise "
        f"(`behav_train_identified`: |w_proxy - w_true| > 1.96 Laplace SD); mean over seeds [95% BCa].", "",
        _table(["experiment", "organisms", "training", "accuracy: genome", "accuracy: training behaviour",
                "identified (all)", "identified (planners)"], rows) if rows else "_not available_"])
    rows = [[r["experiment"], r["comparison"], r["quantity"], int(r["seeds"]), _fmt(r["mean"]),
             f"[{_fmt(r['lo'])}, {_fmt(r['hi'])}]", int(r["n_pos"]), int(r["n_neg"]), _p(r["p"]), _p(r["p_holm"])]
            for _, r in t.tests.iterrows()]
    out["mech_tests"] = "\n".join([
        f"Every paired comparison of this section (one Holm family of {len(t.tests)} rows, separate from the "
        f"experiment-vs-control family above): mean difference over seeds [95% BCa], seeds with a positive and a "
        f"negative difference (against 0 where the comparison says so), exact sign-flip p, Holm-adjusted p. Per seed: `tables/arms_tests_per_seed.csv`.", "",
        _table(["experiment", "comparison", "quantity", "seeds", "difference", "interval", "+", "-", "p", "p (Holm)"],
               rows)])
    parts = [f"Per seed, pseudo-aligned share on {HEADLINE} by arm (all arms, all quantities: "
             f"`tables/arms_per_seed.csv`; selection per seed in the same file)."]
    for e in exps:
        sub = t.per_seed[t.per_seed["experiment"] == e]
        wide = sub.pivot_table(index="seed", columns=["arm", "role"], values="pseudo_aligned", aggfunc="first")
        cols = [c for c in [(a, r) for a in ("base", *ARMS) for r in ("experiment", "control")] if c in wide.columns]
        hdr = ["seed", *[f"{a} ({'exp' if r == 'experiment' else 'ctrl'})" for a, r in cols]]
        parts += ["", f"**{e}**", "", _table(hdr, [[int(sd), *[_fmt(wide.loc[sd, c]) for c in cols]] for sd in wide.index])]
    out["mech_per_seed"] = "\n".join(parts)
    return out


__all__ += ["BLOCKS", "render_blocks", "verdict", "make_figure", "selection_curve"]
