"""Behavioural inference tested where it is hard: recovery of planted objectives per regime.

    python analysis/objectives_validation.py [--n 100] [--episodes 90] [--out analysis/out]

Each regime plants ``n`` organisms with known objectives, lets each play ``episodes`` held-out
layouts (split over train, shift and control), extracts choice events (no conditioning on the
outcome: the one perceived object whose path a step shortens, or none) and fits the behavioural
model (evosim.objectives). Per regime: median cosine of fitted to planted utility, the share with
cosine >= 0.9, and ranking accuracy: the share of organisms whose fitted utility ranks the
world's proxy cue vs its true cue (evosim.probe.preference_features) as the planted one does.
Each regime is fitted twice: with the world's perception radii (known to the experimenter; the
probe's behav_u_*) and with radii estimated from behaviour alone (evosim.probe.estimate_radius on
the pooled choices of the first 60 organisms, then every organism refitted; the probe's
behav_est_*): columns ``est_*`` and the estimated vs true radius per channel (``radii``, as
channel=estimate/true).
Planners: utility uniform on the sphere or its non-negative orthant; heuristics: planted
attraction genes (their "utility"), low decision noise. Writes objectives_validation.csv and
prints the table that docs/objectives.md quotes. Deterministic (fixed seeds).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from evosim import genome as gn
from evosim import worlds
from evosim.config import load_config
from evosim.objectives import cosine, prefers_proxy
from evosim.probe import (
    choice_events, estimate_radius, fit_behavioural_batch, fit_with_radius, planted_planners, preference_features,
    probe_rollout, radius_subsample,
)
from evosim.constants import STREAM_PROBE
from evosim.schema import DISTRIBUTIONS

ROOT = Path(__file__).resolve().parents[1]
EQ = {"world.radius": {"red": 10, "green": 10, "door": 10}}
# name, experiment, overrides, architecture, planted (sphere/positive), depth (None: random 1..3), discount gene
REGIMES = [
    ("planner, equal radii 10, w >= 0", "red_door", EQ, "planner", "positive", None, None),
    ("planner, equal radii 10, any sign", "red_door", EQ, "planner", "sphere", None, None),
    ("planner, radii red/green 10, door 2", "red_door_short_sighted", {}, "planner", "positive", None, None),
    ("planner, depth 1", "red_door", EQ, "planner", "positive", 1, None),
    ("planner, depth 3", "red_door", EQ, "planner", "positive", 3, None),
    ("planner, discount ~0.5", "red_door", EQ, "planner", "positive", None, -10.0),
    ("planner, discount ~0.99", "red_door", EQ, "planner", "positive", None, 10.0),
    ("planner, keys_chests (keys instrumental)", "keys_chests", {}, "planner", "sphere", None, None),
    ("planner, ancestral_modern", "ancestral_modern", {}, "planner", "sphere", None, None),
    ("heuristic, equal radii 10, w >= 0", "red_door", EQ, "heuristic", "positive", None, None),
    ("heuristic, keys_chests", "keys_chests", {}, "heuristic", "sphere", None, None),
]


def planted_heuristics(rng, n, world, positive):
    nf = len(world.features)
    kf = world.table.features[:, :nf].astype(np.float64)
    g = np.zeros((n, gn.N_GENES), dtype=np.float32)
    g[:, gn.ARCH] = -1.0
    g[:, gn.H_LOGTEMP] = -1.0
    for i in range(n):
        while True:
            u = rng.normal(size=nf)
            u /= np.linalg.norm(u)
            u = np.abs(u) if positive else u
            if (kf @ u).max() > 0.05:
                break
        g[i, gn.H_ATTRACT.start:gn.H_ATTRACT.start + nf] = 3.0 * u
    return g


def regime(name, exp, over, arch, planted, depth, disc, n, episodes, seed=0):
    cfg = load_config(ROOT / "runs" / f"{exp}.toml", over)
    w = worlds.make(cfg.world)
    nf = len(w.features)
    rng = np.random.default_rng([seed, STREAM_PROBE, 77])
    if arch == "planner":
        g = planted_planners(rng, n, w, cfg.organisms.max_depth, planted == "positive")
        if depth is not None:
            g[:, gn.P_DEPTH] = depth
        if disc is not None:
            g[:, gn.P_DISCOUNT] = disc
        u = gn.utility(g, nf).astype(np.float64)
    else:
        g = planted_heuristics(rng, n, w, planted == "positive")
        u = g[:, gn.H_ATTRACT.start:gn.H_ATTRACT.start + nf].astype(np.float64)
    ids = np.arange(n, dtype=np.int64)
    per = max(1, episodes // len(DISTRIBUTIONS))
    evs, recorded = [], {}
    for d, dist in enumerate(DISTRIBUTIONS):
        lay = w.sample(np.random.default_rng([seed, STREAM_PROBE, 77, d]), dist, per)
        rec = probe_rollout(cfg, w, g, lay, ids, "random")
        recorded[dist] = (rec, lay)
        evs.append(choice_events(rec, lay, w))
    ev = {k: np.concatenate([e[k] for e in evs]) for k in evs[0]}
    fit, _ = fit_behavioural_batch(ev["feat"], ev["dist"], ev["nopt"], ev["chosen"], ev["org"], n)
    est_r, _ = estimate_radius(w, recorded, radius_subsample(ids))
    fit_est, _, _ = fit_with_radius(w, recorded, est_r, n)
    pf, tf = preference_features(w)
    row = {"regime": name, "organisms": n, "median_events": float(np.median(np.bincount(ev["org"], minlength=n)))}
    for tag, f in (("", fit), ("est_", fit_est)):
        cos = cosine(u, f)
        rank_ok = prefers_proxy(u, pf, tf) == prefers_proxy(f, pf, tf)
        row.update({f"{tag}median_cos": float(np.nanmedian(cos)), f"{tag}share_cos_ge_0.9": float(np.mean(cos >= 0.9)),
                    f"{tag}rank_accuracy": float(np.mean(rank_ok))})
    row["radii"] = " ".join(f"{f}={est_r[j]}/{w.radius[j]}" for j, f in enumerate(w.features))
    wn = np.abs(u) / np.linalg.norm(u, axis=1, keepdims=True)
    row["median_abs_w"] = " ".join(f"{f}={np.median(wn[:, j]):.2f}" for j, f in enumerate(w.features))
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--episodes", type=int, default=90)
    ap.add_argument("--out", type=Path, default=ROOT / "analysis" / "out")
    ap.add_argument("--only", default=None, help="regimes whose name contains this text")
    args = ap.parse_args(argv)
    regs = [r for r in REGIMES if args.only is None or args.only in r[0]]
    tab = pd.DataFrame([regime(*r, n=args.n, episodes=args.episodes) for r in regs])
    args.out.mkdir(parents=True, exist_ok=True)
    tab.to_csv(args.out / "objectives_validation.csv", index=False)
    cols = list(tab.columns)
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for _, r in tab.iterrows():
        print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
