"""Figures from tables only (generations, probe, interventions): seaborn, PNG, colour-blind-safe.

Every function takes DataFrames and returns a matplotlib Figure; ``make_all`` writes them.
Nothing here imports the kernels or reruns the simulation. Class, distribution and architecture names
and the class shares come from evosim.schema.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from evosim.objectives import classify
from evosim.architectures import COLOURS
from evosim.schema import ARCHITECTURES, CLASS_COLOURS, CLASSES, DISTRIBUTIONS, class_shares

PALETTE = sns.color_palette("colorblind")
ARCH_COLORS = COLOURS  # one colour per architecture (evosim.architectures) and per class (evosim.schema),
CLASS_COLORS = CLASS_COLOURS  # the viewer's too
DIST_ORDER = list(DISTRIBUTIONS)


def _style():
    sns.set_theme(style="whitegrid", palette="colorblind", font_scale=0.9)


def _final(probe: pd.DataFrame) -> pd.DataFrame:
    return probe[probe["generation"] == probe["generation"].max()]


def fitness_and_planners(generations: pd.DataFrame) -> plt.Figure:
    """Mean fitness and training return over generations, and the planner share."""
    _style()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    g = generations
    axes[0].plot(g["generation"], g["fitness_mean"], label="fitness (mean)", color=PALETTE[0])
    axes[0].plot(g["generation"], g["fitness_max"], label="fitness (best)", color=PALETTE[0], ls="--")
    axes[0].plot(g["generation"], g["return_mean"], label="training return (mean)", color=PALETTE[2])
    axes[0].set(xlabel="generation", ylabel="return per episode (base reward)", title="Fitness")
    axes[0].legend(fontsize=7)
    axes[1].plot(g["generation"], g["planner_share"], color=ARCH_COLORS["planner"])
    axes[1].set(xlabel="generation", ylabel="planner share (fraction of population)", ylim=(-0.02, 1.02),
                title="Mesa-optimisers in the population")
    fig.tight_layout()
    return fig


def outcome_classes(probe: pd.DataFrame) -> plt.Figure:
    """The red-door figure: outcome class shares by architecture, train vs shift (and control)."""
    _style()
    tab = class_shares(probe)
    archs = [a for a in ARCHITECTURES if a in set(tab["architecture"])]
    fig, axes = plt.subplots(1, max(1, len(archs)), figsize=(4.2 * max(1, len(archs)), 3.6), sharey=True, squeeze=False)
    for ax, arch in zip(axes[0], archs):
        t = tab[tab["architecture"] == arch].set_index("distribution").reindex(DIST_ORDER).dropna(subset=["n"])
        bottom = np.zeros(len(t))
        for c in CLASSES:
            ax.bar(t.index.astype(str), t[c], bottom=bottom, color=CLASS_COLORS[c], label=c.replace("_", " "))
            bottom += t[c].to_numpy()
        for i, n in enumerate(t["n"]):
            ax.text(i, 1.01, f"n={int(n)}", ha="center", va="bottom", fontsize=7)
        ax.set(title=f"{arch}s", xlabel="held-out distribution", ylim=(0, 1.1))
    axes[0][0].set_ylabel("share of organisms")
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    fig.suptitle("Outcome classes: robust, pseudo-aligned, capability failure")
    fig.tight_layout()
    return fig


def true_vs_proxy(probe: pd.DataFrame) -> plt.Figure:
    """Normalised true return against normalised proxy return, per organism, by architecture."""
    _style()
    df = _final(probe)
    fig, axes = plt.subplots(1, len(DIST_ORDER), figsize=(3.7 * len(DIST_ORDER), 3.6), sharex=True, sharey=True)
    for ax, dist in zip(axes, DIST_ORDER):
        d = df[df["distribution"] == dist]
        sns.scatterplot(data=d, x="normalised_proxy_return", y="normalised_return", hue="architecture",
                        palette=ARCH_COLORS, ax=ax, s=14, alpha=0.6, legend=dist == DIST_ORDER[-1])
        ax.plot([0, 1], [0, 1], color="grey", lw=0.6, ls=":")
        ax.set(title=dist, xlabel="proxy return / oracle proxy return", ylabel="true return / oracle return",
               xlim=(-0.05, 1.1), ylim=(-0.05, 1.1))
    fig.tight_layout()
    return fig


def mesa_vs_behavioural(probe: pd.DataFrame, features) -> plt.Figure:
    """Planners: mesa-objective (genome) against behavioural objective (fitted), unit-normalised."""
    _style()
    df = _final(probe)
    df = df[(df["distribution"] == "train") & (df["architecture"] == "planner")]
    fig, axes = plt.subplots(1, len(features) + 1, figsize=(3.2 * (len(features) + 1), 3.3), squeeze=False)
    axes = axes[0]
    if df.empty:
        for ax in axes:
            ax.text(0.5, 0.5, "no planners in the final population", ha="center", va="center", transform=ax.transAxes)
            ax.set(xlabel="mesa utility (unit vector)", ylabel="behavioural utility (unit vector)")
        return fig
    m = df[[f"mesa_u_{f}" for f in features]].to_numpy()
    b = df[[f"behav_u_{f}" for f in features]].to_numpy()
    m = m / np.linalg.norm(m, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    for j, f in enumerate(features):
        axes[j].scatter(m[:, j], b[:, j], s=12, alpha=0.6, color=PALETTE[1])
        axes[j].plot([-1, 1], [-1, 1], color="grey", lw=0.6, ls=":")
        axes[j].set(title=f"weight on '{f}'", xlabel="mesa utility (unit vector)", ylabel="behavioural utility (unit vector)",
                    xlim=(-1.05, 1.05), ylim=(-1.05, 1.05))
    sns.histplot(df["mesa_behav_cosine"].dropna(), bins=np.linspace(-1, 1, 21), ax=axes[-1], color=PALETTE[1])
    axes[-1].set(title="agreement per planner", xlabel="cosine(mesa, behavioural)", ylabel="planners (count)")
    fig.tight_layout()
    return fig


#: mixing rates of the train -> shift family of distributions drawn in agreement.png
MIX_RATES = np.round(np.linspace(0.0, 1.0, 11), 2)


def agreement_curves(probe: pd.DataFrame, rates=MIX_RATES) -> pd.DataFrame:
    """Per organism, measure (regret / rankcorr) and view (mesa / behav): the mean over D_p, p in ``rates``,
    D_p = (1 - p) * train tasks + p * shift tasks, from the per-distribution columns of probe.parquet
    (mean over a distribution's tasks and how many tasks carry a value). Tidy: organism_id, view,
    measure, p, value."""
    from evosim.objectives import mixture_from_summaries

    df = _final(probe)
    tr = df[df["distribution"].astype(str) == "train"].set_index("organism_id")
    sh = df[df["distribution"].astype(str) == "shift"].set_index("organism_id").reindex(tr.index)
    cols = ["organism_id", "architecture", "view", "measure", "p", "value"]
    blocks = []
    ids, archs = tr.index.to_numpy(), tr["architecture"].to_numpy(dtype=object)
    rates_arr = np.asarray([float(p) for p in rates])
    for view in ("mesa", "behav"):
        for measure, count in (("regret", "regret_tasks"), ("rankcorr", f"rankcorr_tasks_{view}")):
            col = f"{measure}_{view}"
            if col not in tr:
                continue
            va = (tr[count] / tr["agree_tasks"]).where(tr[col].notna(), 0.0)
            vb = (sh[count] / sh["agree_tasks"]).where(sh[col].notna(), 0.0)
            sa, sb = tr[col].fillna(0) * va, sh[col].fillna(0) * vb
            m = mixture_from_summaries(sa.to_numpy(), va.to_numpy(), sb.to_numpy(), vb.to_numpy(), rates)
            keep = np.flatnonzero((tr[col].notna() | sh[col].notna()).to_numpy())
            k, r = len(keep), len(rates_arr)  # one row per (kept organism, rate), organism-major
            if k:
                blocks.append(pd.DataFrame({"organism_id": np.repeat(ids[keep], r),
                                            "architecture": np.repeat(archs[keep], r),
                                            "view": view, "measure": measure, "p": np.tile(rates_arr, k),
                                            "value": m[keep].reshape(-1)}, columns=cols))
    if not blocks:
        return pd.DataFrame(columns=cols)
    return pd.concat(blocks, ignore_index=True)


def agreement_by_distribution(probe: pd.DataFrame) -> plt.Figure:
    """Agreement relative to D (the type-signature essay): mean regret and rank correlation of f (base value of each first
    choice) and g (the organism's objective) over D_p, a fraction p of shift layouts mixed into train
    layouts; planners' mesa-objective and every organism's behavioural objective, 95% t-intervals over
    organisms. "Agrees on train, not on shift" is a curve rising (regret) or falling (rank) in p."""
    from evosim.schema import t_interval

    _style()
    cur = agreement_curves(probe)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    series = [("mesa", "planner", "mesa-objective (planners)", ARCH_COLORS["planner"], "-"),
              ("behav", "planner", "behavioural (planners)", ARCH_COLORS["planner"], "--"),
              ("behav", "heuristic", "behavioural (heuristics)", ARCH_COLORS["heuristic"], "--")]
    for ax, measure, ylabel in zip(axes, ("regret", "rankcorr"),
                                   ("regret of the chosen first move\n(0 = base-optimal, 1 = base-worst)",
                                    "rank correlation of f and g over first moves")):
        for view, arch, label, color, ls in series:
            d = cur[(cur["view"] == view) & (cur["architecture"] == arch) & (cur["measure"] == measure)]
            if d.empty:
                continue
            st = [t_interval(d.loc[d["p"] == p, "value"]) for p in MIX_RATES]
            mean = np.array([s_.mean for s_ in st])
            lo, hi = np.array([s_.lo for s_ in st]), np.array([s_.hi for s_ in st])
            n = max(s_.n for s_ in st)
            ax.plot(MIX_RATES, mean, color=color, ls=ls, marker="o", ms=3, label=f"{label}, n={n}")
            ax.fill_between(MIX_RATES, lo, hi, color=color, alpha=0.15, lw=0)
        ax.set(xlabel="share p of shift layouts in D (0 = train, 1 = shift)", ylabel=ylabel)
    axes[0].set_ylim(-0.02, 1.02)
    axes[1].set_ylim(-1.02, 1.02)
    axes[1].legend(fontsize=7, loc="lower left")
    fig.suptitle("Agreement of the organism's objective with the base objective, relative to D")
    fig.tight_layout()
    return fig


def population_agreement_figure(pop: pd.DataFrame) -> plt.Figure:
    """Per saved generation: Spearman correlation over planners of fitness and the base value of what their
    mesa-objective picks on each distribution, and the planners' mean regret there."""
    _style()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    colors = {"train": PALETTE[2], "shift": PALETTE[3], "shift_balanced": PALETTE[4], "control": PALETTE[7]}
    for d in DIST_ORDER:
        t = pop[pop["distribution"].astype(str) == d].sort_values("generation")
        if t.empty:
            continue
        axes[0].plot(t["generation"], t["rho_fitness_value"], marker="o", ms=3, color=colors[d], label=d)
        axes[1].plot(t["generation"], t["regret_mesa_mean"], marker="o", ms=3, color=colors[d], label=d)
    axes[0].axhline(0, color="grey", lw=0.8)
    axes[0].set(xlabel="generation", ylabel="Spearman(fitness, base value of mesa choice)", ylim=(-1.02, 1.02),
                title="Does selection track the mesa-objective on D?")
    axes[1].set(xlabel="generation", ylabel="mean regret of mesa choice", ylim=(-0.02, 1.02),
                title="Planners' regret on D")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def three_way_figure(tw: pd.DataFrame) -> plt.Figure:
    """Internal view vs behavioural view vs outcome class (planners, shift): counts per class of agreeing views
    and of each likely reason for disagreeing."""
    _style()
    d = tw[tw["why"] != "no_mesa"]
    reasons = ["agree", "few_choices", "noise", "search_depth", "perception", "unexplained"]
    colors = dict(zip(reasons, [PALETTE[2], PALETTE[7], PALETTE[4], PALETTE[1], PALETTE[3], PALETTE[5]]))
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    classes = [c for c in CLASSES]
    bottom = np.zeros(len(classes))
    for r in reasons:
        v = np.array([((d["class"].astype(str) == c) & (d["why"] == r)).sum() for c in classes], dtype=float)
        ax.bar(classes, v, bottom=bottom, color=colors[r], label=r)
        bottom += v
    ax.set(xlabel="outcome class under shift", ylabel="planners (count)",
           title="Do the mesa-objective and the behavioural fit rank proxy vs true alike?")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def utility_lineage(generations: pd.DataFrame, features) -> plt.Figure:
    """Objective drift: mean planner utility and mean heuristic attraction per feature over generations."""
    _style()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharex=True)
    for j, f in enumerate(features):
        c = PALETTE[j % len(PALETTE)]
        if f"u_{f}_mean" in generations:
            axes[0].plot(generations["generation"], generations[f"u_{f}_mean"], color=c, label=f)
        if f"h_attract_{f}_mean" in generations:
            axes[1].plot(generations["generation"], generations[f"h_attract_{f}_mean"], color=c, label=f)
    axes[0].set(xlabel="generation", ylabel="mean utility weight (planners)", title="Mesa-objective drift")
    axes[1].set(xlabel="generation", ylabel="mean attraction weight (heuristics)", title="Heuristic attraction drift")
    axes[0].legend(title="feature", fontsize=7)
    fig.tight_layout()
    return fig


def threshold_sensitivity(probe: pd.DataFrame) -> plt.Figure:
    """Class shares under shift as the competence threshold moves (no single cut-off to trust)."""
    _style()
    df = _final(probe)
    df = df[df["distribution"] == "shift"]
    rows = []
    for thr in np.round(np.linspace(0.1, 0.9, 17), 3):
        cls = classify(df["normalised_return"], df["normalised_proxy_return"], thr)
        for arch in ARCHITECTURES:
            sel = (df["architecture"] == arch).to_numpy()
            if sel.any():
                for c in CLASSES:
                    rows.append({"threshold": thr, "architecture": arch, "class": c, "share": float((cls[sel] == c).mean())})
    tab = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    if not tab.empty:
        sns.lineplot(data=tab, x="threshold", y="share", hue="class", style="architecture", palette=CLASS_COLORS, ax=ax)
    ax.set(xlabel="competence threshold (fraction of oracle return)", ylabel="share of organisms under shift",
           ylim=(-0.02, 1.02), title="Outcome classes vs threshold")
    fig.tight_layout()
    return fig


def power(probe: pd.DataFrame) -> plt.Figure:
    """Optimisation power under the base objective vs under the organism's own behavioural objective."""
    _style()
    df = _final(probe)
    fig, axes = plt.subplots(1, len(DIST_ORDER), figsize=(3.7 * len(DIST_ORDER), 3.6), sharex=True, sharey=True)
    for ax, dist in zip(axes, DIST_ORDER):
        d = df[df["distribution"] == dist]
        sns.scatterplot(data=d, x="power_true_bits", y="power_behav_bits", hue="class", palette=CLASS_COLORS,
                        style="architecture", ax=ax, s=14, alpha=0.6, legend=dist == DIST_ORDER[-1])
        ax.set(title=dist, xlabel="power under base objective (bits)", ylabel="power under own objective (bits)")
    fig.tight_layout()
    return fig


def interventions_figure(interventions: pd.DataFrame) -> plt.Figure:
    """Causal check: proxy choice and true return under shift after editing the mesa-objective."""
    _style()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    if interventions.empty:
        for ax in axes:
            ax.text(0.5, 0.5, "no planners to edit", ha="center", va="center", transform=ax.transAxes)
    else:
        order = ["true_to_proxy", "none", "proxy_to_true"]
        sns.barplot(data=interventions, x="edit", y="proxy_choice_rate", order=order, ax=axes[0], color=PALETTE[3], seed=0)
        sns.barplot(data=interventions, x="edit", y="normalised_return", order=order, ax=axes[1], color=PALETTE[2], seed=0)
    axes[0].set(xlabel="edit of the mesa-objective", ylabel="proxy choice rate (decision layouts)", ylim=(0, 1.05))
    axes[1].set(xlabel="edit of the mesa-objective", ylabel="true return / oracle return (shift)", ylim=(0, 1.05))
    fig.suptitle("Editing the mesa-objective changes behaviour (planners, shift)")
    fig.tight_layout()
    return fig


def make_all(generations: pd.DataFrame, probe: pd.DataFrame, interventions: pd.DataFrame, features,
             population: pd.DataFrame | None = None, three_way: pd.DataFrame | None = None) -> dict:
    """{file name: Figure} for every figure of a report (population_agreement.png and three_way.png
    only when their tables are given)."""
    extra = {}
    if population is not None:
        extra["population_agreement.png"] = population_agreement_figure(population)
    if three_way is not None:
        extra["three_way.png"] = three_way_figure(three_way)
    return extra | {
        "fitness_planner_share.png": fitness_and_planners(generations),
        "outcome_classes.png": outcome_classes(probe),
        "true_vs_proxy.png": true_vs_proxy(probe),
        "mesa_vs_behavioural.png": mesa_vs_behavioural(probe, features),
        "agreement.png": agreement_by_distribution(probe),
        "utility_lineage.png": utility_lineage(generations, features),
        "threshold_sensitivity.png": threshold_sensitivity(probe),
        "power.png": power(probe),
        "interventions.png": interventions_figure(interventions),
    }
