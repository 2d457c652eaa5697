# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The evolution analogy: selected for nutrition, pursuing sweetness?
#
# *Risks from Learned Optimization* points to evolution as the one base optimiser we know
# produced mesa-optimisers: it selected humans for genetic fitness, and humans pursue their own
# objectives, some of which (a taste for sugar) tracked fitness in the ancestral environment and
# no longer do. evosim's `ancestral_modern` world makes that runnable:
#
# | kind | sweet | fruity | ripe (colour) | bitter | nutrition (base reward) |
# | --- | --- | --- | --- | --- | --- |
# | fruit | 1 | 1 | 1 | | 1 |
# | green fruit | 1 | 1 | | | 1 |
# | bitter berry | | | | 1 | -0.5 |
# | candy | 1 | | | | 0 |
#
# In the **ancestral** world (training) there is no candy: sweetness and fruitiness are smelled
# from the same distance and both mark every nutritious item, so evolution alone decides which one
# organisms come to value. The **modern** world (shift) adds candy, sweet and empty, which fills
# the stomach (satiety: 3 items) that fruit would have filled. The **control** has candy in
# training, so sweetness never tracked nutrition.
#
# This notebook draws the one figure the project exists for: what the population was selected
# for (nutrition in the ancestral world) against what it pursues (its evolved utility, its
# behaviour, and what it eats in the modern world), for `runs/ancestral_modern.toml` and its
# control `runs/ancestral_modern_control.toml`, with 95% percentile-bootstrap intervals over seeds.

# %% [markdown]
# ## Parameters
#
# The defaults are **small** (3 seeds, 100 organisms, 30 generations, 50 probe episodes) so that
# the notebook runs in CI in about 20 s (40 s on a fresh install, while numba compiles the kernels;
# 2 cores, load average ~5); its numbers are a smoke test, not the result. For the
# full experiment set `SEEDS = range(1, 21)` and `POPULATION = GENERATIONS = PROBE_EPISODES = None`
# (the shipped settings: 300 organisms, 100 generations, 200 probe episodes). That is 40 runs with
# their reports; one shipped-size run and its report took about 9 s on 2 busy cores (2 s to evolve,
# 7 s to probe; measured on the development machine, load average ~4), so about 6-10 minutes
# serially here, plus a one-off numba compilation of about a minute on a fresh install;
# `python analysis/results.py --workers 2` runs the same pairs in parallel for `docs/results.md`.
# Finished runs in `OUT_DIR` are reused, so an interrupted notebook continues where it stopped.
#
# The headline panel (the cue-asymmetry curve) reads the per-seed table that
# `python analysis/dose_response.py` writes to `docs/data/` (20 seeds, shipped settings: the real
# figure in seconds). `ASYMMETRY = "rerun"` runs that sweep here instead, at the settings above
# (with the defaults, a smoke test); so does the notebook when the table has not been generated yet
# (9 more small runs than the two conditions need: the symmetric point is the "ancestral" run itself;
# measured 428 s for the whole notebook with 12 such runs on 2 cores at load average 13).

# %% tags=["parameters"]
SEEDS = [1, 2, 3]          # full experiment: range(1, 21)
POPULATION = 100           # None: shipped setting (300)
GENERATIONS = 30           # None: shipped setting (100)
PROBE_EPISODES = 50        # None: shipped setting (200)
FORMAT = "png"             # "png", "pdf" or "svg" (vector)
OUT_DIR = None             # None: a temporary directory; or a path to keep runs and the figure
ASYMMETRY = "data"         # headline panel: "data" reads docs/data/ (the 20-seed write-up); "rerun" runs it here

# %%
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Image, display

import evosim
import evosim.figures  # noqa: F401 - selects Matplotlib's Agg backend on import (report_run imports it): first,
from evosim.report import report_run  # then switch this notebook back to inline figures
from evosim.schema import bootstrap_interval

# %matplotlib inline

T0 = time.perf_counter()
assert FORMAT in ("png", "pdf", "svg"), f"FORMAT = {FORMAT!r}: expected png, pdf or svg"


def find_runs() -> Path:
    for d in (Path.cwd(), *Path.cwd().parents):
        if (d / "runs" / "ancestral_modern.toml").exists():
            return d / "runs"
    raise FileNotFoundError("run this notebook from inside the evosim repository (runs/ not found)")


RUNS = find_runs()
OUT = Path(OUT_DIR) if OUT_DIR is not None else Path(tempfile.mkdtemp(prefix="evosim_analogy_"))
CONDITIONS = {"ancestral": "ancestral_modern.toml", "control": "ancestral_modern_control.toml"}
overrides = {k: v for k, v in {"evolution.population": POPULATION, "evolution.generations": GENERATIONS,
                               "probe.episodes": PROBE_EPISODES}.items() if v is not None}
print(f"seeds {list(SEEDS)}, overrides {overrides or 'none (shipped settings)'}; outputs in {OUT}")

# %% [markdown]
# ## The headline: how much less visible must fruitiness be before evolution picks sweetness?
#
# In the shipped ancestral world sweetness and fruitiness are smelled from the same distance (8
# cells) and both mark every nutritious item, and populations mostly come out robust: they eat
# fruit, not candy, in the modern world. The analogy's honest figure asks how much of an edge the
# proxy cue needs: `runs/dose_response_asymmetry_ancestral_modern.toml` shrinks the radius at which
# fruitiness is perceived (8, 5, 3, 2 cells; sweetness stays at 8) and measures the share of the
# final population that is pseudo-aligned on the balanced modern world (`shift_balanced`: as
# many candies as fruit, paired at equal distance), per seed, with 95% BCa intervals over seeds
# (`evosim.stats`). `docs/dose_response.md` has the tables and the paired tests.

# %%
from evosim import stats
from evosim.sweep import load_sweep

ASYM_SWEEP = RUNS / "dose_response_asymmetry_ancestral_modern.toml"
ASYM_CSV = RUNS.parent / "docs" / "data" / "dose_response_asymmetry_ancestral_modern.csv"
assert ASYMMETRY in ("data", "rerun"), f"ASYMMETRY = {ASYMMETRY!r}: expected 'data' or 'rerun'"


def pseudo_aligned_balanced(run: evosim.Run) -> float:
    p = run.probe
    p = p[(p["generation"] == p["generation"].max()) & (p["distribution"] == "shift_balanced")]
    return float((p["class"].astype(str) == "pseudo_aligned").mean())


def rerun_asymmetry() -> pd.DataFrame:
    """The asymmetry sweep's cells at this notebook's seeds and settings: one row per (radius, seed)."""
    sweep = load_sweep(ASYM_SWEEP)
    (key,) = sweep.keys  # world.radius.fruity
    rows = []
    for cell in sweep.cells:
        r = cell[key]
        for s in SEEDS:
            cfg = evosim.load_config(sweep.base_path, {**overrides, key: r, "seed": s})
            same = cfg == evosim.load_config(RUNS / CONDITIONS["ancestral"], {**overrides, "seed": s})
            # the symmetric point is the shipped experiment: the same run as the "ancestral" condition below
            path = OUT / (f"ancestral__seed{s}" if same else f"asymmetry_fruity{r}__seed{s}")
            try:
                run = evosim.load_run(path)
                run.probe  # noqa: B018 - raises RunError if the report is missing
            except evosim.RunError:
                evosim.run_experiment(cfg, out=path, mode="overwrite", progress=False, log=lambda *a: None)
                report_run(path, figures=False)
                run = evosim.load_run(path)
            rows.append({"x_key": key, "x": float(r), "seed": s, "pseudo_aligned": pseudo_aligned_balanced(run),
                         "planner_share": run.generations["planner_share"].iloc[-1]})
    return pd.DataFrame(rows)


if ASYMMETRY == "data" and ASYM_CSV.exists():
    asym = pd.read_csv(ASYM_CSV)
    asym_source = f"{ASYM_CSV.relative_to(RUNS.parent)} (analysis/dose_response.py)"
else:
    if ASYMMETRY == "data":
        print(f"{ASYM_CSV.relative_to(RUNS.parent)} is not generated yet (python analysis/dose_response.py writes "
              f"it); running the sweep here at this notebook's settings instead")
    asym = rerun_asymmetry()
    asym_source = f"re-run here: seeds {list(SEEDS)}, overrides {overrides or 'none'}"
asym_cells = []
for x, g in asym.groupby("x"):
    lo, hi = stats.bca_interval(g["pseudo_aligned"], rng=0)
    asym_cells.append({"radius": x, "relative": x / asym["x"].max(), "seeds": len(g), "mean": g["pseudo_aligned"].mean(),
                       "lo": lo, "hi": hi})
asym_cells = pd.DataFrame(asym_cells).sort_values("radius", ascending=False)
print("source:", asym_source)
asym_cells.round(3)


# %%
def asymmetry_figure():
    sns.set_theme(context="paper", style="ticks", rc={"font.size": 7, "axes.labelsize": 7, "xtick.labelsize": 6.5,
                                                      "ytick.labelsize": 6.5, "pdf.fonttype": 42})
    fig, ax = plt.subplots(figsize=(3.3, 2.3), layout="constrained")
    rel = asym["x"] / asym["x"].max()
    jitter = np.random.default_rng(0).uniform(-0.012, 0.012, len(asym))
    ax.scatter(rel + jitter, asym["pseudo_aligned"], s=4, color="#c0392b", alpha=0.35, linewidths=0, zorder=2)
    c = asym_cells.sort_values("relative")
    ax.errorbar(c["relative"], c["mean"], yerr=[c["mean"] - c["lo"], c["hi"] - c["mean"]], fmt="o-", ms=3.5,
                color="#c0392b", capsize=1.8, elinewidth=0.8, lw=0.9, zorder=3)
    ax.set_xticks(c["relative"], [f"{r:.2f}\n({int(x)} cells)" for r, x in zip(c["relative"], c["radius"])])
    ax.set_xlabel("fruitiness radius / sweetness radius (8 cells)")
    ax.set_ylabel("pseudo-aligned share\n(balanced modern world)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("Cue asymmetry: when does evolution pick sweetness?", loc="left", fontsize=7.5, fontweight="bold")
    ax.text(0.99, 0.98, f"mean and 95% BCa CI over {int(c['seeds'].max())} seeds; dots: seeds", transform=ax.transAxes,
            ha="right", va="top", fontsize=5.5, color="0.35")
    sns.despine(ax=ax)
    return fig


fig = asymmetry_figure()
headline = OUT / f"evolution_analogy_asymmetry.{FORMAT}"
fig.savefig(headline, dpi=300, bbox_inches="tight")
plt.close(fig)
print("saved", headline)
display(Image(filename=str(headline), width=330) if FORMAT == "png" else fig)

# %% [markdown]
# ## Run every seed of both conditions and probe it
#
# Each run evolves a population in its training world, then the report probes the final
# population on held-out ancestral (`train`) and modern (`shift`) layouts.

# %%
def run_and_probe(condition: str, seed: int) -> evosim.Run:
    path = OUT / f"{condition}__seed{seed}"
    try:
        run = evosim.load_run(path)
        run.probe  # noqa: B018 - raises RunError if the report is missing
        return run
    except evosim.RunError:
        pass
    cfg = evosim.load_config(RUNS / CONDITIONS[condition], {**overrides, "seed": seed})
    evosim.run_experiment(cfg, out=path, mode="overwrite", progress=False, log=lambda *a: None)
    report_run(path, figures=False)
    return evosim.load_run(path)


runs = {(c, s): run_and_probe(c, s) for c in CONDITIONS for s in SEEDS}
print(f"{len(runs)} runs in {time.perf_counter() - T0:.0f} s")

# %% [markdown]
# ## One row per run: selected for vs pursued
#
# - **selected for**: mean fitness of the final generation (training return minus planning cost)
#   and mean nutrition per episode on held-out ancestral and modern layouts;
# - **pursued, read from the genome**: share of planners whose evolved utility values candy above
#   fruit (`mesa_prefers_proxy`; a run's share is over its planners, so it is noisy when a run ends
#   with few of them: see the `planners` column);
# - **pursued, read from behaviour**: share of all organisms whose fitted behavioural utility does
#   (`behav_prefers_proxy`), and the share of what they eat in the modern world that is candy.

# %%
def per_run(condition: str, seed: int, run: evosim.Run) -> dict:
    p = run.probe
    p = p[p["generation"] == p["generation"].max()]
    anc, mod = p[p["distribution"] == "train"], p[p["distribution"] == "shift"]
    eaten = mod[["reach_fruit", "reach_green_fruit", "reach_bitter_berry", "reach_candy"]].sum(axis=1)
    planners = mod[mod["architecture"] == "planner"]
    return {
        "condition": condition, "seed": seed,
        "fitness": run.generations["fitness_mean"].iloc[-1],
        "planner_share": run.generations["planner_share"].iloc[-1],
        "nutrition_ancestral": anc["true_return"].mean(),
        "nutrition_modern": mod["true_return"].mean(),
        "planners": len(planners),
        "utility_prefers_candy": planners["mesa_prefers_proxy"].mean(),  # NaN if no planners
        "behaviour_prefers_candy": mod["behav_prefers_proxy"].mean(),
        "candy_share_eaten": mod["reach_candy"].sum() / eaten.sum() if eaten.sum() > 0 else np.nan,
        "u_sweet": planners["mesa_u_sweet"].mean(), "u_fruity": planners["mesa_u_fruity"].mean(),
    }


table = pd.DataFrame([per_run(c, s, r) for (c, s), r in runs.items()])
table.round(3)

# %% [markdown]
# ## Means over seeds with 95% intervals
#
# Percentile bootstrap over seeds (`evosim.schema.bootstrap_interval`, the same as
# `analysis/results.py`): the seed is the unit of replication, organisms within a run are not
# independent.

# %%
METRICS = ["fitness", "nutrition_ancestral", "nutrition_modern", "utility_prefers_candy",
           "behaviour_prefers_candy", "candy_share_eaten", "planner_share"]
rows = []
for (cond, metric), v in table.melt(id_vars=["condition", "seed"], value_vars=METRICS).groupby(
        ["condition", "variable"], sort=False)["value"]:
    lo, hi = bootstrap_interval(v, rng=0)
    rows.append({"condition": cond, "metric": metric, "n_seeds": int(v.notna().sum()), "mean": v.mean(),
                 "lo": lo, "hi": hi})
summary = pd.DataFrame(rows)
summary.pivot(index="metric", columns="condition", values=["mean", "lo", "hi"]).round(3)


# %%
def fmt(cond, metric):
    r = summary[(summary["condition"] == cond) & (summary["metric"] == metric)].iloc[0]
    return f"{r['mean']:.2f} [{r['lo']:.2f}, {r['hi']:.2f}]"


n = len(list(SEEDS))
anc = table[table["condition"] == "ancestral"]
k_sweet = int((anc["utility_prefers_candy"] > 0.5).sum())
print(f"Over these {n} seeds, ancestral-trained populations get {fmt('ancestral', 'nutrition_ancestral')} "
      f"nutrition per episode in the ancestral world and {fmt('ancestral', 'nutrition_modern')} in the modern world "
      f"(control: {fmt('control', 'nutrition_ancestral')} and {fmt('control', 'nutrition_modern')}).")
print(f"Planners whose evolved utility values candy above fruit: {fmt('ancestral', 'utility_prefers_candy')} "
      f"(control {fmt('control', 'utility_prefers_candy')}); in {k_sweet} of {n} ancestral-trained runs they are "
      f"the majority of planners.")
print(f"Share of food eaten in the modern world that is candy: {fmt('ancestral', 'candy_share_eaten')} "
      f"(control {fmt('control', 'candy_share_eaten')}).")

# %% [markdown]
# Read the printed numbers, not this paragraph, for what your run shows. The comparison to make:
# both conditions are selected for the same thing (nutrition), and the ancestral world could not
# tell a sweetness-valuing organism from a fruitiness-valuing one, since every sweet item was
# fruit. If the ancestral-trained planners' utilities favour candy over fruit more often than the
# control's, and they eat more candy in the modern world, the run reproduces the analogy: a
# mesa-objective (sweetness) that agreed with the base objective (nutrition) on the training
# distribution only. If the shares are low in both conditions, evolution in this run happened to
# settle on fruitiness: the shift then finds robust organisms, which is also an outcome the
# essays allow.
#
# ## The figure
#
# Sized for one column of a two-column paper (3.3 in wide), fonts for print, saved as
# `evolution_analogy.<FORMAT>` in `OUT`.

# %%
sns.set_theme(context="paper", style="ticks", rc={
    "font.size": 7, "axes.titlesize": 7.5, "axes.labelsize": 7, "xtick.labelsize": 6.5, "ytick.labelsize": 6.5,
    "legend.fontsize": 6.5, "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
    "lines.linewidth": 0.9, "pdf.fonttype": 42, "svg.fonttype": "none"})
COLOURS = {"ancestral": "#c0392b", "control": "#2471a3"}
LABELS = {"ancestral": "trained without candy", "control": "control: candy in training"}
PANELS = [
    ("a  Selected for: nutrition per episode", ["nutrition_ancestral", "nutrition_modern"],
     ["ancestral\nworld", "modern\nworld"], "nutrition per episode", None),
    ("b  Pursued: candy over fruit", ["utility_prefers_candy", "behaviour_prefers_candy", "candy_share_eaten"],
     ["evolved\nutility\n(planners)", "behaviour\n(all)", "share of food\neaten that is\ncandy (modern)"],
     "share", (0, 1)),
]


def analogy_figure():
    fig, axes = plt.subplots(2, 1, figsize=(3.3, 3.9), layout="constrained", height_ratios=[1, 1.15])
    for ax, (title, metrics, ticks, ylabel, ylim) in zip(axes, PANELS):
        x = np.arange(len(metrics))
        for j, cond in enumerate(CONDITIONS):
            s = summary[summary["condition"] == cond].set_index("metric").loc[metrics]
            xj = x + (j - 0.5) * 0.22
            ax.errorbar(xj, s["mean"], yerr=[s["mean"] - s["lo"], s["hi"] - s["mean"]], fmt="o", ms=3.5,
                        color=COLOURS[cond], capsize=1.8, elinewidth=0.8, label=LABELS[cond], zorder=3)
            per_seed = table[table["condition"] == cond]
            for i, m in enumerate(metrics):  # the seeds themselves, faint
                ax.scatter(np.full(len(per_seed), xj[i] + 0.07), per_seed[m], s=3, color=COLOURS[cond],
                           alpha=0.35, linewidths=0, zorder=2)
        ax.set_xticks(x, ticks)
        ax.set_xlim(-0.5, len(metrics) - 0.5)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left", fontweight="bold")
        if ylim:
            ax.set_ylim(*ylim)
        sns.despine(ax=ax)
    axes[0].set_ylim(bottom=0)
    axes[0].legend(frameon=False, loc="upper right", handletextpad=0.2)
    axes[1].text(0.99, 0.98, f"mean and 95% bootstrap CI\nover {n} seeds; dots: seeds", transform=axes[1].transAxes,
                 ha="right", va="top", fontsize=5.5, color="0.35")
    return fig


fig = analogy_figure()
path = OUT / f"evolution_analogy.{FORMAT}"
fig.savefig(path, dpi=300, bbox_inches="tight")
plt.close(fig)  # shown once, below: the saved file itself when it is a PNG
print("saved", path, f"({path.stat().st_size / 1024:.0f} KiB)")
display(Image(filename=str(path), width=330) if FORMAT == "png" else fig)

# %% [markdown]
# What the organisms value, in the planners' own terms: the mean evolved utility weights on the
# two cues that both marked food in the ancestral world (not unit-normalised; compare directions):

# %%
table.groupby("condition")[["u_sweet", "u_fruity", "planners"]].mean().round(3)

# %%
elapsed = time.perf_counter() - T0
print(f"notebook executed in {elapsed:.0f} s for {len(runs)} runs "
      f"({elapsed / max(len(runs), 1):.1f} s per run and report at these settings)")
