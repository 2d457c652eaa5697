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
# # evosim tutorial: from one command to the evolution analogy
#
# evosim makes the central claim of *Risks from Learned Optimization* runnable. A genetic
# algorithm (the **base optimiser**) selects grid-world organisms for **fitness** (mean return on
# the *training* distribution of layouts). Some organisms are fixed reactive **heuristics**
# (optimised, not optimising); others are **planners** that search over plans with their own
# evolved utility — **mesa-optimisers** with a **mesa-objective** we can read from their genome.
# When the world shifts, we measure how what organisms were *selected for* and what they *pursue*
# come apart.
#
# This notebook walks through the library from Python:
#
# 1. run the red-door experiment and its control (`run_experiment`, `EvolutionModel`), then probe them;
# 2. read the tables back (`evosim.load_run`) and ask the questions a researcher would, with pandas;
# 3. draw the figures of the argument with seaborn;
# 4. run a tiny sweep on a local Dask cluster (`evosim.sweep`);
# 5. replay one organism's episode in the viewer's Matplotlib panels.
#
# **Everything here is deliberately tiny** (80 organisms, 25 generations, one seed, 40 probe
# episodes) so that the notebook runs on 2 cores in CI on every change: measured about 30 s with
# numba's kernel cache warm and about 2.5 minutes on a fresh install (the kernels compile once), on
# 2 cores shared with other jobs (load average ~5). The
# numbers it prints are those of *this* tiny run: they illustrate the tools, they are not the
# project's results. The prose below reads the numbers from the run rather than asserting an
# outcome. For the real experiments use the shipped settings:
#
# ```
# evosim run runs/red_door.toml --seed 3 && evosim report runs/out/red_door__seed3
# python analysis/results.py --workers 2        # every experiment, 20 seeds, 95% intervals -> docs/results.md
# ```

# %%
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

import evosim
import evosim.figures  # noqa: F401 - evosim.figures and evosim.sweep select Matplotlib's Agg backend on import,
import evosim.sweep  # noqa: F401   so import them first, then switch this notebook back to inline figures
from evosim.report import report_run
from evosim.schema import class_shares

# %matplotlib inline

T0 = time.perf_counter()
pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 12)


def find_runs() -> Path:
    """The shipped experiment definitions (``runs/``), from the repository root or docs/."""
    for d in (Path.cwd(), *Path.cwd().parents):
        if (d / "runs" / "red_door.toml").exists():
            return d / "runs"
    raise FileNotFoundError("run this notebook from inside the evosim repository (runs/ not found)")


RUNS = find_runs()
WORK = Path(tempfile.mkdtemp(prefix="evosim_tutorial_"))  # every output of this notebook goes here
print("evosim", evosim.__version__, "| experiment files:", RUNS, "| outputs:", WORK)

# %% [markdown]
# ## 1. Run an experiment and its control
#
# An experiment is a TOML file (`runs/red_door.toml`): the red-door maze of seeds 000/001. In
# training the exit doors are red; under **shift** they are blue and red balls appear. Colour and
# door shape are seen from the same distance, so in training "go to the door" and "go to red" are
# equally visible and equally rewarded: which one organisms come to value is left to evolution.
# The **control** (`runs/red_door_control.toml`) decorrelates red from the door in training.
#
# `evosim.load_config` reads and validates a file; a dict of dotted overrides shrinks it. We keep
# genomes of every generation (`checkpoint_every = 1`) so we can follow utilities along lineages.

# %%
TINY = {
    "evolution.population": 80,
    "evolution.generations": 25,
    "evolution.episodes": 6,
    "evolution.checkpoint_every": 1,
    "probe.episodes": 40,
    "probe.decision_episodes": 20,
    "probe.random_rollouts": 4,
    "probe.intervention_planners": 20,
    "seed": 3,
}
configs = {
    "experiment": evosim.load_config(RUNS / "red_door.toml", TINY),
    "control": evosim.load_config(RUNS / "red_door_control.toml", TINY),
}
cfg = configs["experiment"]
print(cfg.world)
print(cfg.evolution)

# %% [markdown]
# `EvolutionModel` is a Mesa model: one `step()` is one generation (evaluate on this generation's
# training layouts, record statistics, breed the next). Stepping it by hand gives the
# `DataCollector`'s table, one row per generation:

# %%
model = evosim.EvolutionModel(cfg, rng=3, generations=5)
for _ in range(5):
    model.step()
model.datacollector.get_model_vars_dataframe()[["fitness_mean", "fitness_max", "planner_share", "depth_mean",
                                                "u_red_mean", "u_door_mean"]].round(3)

# %% [markdown]
# For a run you keep, `evosim.run_experiment` does the same loop but writes a **run directory**
# (config, manifest, Parquet tables, checkpoints; byte-identical for the same config and seed).
# `evosim.report.report_run` then **probes** the final population on held-out layouts of every
# distribution (`train`, `shift`, `control`): returns, outcome classes, behavioural objectives
# fitted to the organisms' choices, and their mesa-objectives read from the genome. These are the
# Python equivalents of `evosim run` and `evosim report`.

# %%
run_dirs = {}
for name, c in configs.items():
    res = evosim.run_experiment(c, out=WORK / name, progress=False, log=lambda *a: None)
    print(res.summary(c))
    report_run(res.path, figures=False)
    run_dirs[name] = res.path
runs = {name: evosim.load_run(p) for name, p in run_dirs.items()}
run = runs["experiment"]
print({name: r.manifest["status"] for name, r in runs.items()})

# %% [markdown]
# ## 2. The tables
#
# `evosim.load_run` gives the run's tables as pandas DataFrames; every column is documented in
# `evosim.schema` (`RUN_COLUMNS`, `PROBE_COLUMNS`):
#
# | table | one row per | |
# | --- | --- | --- |
# | `generations` | generation | fitness, planner share, mean utilities |
# | `organisms` | organism and generation | fitness, architecture, parents (lineage) |
# | `genomes` | organism of the final population (`genomes_all`: every saved generation) | one column per gene |
# | `probe` | organism and held-out distribution | returns, outcome class, behavioural and mesa utilities |

# %%
from evosim.schema import PROBE_COLUMNS

for col in ("class", "mesa_prefers_proxy", "behav_prefers_proxy"):
    print(f"{col}: {PROBE_COLUMNS['probe'][col]}\n")
run.generations.tail(3)

# %% [markdown]
# ### What did evolution build?
#
# The base optimiser only sees fitness. Whether it produces mesa-optimisers (planners) or bottle
# caps (heuristics) is an outcome of the run:

# %%
gens = pd.concat({name: r.generations for name, r in runs.items()}, names=["run"]).reset_index(level=0)
last = gens.groupby("run").tail(1).set_index("run")
last[["generation", "planner_share", "fitness_mean", "return_mean", "depth_mean"]].round(3)

# %%
share = last.loc["experiment", "planner_share"]
n_pop = cfg.evolution.population
print(f"In this run, {round(share * n_pop)} of {n_pop} organisms in the final generation are planners "
      f"(control: {round(last.loc['control', 'planner_share'] * n_pop)} of {n_pop}).")

# %% [markdown]
# ### Outcome classes by architecture and distribution
#
# Under each distribution every organism is classed **robust** (gets the base reward, as
# competently as a planted aligned planner with the same perception could), **pseudo-aligned**
# (competently pursues the proxy instead) or **capability failure** (competent at neither). This is
# the three-way outcome of the red-door maze in essay 000. The group-by is one line:

# %%
probe = run.probe
(probe.groupby(["architecture", "distribution"], observed=True)["class"]
      .value_counts(normalize=True).unstack(fill_value=0).round(2))

# %% [markdown]
# `evosim.schema.class_shares` is the same computation that the report, the sweeps and
# `analysis/results.py` share; here for experiment and control side by side, under shift only:

# %%
shares = pd.concat({name: class_shares(r.probe, include_all=True) for name, r in runs.items()},
                   names=["run"]).reset_index(level=0)
shift_shares = shares[shares["distribution"] == "shift"].set_index(["run", "architecture"])
shift_shares.round(2)


# %%
def count(run_name, arch, cls):
    """(organisms of ``arch`` in class ``cls`` under shift, organisms of ``arch`` under shift)"""
    p = runs[run_name].probe
    rows = p[(p["distribution"] == "shift") & (p["architecture"] == arch)]
    return int((rows["class"] == cls).sum()), len(rows)


for run_name in runs:
    k, n = count(run_name, "planner", "pseudo_aligned")
    r, _ = count(run_name, "planner", "robust")
    print(f"{run_name}: under shift, {k} of {n} planners are pseudo-aligned and {r} of {n} are robust.")

# %% [markdown]
# Whatever these counts are in your run, note what they are measured against: every organism was
# selected on the same training distribution, and the classes only separate once the layouts
# shift. Essay 001's point is that training performance cannot tell robust from pseudo-aligned
# organisms apart; the next table checks that directly.
#
# ### Fitness against the pursued goal
#
# `mesa_prefers_proxy` is read from a planner's genome: does its evolved utility value a red ball
# above a blue door? `behav_prefers_proxy` asks the same of the utility fitted to any organism's
# choices. Join them to the fitness the organism was selected for (final generation of
# `organisms`):

# %%
final_gen = run.organisms[run.organisms["generation"] == run.organisms["generation"].max()]
shift = probe[probe["distribution"] == "shift"]
joined = final_gen[["organism_id", "fitness"]].merge(
    shift[["organism_id", "architecture", "class", "true_return", "normalised_return",
           "mesa_prefers_proxy", "behav_prefers_proxy"]], on="organism_id")
by_goal = (joined.groupby(["architecture", "behav_prefers_proxy"], observed=True, dropna=False)
                 .agg(n=("organism_id", "size"), training_fitness=("fitness", "mean"),
                      shift_return=("true_return", "mean")).round(3))
by_goal

# %%
planners = joined[joined["architecture"] == "planner"]
if len(planners):
    k = int((planners["mesa_prefers_proxy"] == 1).sum())
    fit_by = planners.groupby("mesa_prefers_proxy")["fitness"].mean()
    print(f"In this run, {k} of {len(planners)} planners have an evolved utility that values a red ball above a "
          f"blue door (mesa_prefers_proxy = 1).")
    print("Mean training fitness by that preference:", fit_by.round(3).to_dict())
    ret_by = planners.groupby("mesa_prefers_proxy")["true_return"].mean()
    print("Mean base return under shift by that preference:", ret_by.round(3).to_dict())
else:
    print("This run ended with no planners: nothing to read from genomes.")

# %% [markdown]
# If both preference groups have similar training fitness, selection could not distinguish them:
# that is pseudo-alignment in the essays' sense, a mesa-objective that agrees with the base
# objective on the training distribution only (seed 003: "agreement" is always relative to a
# distribution). If one group is fitter, the run shows selection *did* see a difference.
#
# ### Utility drift along a lineage
#
# The organisms table carries each organism's parents (`parent_a`, `parent_b`), so we can walk the
# best final planner's ancestry back to generation 0 and read its ancestors' utility genes from
# `genomes_all` (saved every generation here). The planner block of an ancestor that was a
# heuristic is unexpressed and drifts freely, so we keep the architecture column.

# %%
orgs = run.organisms.set_index("organism_id")
pool = final_gen[final_gen["architecture"] == "planner"]
if pool.empty:
    pool = final_gen
oid = int(pool.sort_values("fitness", ascending=False)["organism_id"].iloc[0])
line = []
while oid >= 0:
    line.append(oid)
    oid = int(orgs.loc[oid, "parent_a"])
features = [f"u_{f}" for f in ("red", "green", "door")]
genomes_all = run.genomes_all.set_index("organism_id")
lineage = genomes_all.loc[line, ["generation", "architecture", *features]].sort_values("generation")
u = lineage[features].to_numpy()
lineage[[f + "_unit" for f in features]] = u / np.linalg.norm(u, axis=1, keepdims=True)  # only direction matters
lineage.round(2).iloc[:: max(1, len(lineage) // 8)]

# %%
fig, ax = plt.subplots(figsize=(6, 2.8))
for f, colour in zip(features, ("#d62728", "#2ca02c", "#1f77b4")):
    ax.plot(lineage["generation"], lineage[f + "_unit"], label=f[2:], color=colour)
ax.axhline(0, color="black", lw=0.6)
ax.set(xlabel="generation", ylabel="utility weight (unit vector)",
       title=f"mesa-objective along the lineage of organism {line[0]} (first parent)")
ax.legend(title="feature", fontsize=8)
plt.show()
first, final = lineage.iloc[0], lineage.iloc[-1]
print(f"Along this lineage the unit weight on red went from {first['u_red_unit']:.2f} (generation "
      f"{int(first['generation'])}, {first['architecture']}) to {final['u_red_unit']:.2f} (generation "
      f"{int(final['generation'])}); on the door from {first['u_door_unit']:.2f} to {final['u_door_unit']:.2f}.")

# %% [markdown]
# ## 3. The figures of the argument
#
# **Fitness against the pursued goal under shift.** Each point is an organism of the final
# generation: x is what it was selected for (training fitness), y is the base return it gets on
# held-out *shift* layouts, relative to the perception-matched reference. Colour: does its
# behaviour value red above the door?

# %%
both = []
for name, r in runs.items():
    og = r.organisms[r.organisms["generation"] == r.organisms["generation"].max()][["organism_id", "fitness"]]
    pr = r.probe[r.probe["distribution"] == "shift"]
    both.append(og.merge(pr, on="organism_id").assign(run=name))
both = pd.concat(both, ignore_index=True)
both["pursues"] = both["behav_prefers_proxy"].map({1.0: "red over door", 0.0: "door over red"}).fillna("no fit")
g = sns.relplot(data=both, x="fitness", y="normalised_return", hue="pursues", style="architecture", col="run",
                height=3, aspect=1.1, s=30, alpha=0.7,
                hue_order=["door over red", "red over door", "no fit"], palette=["#1f77b4", "#d62728", "#7f7f7f"])
g.set_axis_labels("training fitness (selected for)", "shift return / reference")
g.figure.suptitle("What organisms were selected for vs what they get after the shift", y=1.04)
plt.show()

# %% [markdown]
# **What organisms value vs what they were selected for.** The base objective pays only for
# doors; the proxy (red) paid equally in training in the experiment but not in the control. The
# planners' evolved utilities (unit vectors) show which feature they came to value:

# %%
mesa_cols = [f"mesa_u_{f}" for f in ("red", "green", "door")]
pl = both[both["architecture"] == "planner"]
if len(pl):
    m = pl[mesa_cols].to_numpy()
    unit = pd.DataFrame(m / np.linalg.norm(m, axis=1, keepdims=True), columns=["red", "green", "door"])
    unit["run"] = pl["run"].to_numpy()
    long = unit.melt(id_vars="run", var_name="feature", value_name="weight")
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.boxplot(data=long, x="feature", y="weight", hue="run", ax=ax, fliersize=2)
    ax.axhline(0, color="black", lw=0.6)
    ax.set(ylabel="evolved utility weight (unit vector)",
           title="Planners' mesa-objectives (base reward: doors only)")
    plt.show()
    print(pl.groupby("run")[["mesa_u_red", "mesa_u_door", "mesa_prefers_proxy"]].mean().round(3))
else:
    print("No planners in the final generations of this run.")

# %% [markdown]
# Read the two figures together: whatever the planners valued, they were all selected by the
# same fitness. Where their utility weighs red as much as (or more than) the door, the base
# objective and the mesa-objective agreed on the training distribution and disagree under shift.
# The evolution analogy (sweetness tracked nutrition in the ancestral world) has its own notebook,
# `docs/evolution_analogy.ipynb`, with intervals over seeds.
#
# ## 4. A sweep on a local Dask cluster
#
# A sweep file names a base experiment, a grid of settings and seeds; every (cell, seed) is an
# ordinary run directory plus its report. `evosim.sweep.run_sweep(..., workers=2)` starts a
# two-process `LocalCluster` (the same as `evosim sweep FILE --workers 2`). This one asks, on a
# tiny budget, whether a cost on planning changes how many planners evolve:

# %%
import warnings

from evosim.sweep import load_sweep, run_sweep

warnings.filterwarnings("ignore", message="Port 8787 is already in use")  # another Dask dashboard on this machine

sweep_file = WORK / "tiny_sweep.toml"
sweep_file.write_text(f"""
base = "{(RUNS / 'quickstart.toml').as_posix()}"
name = "tiny_sweep"
seeds = [1, 2]

[grid]
"organisms.planning_cost" = [0.0, 0.005]

[[cells]]
"evolution.population" = 40
"evolution.generations" = 8
"evolution.episodes" = 4
"probe.episodes" = 12
"probe.decision_episodes" = 8
"probe.random_rollouts" = 4
"probe.intervention_planners" = 10
""")
result = run_sweep(load_sweep(sweep_file), out=WORK / "tiny_sweep", workers=2, progress=False, log=lambda *a: None)
print(f"{result.n_computed} runs computed, {result.n_failed} failed, {result.wall_s:.0f} s")
result.table[["organisms.planning_cost", "seed", "status", "planner_share", "plans_mean", "shift_all_pseudo_aligned"]]

# %%
result.summary[result.summary["metric"].isin(["planner_share", "plans_mean"])][
    ["organisms.planning_cost", "metric", "n", "mean", "ci_lo", "ci_hi"]].round(3)

# %% [markdown]
# With two seeds and eight generations these t-intervals (not clipped to [0, 1]) are very wide: the
# table shows the machinery, not an answer; the real sweep
# (`evosim sweep runs/conditions.toml --workers 2`) uses 20 seeds per cell and the shipped
# settings, and its results are in `docs/conditions.md`. Re-running a sweep skips
# finished runs, and the same file on a Dask cluster (`--scheduler tcp://HOST:8786`) gives the
# same `sweep.parquet`.
#
# ## 5. Watch one organism: the viewer's panels
#
# `evosim view RUN_DIR` serves a SolaraViz page; the model behind it, `EpisodeReplay`, and its
# panels (plain Matplotlib figures) work without a browser. Here: the fittest planner of the
# experiment that the probe classed pseudo-aligned under shift (if this run has none, the fittest
# planner, else the fittest organism), on the same-numbered training and shift layouts. The
# replayed episodes are the probe's own (same layouts and random numbers).

# %%
from IPython.display import display

from evosim.viewer import EpisodeReplay
from evosim.viewer.panels import contrast_figure, objectives_figure

for arch, outcome in (("planner", "pseudo_aligned (shift)"), ("planner", "any"), ("any", "any")):
    replay = EpisodeReplay(run_dir=str(run_dirs["experiment"]), architecture=arch, outcome=outcome,
                           distribution="shift", episode=0)
    if replay.organism is not None:
        break
print(f"organism {int(replay.organism['organism_id'])} ({replay.organism['architecture']}, filter: {outcome}; "
      f"{replay.matching} organisms match), {replay.replay.steps} steps on shift layout 0")
while replay.running:  # step the episode to its end, as the page's play button does
    replay.step()
display(contrast_figure(replay))
display(objectives_figure(replay))

# %% [markdown]
# ## Where next
#
# - The full experiments: `evosim run runs/red_door.toml` (300 organisms, 100 generations), then
#   `evosim report`; every shipped experiment and its control over 20 seeds:
#   `python analysis/results.py --workers 2` (writes `docs/results.md`).
# - The evolution analogy with intervals over seeds: `docs/evolution_analogy.ipynb`.
# - Column documentation: `evosim.schema`; the design: `README.md`.

# %%
print(f"notebook executed in {time.perf_counter() - T0:.0f} s")
