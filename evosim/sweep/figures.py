"""Sweep figures from ``summary.parquet`` only (seaborn, Agg backend, colour-blind-safe palettes).

- ``phase_diagram``: mean final planner share over the first two grid keys (x, y), one panel
  per value of the third (e.g. training diversity x planning cost, one panel per grid size);
  each square is annotated with the mean and the half-width of its 95% CI.
- ``dose_response``: shares of the outcome classes under shift (all architectures) against
  the one grid key, with the 95% CI as a band.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

#: readable axis labels (with units) for the settings sweeps usually vary
LABELS = {
    "world.train_pool": "training diversity: layouts in the fixed training pool (fresh = new every generation)",
    "organisms.planning_cost": "planning cost (fitness per unit of search work)",
    "world.size": "grid size (cells per side)",
    "world.n_distractors": "distractors per layout",
    "world.proxy_break_rate": "proxy-break rate (fraction of training layouts from control)",
    "organisms.initial_planner_share": "initial planner share",
}
CLASS_LABELS = {"robust": "robust", "pseudo_aligned": "pseudo-aligned", "capability_failure": "capability failure"}


def _save(fig, path: Path) -> None:
    """Write a PNG atomically (a killed sweep leaves the old figure or none, never half of one)."""
    from evosim.store import atomic_write

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
    pal = sns.color_palette("colorblind", 3)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    for color, cls in zip(pal, CLASS_LABELS):
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


def sweep_figures(summary: pd.DataFrame, grid_keys: list[str], fig_dir: Path) -> list[Path]:
    """The figures a sweep's grid supports: phase diagram (2-3 keys), dose response (1 numeric key)."""
    fig_dir = Path(fig_dir)
    out = []
    if summary.empty:
        return out
    if 2 <= len(grid_keys) <= 3:
        panel = grid_keys[2] if len(grid_keys) == 3 else None
        out.append(phase_diagram(summary, grid_keys[0], grid_keys[1], panel, fig_dir / "phase_diagram.png"))
    if len(grid_keys) == 1 and pd.api.types.is_numeric_dtype(summary[grid_keys[0]]):
        has = summary.loc[summary["metric"] == "shift_all_pseudo_aligned", "mean"].notna().any()
        if has:
            out.append(dose_response(summary, grid_keys[0], fig_dir / "dose_response.png"))
    return out
