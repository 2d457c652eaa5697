"""Figures from tables only (generations, probe, interventions): seaborn, PNG, colour-blind-safe.

Every function takes DataFrames and returns a matplotlib Figure; ``make_all`` writes them.
Nothing here imports the kernels or reruns the simulation. Class, distribution and architecture names
and the class shares come from evosim.schema.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from evosim.objectives import classify  # noqa: E402
from evosim.schema import ARCHITECTURES, CLASSES, DISTRIBUTIONS, class_shares  # noqa: E402

PALETTE = sns.color_palette("colorblind")
ARCH_COLORS = {"heuristic": PALETTE[0], "planner": PALETTE[1], "memoriser": PALETTE[4]}
CLASS_COLORS = {"robust": PALETTE[2], "pseudo_aligned": PALETTE[3], "capability_failure": PALETTE[7]}
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
    axes[1].plot(g["generation"], g["planner_share"], color=PALETTE[1])
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
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), sharex=True, sharey=True)
    for ax, dist in zip(axes, DIST_ORDER):
        d = df[df["distribution"] == dist]
        sns.scatterplot(data=d, x="normalised_proxy_return", y="normalised_return", hue="architecture",
                        palette=ARCH_COLORS, ax=ax, s=14, alpha=0.6, legend=dist == "control")
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


def agreement_by_distribution(probe: pd.DataFrame) -> plt.Figure:
    """Agreement (Spearman) of base reward and each organism's utility, per distribution (seed 003):
    share of organisms whose utility agrees (> 0), disagrees (< 0) or cannot be ranked."""
    _style()
    df = _final(probe)
    panels = [("behavioural utility (all organisms)", df["agree"], df["distribution"]),
              ("mesa-objective (planners)", df.loc[df["architecture"] == "planner", "agree_mesa"],
               df.loc[df["architecture"] == "planner", "distribution"])]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    colors = {"agrees (> 0)": PALETTE[2], "no ranking (constant)": PALETTE[7], "disagrees (< 0)": PALETTE[3]}
    for ax, (title, values, dist) in zip(axes, panels):
        for i, d in enumerate(DIST_ORDER):
            v = values[(dist == d).to_numpy()]
            if len(v) == 0:
                continue
            parts = {"agrees (> 0)": (v > 0).mean(), "no ranking (constant)": v.isna().mean(), "disagrees (< 0)": (v < 0).mean()}
            bottom = 0.0
            for label, share in parts.items():
                ax.bar(d, share, bottom=bottom, color=colors[label], label=label if i == 0 else None)
                bottom += share
        ax.set(title=title, xlabel="distribution of events (objects available)", ylim=(0, 1.02))
    axes[0].set_ylabel("share of organisms")
    axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    fig.suptitle("Agreement of utility with base reward is relative to a distribution")
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
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), sharex=True, sharey=True)
    for ax, dist in zip(axes, DIST_ORDER):
        d = df[df["distribution"] == dist]
        sns.scatterplot(data=d, x="power_true_bits", y="power_behav_bits", hue="class", palette=CLASS_COLORS,
                        style="architecture", ax=ax, s=14, alpha=0.6, legend=dist == "control")
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
        sns.barplot(data=interventions, x="edit", y="proxy_choice_rate", order=order, ax=axes[0], color=PALETTE[3])
        sns.barplot(data=interventions, x="edit", y="normalised_return", order=order, ax=axes[1], color=PALETTE[2])
    axes[0].set(xlabel="edit of the mesa-objective", ylabel="proxy choice rate (decision layouts)", ylim=(0, 1.05))
    axes[1].set(xlabel="edit of the mesa-objective", ylabel="true return / oracle return (shift)", ylim=(0, 1.05))
    fig.suptitle("Editing the mesa-objective changes behaviour (planners, shift)")
    fig.tight_layout()
    return fig


def make_all(generations: pd.DataFrame, probe: pd.DataFrame, interventions: pd.DataFrame, features) -> dict:
    """{file name: Figure} for every figure of a report."""
    return {
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
