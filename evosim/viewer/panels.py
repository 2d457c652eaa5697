"""The viewer's panels as Matplotlib figures of an ``EpisodeReplay`` (no Solara here, so they
can be drawn and tested without a server): the grid, the organism's objectives, fitness and
planner share over generations, class shares per distribution, and the lineage."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from evosim.architectures import ARCHITECTURES, COLOURS as ARCH_COLOURS  # noqa: F401  (one colour per architecture)
from evosim.schema import CLASS_COLOURS, DISTRIBUTIONS  # one colour per class, shared with evosim.figures
from evosim.viewer.data import CLASSES

#: how each kind is drawn: (face colour, marker); unknown kinds fall back to grey circles
KIND_STYLE = {
    "red_door": ("#d62728", "s"), "blue_door": ("#1f77b4", "s"),
    "red_ball": ("#d62728", "o"), "green_ball": ("#2ca02c", "o"),
    "key": ("#e6b800", "^"), "chest": ("#8c564b", "s"),
    "fruit": ("#d62728", "o"), "green_fruit": ("#2ca02c", "o"), "bitter_berry": ("#6a3d9a", "o"),
    "candy": ("#ff69b4", "*"),
}
ORGANISM_COLOUR = "#ff7f0e"
PLAN_COLOUR = "#9467bd"


def _empty(fig: Figure, text: str) -> Figure:
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10)
    return fig


def _draw_episode(ax, rp, t: int, names, plan: bool = True, size: float = 1.0, whole: bool = False) -> None:
    """One replayed episode at step ``t`` on ``ax``: walls, objects by kind (faded once reached),
    the path so far, the organism and, if ``plan``, the route of the plan it follows. ``whole``:
    the finished episode, every object as at the start and the organism as a ring where it ended."""
    h, w = rp.walls.shape
    ax.imshow(np.where(rp.walls > 0, 0.25, 0.97), cmap="gray", vmin=0, vmax=1, origin="upper",
              extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    alive = rp.alive_at(0 if whole else t)
    shown = set()
    for o in np.flatnonzero(rp.obj_kind >= 0):
        k = int(rp.obj_kind[o])
        colour, marker = KIND_STYLE.get(names[k], ("#999999", "o"))
        y, x = rp.obj_pos[o]
        label = names[k] if names[k] not in shown else None
        shown.add(names[k])
        ax.scatter([x], [y], s=(320 if marker == "*" else 220) * size, c=colour, marker=marker, edgecolors="black",
                   linewidths=0.8, alpha=1.0 if alive[o] else 0.18, zorder=3, label=label)
    path = rp.cells[:t + 1]
    ax.plot(path[:, 1], path[:, 0], "-", color=ORGANISM_COLOUR, lw=2.2 * size ** 0.5, alpha=0.8, zorder=4,
            label="path so far")
    y, x = rp.cells[t]
    if plan and t < rp.steps and rp.plans[t, 0] >= 0:
        route = rp.route(t)
        if len(route):
            ax.plot(route[:, 1], route[:, 0], "--", color=PLAN_COLOUR, lw=2.0, alpha=0.9, zorder=5, label="plan")
        for i, o in enumerate(rp.plans[t][rp.plans[t] >= 0]):
            oy, ox = int(rp.obj_pos[o, 0]), int(rp.obj_pos[o, 1])
            ax.text(ox + 0.3, oy - 0.3, str(i + 1), color=PLAN_COLOUR, fontsize=12, fontweight="bold", zorder=6)
    if whole:  # the order in which objects were reached
        reached = np.flatnonzero((rp.reach > 0) & (rp.reach <= t))
        for i, o in enumerate(reached[np.argsort(rp.reach[reached], kind="stable")]):
            oy, ox = int(rp.obj_pos[o, 0]), int(rp.obj_pos[o, 1])
            ax.text(ox + 0.35, oy - 0.35, str(i + 1), color=ORGANISM_COLOUR, fontsize=9, fontweight="bold", zorder=8)
        sy, sx = rp.cells[0]
        ax.scatter([sx], [sy], s=60 * size, c=ORGANISM_COLOUR, marker="s", zorder=7, label="start")
        ax.scatter([x], [y], s=600 * size, facecolors="none", edgecolors=ORGANISM_COLOUR, linewidths=2.5, zorder=7,
                   label="end")
    else:
        ax.scatter([x], [y], s=260 * size, c=ORGANISM_COLOUR, marker="o", edgecolors="black", linewidths=1.5,
                   zorder=7, label="organism")
    ax.add_patch(Rectangle((-0.5, -0.5), w, h, fill=False, lw=1.5, color="black"))
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])


def _first_reached(rp, names) -> str:
    reached = np.flatnonzero(rp.reach > 0)
    if not len(reached):
        return "nothing"
    return names[int(rp.obj_kind[reached[np.argmin(rp.reach[reached])]])]


def grid_figure(model) -> Figure:
    """The layout with walls, objects by kind, the path so far, the organism and (planners) its plan."""
    fig = Figure(figsize=(6.4, 3.9), layout="constrained")  # SolaraViz's grid cells are about 400 px tall
    rp = model.replay
    if rp is None:
        return _empty(fig, model.message or "nothing to show")
    ax = fig.subplots()
    _draw_episode(ax, rp, model.t, model.data.kind_names)
    base, proxy = rp.returns_at(model.t)
    org = model.organism
    ax.set_title(f"gen {rp.generation} · organism {rp.organism_id} ({rp.architecture}) · {rp.distribution} layout "
                 f"{rp.episode}\nstep {model.t}/{rp.steps} · return {base:+.2f} · proxy {proxy:+.2f} · "
                 f"fitness {float(org['fitness']):+.3f}", fontsize=9)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False, markerscale=0.6)
    return fig


def contrast_figure(model) -> Figure:
    """The same organism on the same-numbered held-out layout of train and of shift, whole
    episodes: what it reaches (numbered in order), first, and what that pays, side by side."""
    fig = Figure(figsize=(6.4, 3.9), layout="constrained")
    if model.organism is None:
        return _empty(fig, model.message or "no organism")
    d, oid, names = model.data, int(model.organism["organism_id"]), model.data.kind_names
    axes = fig.subplots(1, 2)
    for ax, dist in zip(axes, ("train", "shift")):
        rp = d.replay(model.generation, oid, dist, model.episode)
        _draw_episode(ax, rp, rp.steps, names, plan=False, size=0.5, whole=True)
        ax.set_title(f"{dist} layout {model.episode}: first reaches {_first_reached(rp, names)}\n"
                     f"return {rp.ret:+.2f} · proxy {rp.proxy:+.2f} · {rp.steps} steps", fontsize=8)
    fig.suptitle(f"organism {oid}: same genome, train vs shift", fontsize=9)
    return fig


def objectives_figure(model) -> Figure:
    """Base reward and proxy per kind beside the organism's utilities: for planners the evolved
    (mesa) utility read from the genome, for every organism the behavioural utility fitted to
    its choices (both as unit vectors: only their direction is identified)."""
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    if model.organism is None:
        return _empty(fig, model.message or "no organism")
    d, oid, g = model.data, int(model.organism["organism_id"]), model.generation
    ax_u, ax_k = fig.subplots(1, 2, width_ratios=[3, 2])
    feats = list(d.features)
    behav, gamma, source = d.behavioural_utility(g, oid)
    mesa = d.mesa_utility(g, oid)
    series = []
    if mesa is not None:
        series.append(("evolved utility (genome)", mesa, PLAN_COLOUR))
    series.append((f"behavioural utility ({source})", behav, ORGANISM_COLOUR))
    width = 0.8 / len(series)
    xs = np.arange(len(feats))
    for i, (label, v, colour) in enumerate(series):
        n = np.linalg.norm(v)
        u = v / n if np.isfinite(n) and n > 0 else np.zeros_like(v)
        ax_u.bar(xs + (i - (len(series) - 1) / 2) * width, u, width, label=label, color=colour)
    ax_u.axhline(0, color="black", lw=0.8)
    ax_u.set_xticks(xs, feats)
    ax_u.set_ylim(-1.05, 1.05)
    ax_u.set_ylabel("weight (unit vector)")
    ax_u.set_title("what it pursues", fontsize=10)
    ax_u.legend(fontsize=7, loc="lower left")
    kinds = list(d.kind_names)
    ky = np.arange(len(kinds))
    ax_k.barh(ky - 0.2, d.world.table.reward, 0.4, label="base reward (fitness)", color="#2ca02c")
    ax_k.barh(ky + 0.2, d.world.table.proxy, 0.4, label=d.world.proxy_name, color="#d62728")
    ax_k.set_yticks(ky, kinds, fontsize=8)
    ax_k.invert_yaxis()
    ax_k.axvline(0, color="black", lw=0.8)
    ax_k.set_title("what it was selected for", fontsize=10)
    ax_k.legend(fontsize=7, loc="lower right")
    return fig


def history_figure(model) -> Figure:
    """Fitness (mean, best) and the share of each architecture the run recorded over generations; the shown
    generation marked."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    gens = model.data.run.generations
    ax = fig.subplots()
    ax.plot(gens["generation"], gens["fitness_mean"], label="mean fitness", color="#1f77b4")
    ax.plot(gens["generation"], gens["fitness_max"], label="best fitness", color="#1f77b4", ls=":")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness")
    ax2 = ax.twinx()
    for a in ARCHITECTURES:  # every architecture's share the run recorded (runs without memorisers: planner only)
        if f"{a.name}_share" in gens.columns:
            ax2.plot(gens["generation"], gens[f"{a.name}_share"], label=f"{a.label} share", color=a.colour)
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_ylabel("architecture share")
    ax.axvline(model.generation, color="black", lw=1, ls="--")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="lower right")
    ax.set_title("fitness and architecture shares over generations", fontsize=10)
    return fig


def classes_figure(model) -> Figure:
    """Outcome-class shares of the shown generation on every probed distribution (from the report)."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    d = model.data
    if not d.has_report:
        return _empty(fig, f"No report for this run yet: outcome classes come from\n`evosim report {d.path}`")
    pr = d.probe
    gen = model.generation if model.generation in d.probed_generations() else d.probed_generations()[-1]
    pr = pr[pr["generation"] == gen]
    ax = fig.subplots()
    dists = [dd for dd in DISTRIBUTIONS if (pr["distribution"].astype(str) == dd).any()]
    left = np.zeros(len(dists))
    for c in CLASSES:
        share = np.array([(pr[pr["distribution"].astype(str) == dd]["class"].astype(str) == c).mean() for dd in dists])
        ax.barh(dists, share, left=left, color=CLASS_COLOURS[c], label=c.replace("_", "-"))
        for i, s in enumerate(share):
            if s >= 0.08:
                ax.text(left[i] + s / 2, i, f"{s:.2f}", ha="center", va="center", color="white", fontsize=9)
        left += share
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("share of organisms")
    note = "" if gen == model.generation else f" (generation {model.generation} not probed)"
    ax.set_title(f"outcome classes, generation {gen}{note}", fontsize=10)
    ax.legend(fontsize=7, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.12), frameon=False)
    if model.organism is not None:
        cls = {dd: model.organism.get(f"class_{dd}") for dd in dists}
        if all(isinstance(v, str) for v in cls.values()):
            ax.text(1.0, -0.32, f"this organism: train {cls['train']}, shift {cls['shift']}", transform=ax.transAxes,
                    ha="right", fontsize=8)
    return fig


def lineage_figure(model) -> Figure:
    """The organism's first-parent line back to generation 0: fitness and architecture."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    if model.organism is None:
        return _empty(fig, model.message or "no organism")
    lin = model.data.lineage(int(model.organism["organism_id"]))
    ax = fig.subplots()
    ax.plot(lin["generation"], lin["fitness"], color="#bbbbbb", lw=1, zorder=1)
    markers = "so^Dvp*"
    for a in ARCHITECTURES:  # every registered architecture, so no ancestor vanishes from the plot
        part = lin[lin["architecture"] == a.name]
        if len(part):
            ax.scatter(part["generation"], part["fitness"], c=a.colour, marker=markers[a.code % len(markers)], s=18,
                       label=a.label, zorder=2)
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness of ancestor")
    switches = int((lin["architecture"].to_numpy()[1:] != lin["architecture"].to_numpy()[:-1]).sum())
    ax.set_title(f"lineage of organism {int(model.organism['organism_id'])}: {len(lin)} ancestors (first parent), "
                 f"{switches} architecture switches", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return fig


PANELS = (grid_figure, contrast_figure, objectives_figure, history_figure, classes_figure, lineage_figure)

__all__ = ["PANELS", "grid_figure", "contrast_figure", "objectives_figure", "history_figure", "classes_figure", "lineage_figure",
           "KIND_STYLE"]
