"""Sweep figures from ``summary.parquet`` only (seaborn, Agg backend, colour-blind-safe palettes).

- ``phase_diagram``: mean final planner share over the first two grid keys (x, y), one panel
  per value of the third (e.g. training diversity x planning cost, one panel per grid size);
  each square is annotated with the mean and the half-width of its 95% CI.
- ``dose_response``: shares of the outcome classes under shift (all architectures) against
  the one grid key, with the 95% CI as a band.
- ``architecture_phase_diagrams`` (conditions sweeps: memorisers or depth 0 in play): for every
  pair of factors, the mean final share of each architecture (heuristic, planner, memoriser),
  averaged over the other factors' levels; settings that vary together across cells (e.g.
  world.size with world.wall_density) form one factor.
- ``depth_distribution``: per cell, the distribution of the final planners' search depths
  (depth_0..depth_3 shares, mean over seeds) with the planner share and mean depth.
"""
from __future__ import annotations

from pathlib import Path


import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

#: readable axis labels (with units) for the settings sweeps usually vary
LABELS = {
    "world.train_pool": "training diversity: layouts in the fixed training pool (fresh = new every generation)",
    "organisms.planning_cost": "planning cost (fitness per unit of search work)",
    "world.size": "grid size (cells per side)",
    "world.n_distractors": "distractors per layout",
    "world.proxy_break_rate": "proxy-break rate (fraction of training layouts from control)",
    "organisms.initial_planner_share": "initial planner share",
    "organisms.description_cost": "description cost (fitness per expressed gene)",
    "world.wall_density": "wall density",
}
ARCH_SHARES = (("heuristic_share", "heuristic"), ("planner_share", "planner"), ("memoriser_share", "memoriser"))
CLASS_LABELS = {"robust": "robust", "pseudo_aligned": "pseudo-aligned", "capability_failure": "capability failure"}


def _save(fig, path: Path) -> None:
    """Write a PNG atomically (a killed sweep leaves the old figure or none, never half of one)."""
    from evosim.store.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write(path, lambda p: fig.savefig(p, dpi=120, format="png"))
    finally:
        plt.close(fig)


def _label(key: str) -> str:
    return LABELS.get(key, key)


def _tick(key: str, v) -> str:
    if key == "world.train_pool" and v == 0:
        return "fresh"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _order(key: str, values) -> list:
    """Axis order: ascending, except training diversity, where 0 (fresh layouts) is the most diverse."""
    if key == "world.train_pool":
        return sorted(values, key=lambda v: (v == 0, v))
    return sorted(values)


def phase_diagram(summary: pd.DataFrame, x: str, y: str, panel: str | None, path: Path,
                  metric: str = "planner_share") -> Path:
    """Heatmap(s) of the mean of ``metric`` over ``x`` and ``y``, one panel per ``panel`` value."""
    s = summary[summary["metric"] == metric]
    panels = _order(panel, s[panel].unique().tolist()) if panel else [None]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 1.2, 4.2), squeeze=False,
                             constrained_layout=True)
    xs = _order(x, s[x].unique().tolist())
    ys = _order(y, s[y].unique().tolist())
    for ax, pv in zip(axes[0], panels):
        sub = s if pv is None else s[s[panel] == pv]
        mean = sub.pivot_table(index=y, columns=x, values="mean", aggfunc="mean").reindex(index=ys, columns=xs)
        half = (sub.assign(h=(sub["ci_hi"] - sub["ci_lo"]) / 2)
                .pivot_table(index=y, columns=x, values="h", aggfunc="mean", dropna=False).reindex(index=ys, columns=xs))
        annot = np.empty(mean.shape, dtype=object)
        for i in range(mean.shape[0]):
            for j in range(mean.shape[1]):
                m, h = mean.iat[i, j], half.iat[i, j]
                annot[i, j] = "" if np.isnan(m) else (f"{m:.2f}" if np.isnan(h) else f"{m:.2f}\n±{h:.2f}")
        sns.heatmap(mean, ax=ax, vmin=0.0, vmax=1.0, cmap="viridis", annot=annot, fmt="", cbar=pv == panels[-1],
                    cbar_kws={"label": "final planner share (mean over seeds)"} if pv == panels[-1] else None,
                    annot_kws={"fontsize": 8}, linewidths=0.5, linecolor="white")
        ax.invert_yaxis()
        ax.set_xticklabels([_tick(x, v) for v in xs], rotation=0)
        ax.set_yticklabels([_tick(y, v) for v in ys], rotation=0)
        ax.set_xlabel(_label(x), fontsize=8)
        ax.set_ylabel(_label(y), fontsize=8)
        if pv is not None:
            ax.set_title(f"{panel.split('.')[-1]} = {_tick(panel, pv)}")
    fig.suptitle(f"Final {metric.replace('_', ' ')} (annotation: mean ± 95% CI half-width across seeds)", fontsize=10)
    _save(fig, path)
    return path


def dose_response(summary: pd.DataFrame, x: str, path: Path, dist: str = "shift") -> Path:
    """Outcome-class shares on ``dist`` layouts against ``x``, mean with 95% CI band."""
    from evosim.schema import CLASS_COLOURS

    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    for cls in CLASS_LABELS:
        color = CLASS_COLOURS[cls]
        s = summary[summary["metric"] == f"{dist}_all_{cls}"].sort_values(x)
        if s.empty or s["mean"].isna().all():
            continue
        xv = s[x].to_numpy(dtype=float)
        lw = 2.5 if cls == "pseudo_aligned" else 1.5
        ax.plot(xv, s["mean"], marker="o", color=color, lw=lw, label=CLASS_LABELS[cls])
        ax.fill_between(xv, s["ci_lo"].clip(0, 1), s["ci_hi"].clip(0, 1), color=color, alpha=0.2, lw=0)
    xv = np.sort(summary[x].unique().astype(float))
    if (xv > 0).any() and xv.max() / max(xv[xv > 0].min(), 1e-12) > 20:
        ax.set_xscale("symlog", linthresh=float(xv[xv > 0].min()))
        ax.set_xticks(xv)
        ax.set_xticklabels([f"{v:g}" for v in xv])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(_label(x))
    ax.set_ylabel(f"share of final population under {dist}")
    ax.set_title(f"Outcome classes under {dist} (mean and 95% CI across seeds)", fontsize=10)
    ax.legend(frameon=False)
    _save(fig, path)
    return path


def factors(summary: pd.DataFrame, keys: list[str]) -> list[list[str]]:
    """The swept keys grouped into factors: keys whose values partition the cells identically (they
    vary together, e.g. a complexity level setting both world.size and world.wall_density) are one factor."""
    cells = summary.drop_duplicates("cell").set_index("cell")
    groups: list[list[str]] = []
    sigs: list = []
    for k in keys:
        if k not in cells.columns or cells[k].nunique(dropna=False) < 2:
            continue
        codes = tuple(pd.factorize(cells[k].astype(str))[0])
        if codes in sigs:
            groups[sigs.index(codes)].append(k)
        else:
            sigs.append(codes)
            groups.append([k])
    return groups


def _factor_values(summary: pd.DataFrame, keys: list[str]) -> pd.Series:
    """One label per row for a factor of one or more keys ("13 / 0.25")."""
    return summary[keys].apply(lambda r: " / ".join(_tick(k, r[k]) for k in keys), axis=1)


def _levels(s: pd.DataFrame, keys: list[str]) -> list[str]:
    """A factor's level labels in axis order (``_order`` of its first key)."""
    first = _order(keys[0], s[keys[0]].unique().tolist())
    u = s.drop_duplicates(keys)
    u = u.assign(_o=u[keys[0]].map(lambda v: first.index(v))).sort_values("_o")
    return list(dict.fromkeys(_factor_values(u, keys).tolist()))


def architecture_phase_diagrams(summary: pd.DataFrame, keys: list[str], fig_dir: Path) -> list[Path]:
    """For each pair of factors, a figure with one heatmap per architecture: mean final share over
    seeds (then averaged over the levels of the other factors), annotated."""
    import itertools

    fs = factors(summary, keys)
    out = []
    for fx, fy in itertools.combinations(fs, 2):
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
        for ax, (metric, name) in zip(axes, ARCH_SHARES):
            s = summary[summary["metric"] == metric].copy()
            if s.empty:
                ax.set_axis_off()
                continue
            s["_x"] = _factor_values(s, fx)
            s["_y"] = _factor_values(s, fy)
            xs, ys = _levels(s, fx), _levels(s, fy)
            mean = s.pivot_table(index="_y", columns="_x", values="mean", aggfunc="mean").reindex(index=ys, columns=xs)
            annot = mean.map(lambda v: "" if np.isnan(v) else f"{v:.2f}")
            sns.heatmap(mean, ax=ax, vmin=0.0, vmax=1.0, cmap="viridis", annot=annot, fmt="", cbar=name == "memoriser",
                        annot_kws={"fontsize": 8}, linewidths=0.5, linecolor="white")
            ax.invert_yaxis()
            ax.set_xlabel(" / ".join(_label(k) for k in fx), fontsize=7)
            ax.set_ylabel(" / ".join(_label(k) for k in fy), fontsize=7)
            ax.set_title(f"final {name} share")
        fig.suptitle("Final architecture shares (mean over seeds, averaged over the other factors)", fontsize=10)
        name = "phase_" + "__".join("+".join(k.split(".")[-1] for k in f) for f in (fx, fy)) + ".png"
        _save(fig, Path(fig_dir) / name)
        out.append(Path(fig_dir) / name)
    return out


def depth_distribution(summary: pd.DataFrame, keys: list[str], path: Path) -> Path:
    """Per cell, stacked bars of the final planners' depth shares (depth_0..depth_3, mean over seeds),
    labelled with the cell's settings, the planner share and the planners' mean depth."""
    depth_metrics = sorted({m for m in summary["metric"].astype(str) if m.startswith("depth_") and m[6:].isdigit()},
                           key=lambda m: int(m[6:]))
    cells = sorted(summary["cell"].unique())
    piv = summary[summary["metric"].isin(depth_metrics)].pivot_table(index="cell", columns="metric", values="mean")
    piv = piv.reindex(index=cells, columns=depth_metrics)
    share = summary[summary["metric"] == "planner_share"].set_index("cell")["mean"].reindex(cells)
    dmean = summary[summary["metric"] == "planner_depth_mean"].set_index("cell")["mean"].reindex(cells)
    heads = summary.drop_duplicates("cell").set_index("cell").reindex(cells)
    labels = [", ".join(f"{k.split('.')[-1]}={_tick(k, heads.at[c, k])}" for k in keys)
              + f"  | planners {share.get(c, np.nan):.2f}, depth {dmean.get(c, np.nan):.2f}" for c in cells]
    fig, ax = plt.subplots(figsize=(11, 0.28 * len(cells) + 1.6), constrained_layout=True)
    pal = sns.color_palette("colorblind", len(depth_metrics))
    left = np.zeros(len(cells))
    for color, m in zip(pal, depth_metrics):
        v = np.nan_to_num(piv[m].to_numpy(dtype=float))
        ax.barh(np.arange(len(cells)), v, left=left, color=color, label=f"depth {m[6:]}")
        left += v
    ax.set_yticks(np.arange(len(cells)))
    ax.set_yticklabels(labels, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the final planners (mean over seeds; empty: no planners)")
    ax.set_title("Evolved amount of search: distribution of planner search depth per cell", fontsize=10)
    ax.legend(frameon=False, ncol=len(depth_metrics), loc="lower right", fontsize=7)
    _save(fig, path)
    return path


def _conditions_sweep(summary: pd.DataFrame) -> bool:
    """Whether memorisers or depth-0 planners took part (the conditions figures apply)."""
    m = summary.set_index("metric")["mean"] if "metric" in summary else pd.Series(dtype=float)
    return any(name in m.index and (m.loc[[name]].fillna(0) > 0).any() for name in ("memoriser_share", "depth_0"))


def sweep_figures(summary: pd.DataFrame, grid_keys: list[str], fig_dir: Path, keys: list[str] | None = None) -> list[Path]:
    """The figures a sweep's grid supports: phase diagram (2-3 keys), dose response (1 numeric key);
    with memorisers or depth-0 planners in play, the architecture phase diagrams per pair of factors and
    the depth distribution per cell (over every swept key, ``keys``: grid and [[cells]] keys)."""
    fig_dir = Path(fig_dir)
    out = []
    if summary.empty:
        return out
    keys = list(keys) if keys is not None else list(grid_keys)
    if _conditions_sweep(summary):
        out += architecture_phase_diagrams(summary, keys, fig_dir)
        out.append(depth_distribution(summary, keys, fig_dir / "depth_distribution.png"))
    if 2 <= len(grid_keys) <= 3:
        panel = grid_keys[2] if len(grid_keys) == 3 else None
        out.append(phase_diagram(summary, grid_keys[0], grid_keys[1], panel, fig_dir / "phase_diagram.png"))
    if len(grid_keys) == 1 and pd.api.types.is_numeric_dtype(summary[grid_keys[0]]):
        has = summary.loc[summary["metric"] == "shift_all_pseudo_aligned", "mean"].notna().any()
        if has:
            out.append(dose_response(summary, grid_keys[0], fig_dir / "dose_response.png"))
    return out
