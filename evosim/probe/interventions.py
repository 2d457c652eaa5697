"""The causal check (the internal approach): edit every planner's mesa-objective and re-probe it on
shift layouts (``evosim.schema.PROBE_COLUMNS["interventions"]``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from evosim import genome as gn
from evosim.constants import Arch
from evosim.objectives import classify
from evosim.probe.outcomes import _decision_choice
from evosim.probe.sets import ProbeSet, _roll


def target_features(world) -> tuple[int, int]:
    """(proxy feature, true feature): the channels that most separate proxy targets from true targets."""
    nf = len(world.features)
    f = world.table.features[:, :nf].astype(np.float64)
    pt = np.mean([f[world.kind_index(k)] for k in world.proxy_target], axis=0)
    tt = np.mean([f[world.kind_index(k)] for k in world.true_target], axis=0)
    return int(np.argmax(pt - tt)), int(np.argmax(tt - pt))


def edit_utility(genomes: np.ndarray, world, edit: str) -> np.ndarray:
    """Copy of ``genomes`` with the mesa-objective edited.

    ``proxy_to_true``: the proxy feature's weight is set to 0 and the true feature gets
    max(u_true, 0) + |u_proxy|; ``true_to_proxy`` the mirror image; ``none`` unchanged.
    """
    p, t = target_features(world)
    g = np.array(genomes, dtype=np.float32, copy=True)
    c0 = gn.P_UTILITY.start
    if edit == "none":
        return g
    src, dst = (p, t) if edit == "proxy_to_true" else (t, p)
    moved = np.abs(g[:, c0 + src])
    g[:, c0 + dst] = np.maximum(g[:, c0 + dst], 0.0) + moved
    g[:, c0 + src] = 0.0
    return g


EDITS = {"none": 0, "proxy_to_true": -1, "true_to_proxy": 1}


def interventions(cfg, world, sets: dict[str, ProbeSet], genomes, organism_ids, generation: int) -> pd.DataFrame:
    """Edit every planner's mesa-objective and re-probe it on shift layouts (``COLUMNS['interventions']``)."""
    genomes = np.asarray(genomes, dtype=np.float32)
    planner = gn.architecture(genomes) == int(Arch.PLANNER)
    idx = np.flatnonzero(planner)[:cfg.probe.intervention_planners]
    nf = len(world.features)
    p, t = target_features(world)
    s = sets["shift"]
    frames = []
    for edit, sign in EDITS.items():
        g = edit_utility(genomes[idx], world, edit)
        ids = np.asarray(organism_ids, dtype=np.int64)[idx]
        rec = _roll(cfg, world, g, s.layouts, ids, "shift", record=False)
        nr, npr = s.normalised(rec.ret), s.normalised_proxy(rec.proxy)
        if s.decision is not None:
            drec = _roll(cfg, world, g, s.decision, ids, "decision", record=False)
            pcr, _ = _decision_choice(drec, s.decision, world)
        else:
            pcr = np.full(len(idx), np.nan)
        df = pd.DataFrame({"generation": np.full(len(idx), generation, dtype=np.int64), "organism_id": ids,
                           "edit": edit, "proxy_feature": world.features[p], "true_feature": world.features[t]})
        u = gn.utility(g, nf)
        for j, f in enumerate(world.features):
            df[f"u_{f}"] = u[:, j]
        df["distribution"] = "shift"
        df["normalised_return"] = nr
        df["normalised_proxy_return"] = npr
        df["proxy_choice_rate"] = pcr
        df["class"] = classify(nr, npr, cfg.probe.competent)
        df["predicted_shift"] = np.int64(sign)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
