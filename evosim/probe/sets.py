"""Held-out sets of the probe: layouts, the exact oracle, random baselines and the perception-matched reference.

Held-out layouts come from ``default_rng([seed, STREAM_PROBE, distribution, kind])``;
training layouts use ``STREAM_LAYOUT``, so the two never share a stream. Every organism
plays the same layouts (common random numbers) and the in-kernel random numbers derive from
(seed, STREAM_PROBE, purpose, organism id, episode), so a probe is deterministic.

The oracle (``oracle_returns``) is the best return any policy could collect on a layout within
``max_steps`` under the episode's real rules; the DP behind it is described in
``evosim.kernels.probe_kernels`` and ``tests/test_oracle.py`` checks it against a brute-force search.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evosim import genome as gn
from evosim import kernels
from evosim.constants import PROBE_PURPOSE, STREAM_PROBE
from evosim.objectives import power_bits
from evosim.probe.agreement import task_values
from evosim.schema import DISTRIBUTIONS

#: organism id of the perception-matched reference planners (never an evolved organism's id)
REFERENCE_ID = 2 ** 62
#: discount gene of the reference planners: gamma = 0.5 + 0.49 * sigmoid(10) ~ 0.99
REFERENCE_DISCOUNT_GENE = 10.0
#: the random baseline policy: a heuristic whose only expressed term is heavy Gumbel noise
RANDOM_LOGTEMP = 3.0


@dataclass
class ProbeSet:
    """Held-out layouts of one distribution with everything that does not depend on the organism."""

    distribution: str
    layouts: object
    oracle_true: np.ndarray  # [L]
    oracle_proxy: np.ndarray  # [L]
    random_ret: np.ndarray  # [R, L]
    random_counts: np.ndarray  # [R, L, F] features summed over objects reached by the random policy
    kind_counts: np.ndarray  # [K] objects of each kind available over the layouts
    decision: object | None  # decision-point layouts (shift only)
    matched_true: np.ndarray | None = None  # [L] base return of the aligned perception-matched reference
    matched_proxy: np.ndarray | None = None  # [L] proxy return of the proxy reference
    baseline: dict | None = None  # per-distribution baseline columns (reference and random policy), scalars
    tasks: object | None = None  # kernels.TaskValues: outputs and base value f of every layout (agreement, the type-signature essay)


def _layout_rng(seed: int, d: int, decision: bool) -> np.random.Generator:
    return np.random.default_rng([seed, STREAM_PROBE, d, int(decision)])


def _roll(cfg, world, genomes, lay, ids, purpose: str, record: bool = True):
    return kernels.rollout(genomes, lay, np.arange(len(lay)), cfg.seed, STREAM_PROBE, PROBE_PURPOSE[purpose], ids,
                           kernels.EpisodeSpec.from_config(cfg, world), record=record)


def _feature_counts(reach, obj_kind, kind_feat) -> np.ndarray:
    """Sum of features over the objects reached: [N, E, F]."""
    kf = np.vstack([kind_feat, np.zeros((1, kind_feat.shape[1]))])  # row -1: empty slot
    feats = kf[obj_kind]  # [E, M, F]
    return np.einsum("nem,emf->nef", (reach >= 0).astype(np.float64), feats)


def random_genomes(n: int) -> np.ndarray:
    """``n`` copies of the random baseline policy."""
    g = np.zeros((n, gn.N_GENES), dtype=np.float32)
    g[:, gn.ARCH] = -1.0
    g[:, gn.H_LOGTEMP] = RANDOM_LOGTEMP
    return g


def probe_layouts(cfg, world, distribution: str, episodes: int | None = None):
    """The held-out layouts of one distribution (the same ones the probe plays)."""
    episodes = cfg.probe.episodes if episodes is None else episodes
    return world.sample(_layout_rng(cfg.seed, DISTRIBUTIONS.index(distribution), False), distribution, episodes)



def probe_rollout(cfg, world, genomes, layouts, organism_ids, purpose: str, record: bool = True):
    """Roll organisms out on held-out layouts with the probe's random numbers: with ``purpose`` a
    distribution's name, episode ``e`` of organism ``i`` is the episode the probe plays; other purposes
    (``constants.PROBE_PURPOSE``: "random", "decision", ...) draw their own in-kernel random numbers
    (``record``: keep traces)."""
    return _roll(cfg, world, np.asarray(genomes, dtype=np.float32), layouts, np.asarray(organism_ids, dtype=np.int64),
                 purpose, record)


# -- the exact oracle ---------------------------------------------------------------------------
def best_value(layouts, kind_value, table, max_steps: int) -> np.ndarray:
    """Best achievable sum of ``kind_value`` over interacted objects, per layout (float64 [L])."""
    return kernels.oracle_values(layouts.walls, layouts.start, layouts.obj_pos, layouts.obj_kind, kind_value,
                                 table.reward, table.interaction, int(max_steps), int(getattr(table, "capacity", 0)))


def oracle_returns(layouts, table, max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(best base return, best proxy return) per layout."""
    return (best_value(layouts, table.reward, table, max_steps),
            best_value(layouts, table.proxy, table, max_steps))


# -- perception-matched reference -------------------------------------------------------------
def reference_utility(world, values, tol: float = 1e-6) -> np.ndarray:
    """Least-squares utility over the world's feature channels that reproduces ``values`` (one per kind)
    from the kinds' features; ``ValueError`` if the fit is not exact (max residual > ``tol``)."""
    nf = len(world.features)
    x = world.table.features[:, :nf].astype(np.float64)
    y = np.asarray(values, dtype=np.float64)
    u, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = np.abs(x @ u - y).max() if len(y) else 0.0
    if resid > tol:
        raise ValueError(f"{world.name}: per-kind values {y.tolist()} are not a linear function of the features "
                         f"{world.features} (max residual {resid:.3g}); no utility over perceived features "
                         "reproduces them, so there is no perception-matched reference planner")
    return u


def reference_genomes(world, max_depth: int) -> np.ndarray:
    """Two planner genomes: [0] the aligned reference (utility = exact fit of the base reward per kind),
    [1] the proxy reference (utility = exact fit of the proxy per kind); depth ``max_depth``, gamma ~ 0.99."""
    nf = len(world.features)
    g = random_genomes(2)
    g[:, gn.ARCH] = 1.0
    c0 = gn.P_UTILITY.start
    g[0, c0:c0 + nf] = reference_utility(world, world.table.reward)
    g[1, c0:c0 + nf] = reference_utility(world, world.table.proxy)
    g[:, gn.P_DEPTH] = float(max_depth)
    g[:, gn.P_DISCOUNT] = REFERENCE_DISCOUNT_GENE
    return g


def matched_reference(cfg, world, lay):
    """Rollouts of the aligned and the proxy reference on ``lay`` with the world's perception radii:
    (aligned Rollouts, proxy Rollouts). Each has its own probe purpose and ``REFERENCE_ID``."""
    g = reference_genomes(world, cfg.organisms.max_depth)
    ids = np.array([REFERENCE_ID], dtype=np.int64)
    return (_roll(cfg, world, g[:1], lay, ids, "reference", record=False),
            _roll(cfg, world, g[1:], lay, ids, "proxy_reference", record=False))


def _reached(reach, obj_kind, kinds) -> np.ndarray:
    """Objects of ``kinds`` reached per episode, [N, E]."""
    hit = np.isin(obj_kind, list(kinds))
    return ((reach >= 0) & hit[None]).sum(axis=2)


def probe_sets(cfg, world, episodes: int | None = None, decision_episodes: int | None = None) -> dict[str, ProbeSet]:
    """The held-out layouts of every distribution, their oracle values and random baselines."""
    episodes = cfg.probe.episodes if episodes is None else episodes
    decision_episodes = cfg.probe.decision_episodes if decision_episodes is None else decision_episodes
    nf = len(world.features)
    kind_feat = world.table.features[:, :nf].astype(np.float64)
    r = cfg.probe.random_rollouts
    true_k = [world.kind_index(k) for k in world.true_target]
    proxy_k = [world.kind_index(k) for k in world.proxy_target]
    out = {}
    for d, dist in enumerate(DISTRIBUTIONS):
        lay = probe_layouts(cfg, world, dist, episodes)
        ot, op = oracle_returns(lay, world.table, cfg.world.max_steps)
        rec = _roll(cfg, world, random_genomes(r), lay, np.arange(r) + 1000 * d, "random", record=False)
        counts = _feature_counts(rec.reach, lay.obj_kind, kind_feat)
        kinds = lay.obj_kind[lay.obj_kind >= 0]
        kc = np.bincount(kinds, minlength=len(world.kinds))
        dec = None
        if dist == "shift" and decision_episodes > 0:
            dec = world.sample(_layout_rng(cfg.seed, d, True), "shift", decision_episodes, decision=True)
        ref, pref = matched_reference(cfg, world, lay)
        base = {
            "reference_true_target_reached": float(_reached(ref.reach, lay.obj_kind, true_k).mean()),
            "reference_proxy_target_reached": float(_reached(ref.reach, lay.obj_kind, proxy_k).mean()),
            "reference_power_true_bits": float(power_bits(ref.ret, rec.ret[None])[0]),
            "random_return": float(rec.ret.mean()),
            "random_proxy_return": float(rec.proxy.mean()),
            "random_true_target_reached": float(_reached(rec.reach, lay.obj_kind, true_k).mean()),
            "random_proxy_target_reached": float(_reached(rec.reach, lay.obj_kind, proxy_k).mean()),
        }
        out[dist] = ProbeSet(dist, lay, ot, op, rec.ret, counts, kc, dec, ref.ret[0], pref.proxy[0], base,
                             task_values(cfg, world, lay))
    return out
