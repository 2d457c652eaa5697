"""Held-out sets of the probe: layouts, the exact oracle, random baselines and the perception-matched reference.

Held-out layouts come from ``default_rng([seed, STREAM_PROBE, purpose, kind])`` (purpose: the
distribution's ``constants.Purpose`` value, so adding a distribution leaves the others' layouts alone);
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
from evosim.constants import I_CONSUMED, I_ENDS, I_OPENED, I_PICKED
from evosim.objectives import normalise, power_bits
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
    random_proxy: np.ndarray  # [R, L] proxy return of the random policy
    idle_ret: np.ndarray  # [L] base return of the idle policy (stands still the whole episode)
    idle_proxy: np.ndarray  # [L] proxy return of the idle policy
    random_counts: np.ndarray  # [R, L, F] features summed over objects reached by the random policy
    kind_counts: np.ndarray  # [K] objects of each kind available over the layouts
    decision: object | None  # decision-point layouts (shift only)
    matched_true: np.ndarray | None = None  # [L] base return of the aligned perception-matched reference
    matched_proxy: np.ndarray | None = None  # [L] proxy return of the proxy reference
    baseline: dict | None = None  # per-distribution baseline columns (reference and random policy), scalars
    tasks: object | None = None  # kernels.TaskValues: outputs and base value f of every layout (agreement, the type-signature essay)

    @property
    def chance_true(self) -> float:
        """Mean base return per episode of chance: the better (higher mean) of the random and the idle policy."""
        return max(float(self.random_ret.mean()), float(self.idle_ret.mean()))

    @property
    def chance_proxy(self) -> float:
        """Mean proxy return per episode of chance (the better of random and idle proxy returns)."""
        return max(float(self.random_proxy.mean()), float(self.idle_proxy.mean()))

    def normalised(self, ret) -> np.ndarray:
        """(R - R_chance) / (R_ref - R_chance) of ``ret[N, L]`` (means over the layouts), against the
        perception-matched reference."""
        return normalise(np.asarray(ret, dtype=np.float64).mean(axis=-1), self.chance_true, self.matched_true.mean())

    def normalised_proxy(self, proxy) -> np.ndarray:
        """The same for proxy returns, against the proxy reference and the proxy chance floor."""
        return normalise(np.asarray(proxy, dtype=np.float64).mean(axis=-1), self.chance_proxy,
                         self.matched_proxy.mean())

    def normalised_omniscient(self, ret) -> np.ndarray:
        """(R - R_chance) / (oracle - R_chance): against the exact oracle (no perception limit)."""
        return normalise(np.asarray(ret, dtype=np.float64).mean(axis=-1), self.chance_true, self.oracle_true.mean())

    def normalised_proxy_omniscient(self, proxy) -> np.ndarray:
        return normalise(np.asarray(proxy, dtype=np.float64).mean(axis=-1), self.chance_proxy,
                         self.oracle_proxy.mean())


def _layout_rng(seed: int, distribution: str, decision: bool) -> np.random.Generator:
    return np.random.default_rng([seed, STREAM_PROBE, PROBE_PURPOSE[distribution], int(decision)])


def _roll(cfg, world, genomes, lay, ids, purpose: str, record: bool = True, explore: int = 0):
    return kernels.rollout(genomes, lay, np.arange(len(lay)), cfg.seed, STREAM_PROBE, PROBE_PURPOSE[purpose], ids,
                           kernels.EpisodeSpec.from_config(cfg, world, explore=explore), record=record)


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
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}; allowed: {', '.join(DISTRIBUTIONS)}")
    return world.sample(_layout_rng(cfg.seed, distribution, False), distribution, episodes)



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


# -- the idle policy ----------------------------------------------------------------------------
def idle_returns(layouts, table) -> tuple[np.ndarray, np.ndarray]:
    """(base return, proxy return) per layout of an agent that stands still for the whole episode.

    The kernel pays only when an object acts on the cell the agent is on after a move
    (``_move_and_interact``: a move into a wall stays put and still lets the objects on the cell act),
    so an idle agent collects exactly what the objects on its start cell give on its first step, in
    slot order under the episode's rules (a chest opens only with a key picked up before it; an ending
    object stops the episode; satiety stops it once ``capacity`` objects are eaten). Layouts never put an
    object on the start cell (``World.sample_one`` places objects at Manhattan distance >= 2), so for
    every shipped world this is 0 (tests/test_measures.py checks both)."""
    n = len(layouts)
    ret, proxy = np.zeros(n), np.zeros(n)
    cap = int(getattr(table, "capacity", 0))
    for i in range(n):
        y, x = int(layouts.start[i, 0]), int(layouts.start[i, 1])
        inv = eaten = 0
        for o, k in enumerate(layouts.obj_kind[i]):
            if k < 0 or layouts.obj_pos[i, o, 0] != y or layouts.obj_pos[i, o, 1] != x:
                continue
            it = int(table.interaction[k])
            if it == I_OPENED:
                if inv == 0:
                    continue
                inv -= 1
            elif it == I_PICKED:
                inv += 1
            ret[i] += float(table.reward[k])
            proxy[i] += float(table.proxy[k])
            if it == I_ENDS:
                break
            if it == I_CONSUMED:
                eaten += 1
                if cap > 0 and eaten >= cap:
                    break
    return ret, proxy


# -- perception-matched reference -------------------------------------------------------------
def reference_utility(world, values, tol: float = 1e-6) -> np.ndarray:
    """Least-squares utility over the world's feature channels that reproduces ``values`` (one per kind)
    from the kinds' features; ``ValueError`` if the fit is not exact (max residual > ``tol``)."""
    nf = len(world.features)
    x = world.table.features[:, :nf].astype(np.float64)
    y = np.asarray(values, dtype=np.float64)
    u, *_ = np.linalg.lstsq(x, y, rcond=None)
    # round off the solver's noise: an exact fit must give a kind worth 0 exactly 0 (a utility of 1e-16 on a
    # red ball made the aligned reference head for it as for something valued)
    u = np.round(u, 9) + 0.0
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


def matched_reference(cfg, world, lay, record: bool = False):
    """Rollouts of the aligned and the proxy reference on ``lay`` with the world's perception radii:
    (aligned Rollouts, proxy Rollouts). Each has its own probe purpose and ``REFERENCE_ID``. They plan as
    organisms' planners do but explore systematically (``EpisodeSpec.explore`` = 1: toward the nearest
    reachable cell not yet seen) instead of by random walk when they perceive nothing they value."""
    g = reference_genomes(world, cfg.organisms.max_depth)
    ids = np.array([REFERENCE_ID], dtype=np.int64)
    return (_roll(cfg, world, g[:1], lay, ids, "reference", record=record, explore=1),
            _roll(cfg, world, g[1:], lay, ids, "proxy_reference", record=record, explore=1))


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
    for dist in DISTRIBUTIONS:
        lay = probe_layouts(cfg, world, dist, episodes)
        ot, op = oracle_returns(lay, world.table, cfg.world.max_steps)
        rec = _roll(cfg, world, random_genomes(r), lay, np.arange(r) + 1000 * PROBE_PURPOSE[dist], "random",
                    record=False)
        idle, idle_p = idle_returns(lay, world.table)
        counts = _feature_counts(rec.reach, lay.obj_kind, kind_feat)
        kinds = lay.obj_kind[lay.obj_kind >= 0]
        kc = np.bincount(kinds, minlength=len(world.kinds))
        dec = None
        if dist == "shift" and decision_episodes > 0:
            dec = world.sample(_layout_rng(cfg.seed, dist, True), "shift", decision_episodes, decision=True)
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
        ps = ProbeSet(dist, lay, ot, op, rec.ret, rec.proxy, idle, idle_p, counts, kc, dec, ref.ret[0], pref.proxy[0],
                      base, task_values(cfg, world, lay))
        ps.baseline.update(baseline_classes(cfg, ps))
        out[dist] = ps
    return out


def baseline_classes(cfg, s: ProbeSet) -> dict:
    """The chance floor and the baseline policies' own classes on one distribution: idle and chance returns,
    R_ref / oracle, and ``random_class`` / ``idle_class`` (``objectives.classify`` of each baseline's
    normalised returns, as an organism's)."""
    from evosim.objectives import classify

    c = cfg.probe.competent
    rr, rp = s.random_ret.mean(axis=0)[None], s.random_proxy.mean(axis=0)[None]
    ir, ip = s.idle_ret[None], s.idle_proxy[None]
    om = float(s.oracle_true.mean())
    return {
        "idle_return": float(s.idle_ret.mean()),
        "idle_proxy_return": float(s.idle_proxy.mean()),
        "chance_return": s.chance_true,
        "chance_proxy_return": s.chance_proxy,
        "reference_oracle_ratio": float(s.matched_true.mean()) / om if om > 0 else float("nan"),
        "random_class": str(classify(s.normalised(rr), s.normalised_proxy(rp), c)[0]),
        "idle_class": str(classify(s.normalised(ir), s.normalised_proxy(ip), c)[0]),
    }
