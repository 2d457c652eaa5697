"""Numba kernels behind small public wrappers that check their inputs and allocate outputs.

Kernels see arrays and scalars only; every numba function is private (leading underscore) and
the rest of evosim calls only these wrappers, which raise ``ValueError`` on a bad shape, dtype
or range (checks in kernels/checks.py); the one-decision wrappers live beside their architecture's
episode loop:

    distance_maps(walls, obj_pos, obj_kind)                     BFS maps          kernels/bfs.py
    rollout(genomes, layouts, episode_layout, seed, ..., spec)  whole episodes    kernels/rollout.py (dispatch),
                                                                                  kernels/{heuristic,planner,memoriser,network}.py
                                                                                  (episode loops), kernels/episode.py
    heuristic_action(genome, walls, y, x, ...)                  one decision      kernels/heuristic.py
    planner_action(genome, walls, y, x, ...) / planner_plan     one decision      kernels/planner.py
    episode_keys(seed, stream, generation, organisms, episodes) random keys       kernels/rng.py
    oracle_values(walls, start, obj_pos, obj_kind, ...)         best value        kernels/probe_kernels.py
    choice_events(trace, reach, episode_layout, ...)            choice events     kernels/probe_kernels.py
    fit_choices(feat, dist, nopt, chosen, org_start, ...)       choice-model fit  kernels/probe_kernels.py
    task_values(start, obj_pos, obj_kind, dist, ...)            outputs and f     kernels/probe_kernels.py
    mesa_values(utility, depth, gamma, tasks, ...)              g of planners     kernels/probe_kernels.py
    planner_genes(genomes, max_depth)                           depth, discount   kernels/planner.py

``EpisodeSpec`` (kernels/spec.py) holds a rollout's rules, built once: ``EpisodeSpec.from_config(cfg, world)``.

Each kernel has a slow, obviously-correct twin in ``evosim/reference/naive.py`` / ``evosim/reference/naive_probe.py``;
the tests compare them trajectory by trajectory.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evosim.constants import (
    HEURISTIC_SIGNALS, MAX_DEPTH, MAX_FEATURES, MAX_PERCEIVED, MAX_STEPS_LIMIT, NETWORK_ACTIVATIONS,
)
from evosim.genome import N_GENES
from evosim.kernels.bfs import _distance_maps
from evosim.kernels.checks import _arr, _finite, _inside, _int, _kinds, _shape, _signal_code
from evosim.kernels.heuristic import heuristic_action
from evosim.kernels.planner import _planner_genes, planner_action, planner_plan
from evosim.kernels.probe_kernels import (
    ORACLE_MAX_OBJECTS, _expand_choices, _fit_choices, _scan_choices, _mesa_values, _oracle, _task_values,
)
from evosim.kernels.rng import _episode_keys
from evosim.kernels.rollout import _rollout
from evosim.kernels.spec import EpisodeSpec


def distance_maps(walls: np.ndarray, obj_pos: np.ndarray, obj_kind: np.ndarray) -> np.ndarray:
    """BFS distance from every object to every cell: int16 [L, M, H, W] (UNREACHABLE if cut off)."""
    walls = np.ascontiguousarray(walls, dtype=np.uint8)
    obj_pos = np.ascontiguousarray(obj_pos, dtype=np.int64)
    obj_kind = np.ascontiguousarray(obj_kind, dtype=np.int64)
    if walls.ndim != 3 or obj_pos.ndim != 3 or obj_kind.ndim != 2:
        raise ValueError("distance_maps: expected walls[L,H,W], obj_pos[L,M,2], obj_kind[L,M]")
    n, h, w = walls.shape
    m = obj_kind.shape[1]
    if obj_pos.shape != (n, m, 2) or obj_kind.shape[0] != n:
        raise ValueError(f"distance_maps: shapes disagree: walls {walls.shape}, obj_pos {obj_pos.shape}, obj_kind {obj_kind.shape}")
    live = obj_kind >= 0
    if live.any():
        ys, xs = obj_pos[..., 0][live], obj_pos[..., 1][live]
        if ys.min() < 0 or xs.min() < 0 or ys.max() >= h or xs.max() >= w:
            raise ValueError("distance_maps: an object lies outside the grid")
    out = np.empty((n, m, h, w), dtype=np.int16)
    _distance_maps(walls, obj_pos, obj_kind, out)
    return out


@dataclass
class Rollouts:
    """Per-episode records of a rollout, all [N, E] (``reach`` [N, E, M], ``trace`` [N, E, T+1])."""

    ret: np.ndarray  # float64: base-objective return
    proxy: np.ndarray  # float64: what the proxy would have paid
    steps: np.ndarray  # int64: steps taken
    plans: np.ndarray  # int64: plans evaluated (0 for heuristics)
    reach: np.ndarray  # int64: step at which each object was reached, -1 if never
    trace: np.ndarray | None  # int64: cell index (row * W + col) after each step, -1 after the end
    work: np.ndarray  # int64: search work charged as the cost of computation: over a planner's decisions,
    #                   objects scored (distance lookup + utility) + plans evaluated; over a network's, the
    #                   hidden-state cells updated; 0 for heuristics and memorisers


def rollout(genomes, layouts, episode_layout, seed: int, stream: int, generation: int, organism_ids,
            spec: EpisodeSpec, *, record: bool = False) -> Rollouts:
    """Roll every genome out on every episode under ``spec`` (an ``EpisodeSpec``: kind table, radii,
    feature count, depth limits, step limit, heuristic signal); episode ``e`` plays layout
    ``episode_layout[e]``. The random numbers of episode ``e`` of organism ``organism_ids[i]`` derive from
    (seed, stream, generation, organism_ids[i], e) only. Genomes carry the memoriser block
    (``genome.N_GENES`` columns); each organism plays its architecture's episode loop.
    """
    if not isinstance(spec, EpisodeSpec):
        raise TypeError(f"rollout: spec must be an EpisodeSpec (EpisodeSpec.from_config(cfg, world)), got {type(spec).__name__}")
    mode = HEURISTIC_SIGNALS.index(spec.heuristic_signal)
    genomes = np.ascontiguousarray(genomes, dtype=np.float32)
    if genomes.ndim != 2 or genomes.shape[1] != N_GENES:
        raise ValueError(f"rollout: genomes must be [N, {N_GENES}], got {genomes.shape}")
    if not np.isfinite(genomes).all():
        raise ValueError("rollout: genomes contain NaN or inf")
    if layouts.dist is None:
        raise ValueError("rollout: layouts have no distance maps")
    episode_layout = np.ascontiguousarray(episode_layout, dtype=np.int64)
    if episode_layout.ndim != 1 or (len(episode_layout) and (episode_layout.min() < 0 or episode_layout.max() >= len(layouts))):
        raise ValueError("rollout: episode_layout must index the layouts")
    organism_ids = np.ascontiguousarray(organism_ids, dtype=np.int64)
    if organism_ids.shape != (len(genomes),):
        raise ValueError("rollout: one organism id per genome")
    n, e = len(genomes), len(episode_layout)
    m = layouts.obj_kind.shape[1]
    max_steps = spec.max_steps
    table = spec.table
    ret = np.zeros((n, e))
    proxy = np.zeros((n, e))
    steps = np.zeros((n, e), dtype=np.int64)
    plans = np.zeros((n, e), dtype=np.int64)
    work = np.zeros((n, e), dtype=np.int64)
    reach = np.zeros((n, e, m), dtype=np.int64)
    trace = np.full((n, e, max_steps + 1) if record else (1, 1, max_steps + 1), -1, dtype=np.int64)
    _rollout(genomes, np.ascontiguousarray(layouts.walls, dtype=np.uint8), np.ascontiguousarray(layouts.start, dtype=np.int64),
             np.ascontiguousarray(layouts.obj_pos, dtype=np.int64), np.ascontiguousarray(layouts.obj_kind, dtype=np.int64),
             layouts.dist, episode_layout, np.ascontiguousarray(table.features, dtype=np.float64),
             np.ascontiguousarray(table.reward, dtype=np.float64), np.ascontiguousarray(table.proxy, dtype=np.float64),
             np.ascontiguousarray(table.interaction, dtype=np.int64), spec.radius,
             int(spec.n_features), int(spec.max_depth), int(max_steps), np.uint64(seed), np.uint64(stream),
             np.uint64(generation), organism_ids, ret, proxy, steps, plans, work, reach, trace, bool(record),
             spec.capacity, mode, int(spec.min_depth), int(spec.explore), int(spec.network_channels),
             int(spec.network_min_iterations), int(spec.network_max_iterations),
             NETWORK_ACTIVATIONS.index(spec.network_activation), int(spec.network_window))
    return Rollouts(ret, proxy, steps, plans, reach, trace if record else None, work)


def episode_keys(seed, stream, generation, organisms, episodes) -> np.ndarray:
    """Random key (uint64 [len(organisms), len(episodes)]) of each episode of each organism: the
    key ``rollout`` gives episode ``e`` of organism ``organisms[i]`` when called with the same
    (seed, stream, generation)."""
    fn = "episode_keys"
    seed = _int(f"{fn}: seed", seed, 0, 2**64 - 1)
    stream = _int(f"{fn}: stream", stream, 0, 2**64 - 1)
    generation = _int(f"{fn}: generation", generation, 0, 2**64 - 1)
    organisms = _arr(f"{fn}: organisms", np.atleast_1d(organisms), np.int64, 1)
    episodes = _arr(f"{fn}: episodes", np.atleast_1d(episodes), np.int64, 1)
    if (organisms < 0).any() or (episodes < 0).any():
        raise ValueError(f"{fn}: organisms and episodes must be non-negative")
    out = np.empty((len(organisms), len(episodes)), dtype=np.uint64)
    _episode_keys(np.uint64(seed), np.uint64(stream), np.uint64(generation), organisms, episodes, out)
    return out


# -- probe kernels ---------------------------------------------------------------------------------
def oracle_values(walls, start, obj_pos, obj_kind, kind_value, kind_reward, kind_inter, max_steps: int,
                  capacity: int = 0) -> np.ndarray:
    """Best achievable sum of ``kind_value`` over interacted objects within ``max_steps`` from the
    start, per layout (float64 [L]): ``walls[L, H, W]``, ``start[L, 2]``, ``obj_pos[L, M, 2]``,
    ``obj_kind[L, M]`` (at most ORACLE_MAX_OBJECTS live per layout), per kind ``kind_value``,
    ``kind_reward`` (what ends the episode when none is left) and ``kind_inter``; ``capacity`` > 0
    ends an episode after that many CONSUMED objects."""
    fn = "oracle_values"
    walls = _arr(f"{fn}: walls", walls, np.uint8, 3)
    n, h, w = walls.shape
    start = _arr(f"{fn}: start", start, np.int64, 2)
    _shape(f"{fn}: start", start, (n, 2))
    if n and (start[:, 0].min() < 0 or start[:, 1].min() < 0 or start[:, 0].max() >= h or start[:, 1].max() >= w):
        raise ValueError(f"{fn}: a start lies outside the grid")
    obj_kind = _arr(f"{fn}: obj_kind", obj_kind, np.int64, 2)
    if obj_kind.shape[0] != n:
        raise ValueError(f"{fn}: obj_kind must be [{n}, M], got {obj_kind.shape}")
    obj_pos = _arr(f"{fn}: obj_pos", obj_pos, np.int64, 3)
    _shape(f"{fn}: obj_pos", obj_pos, obj_kind.shape + (2,))
    live = (obj_kind >= 0).sum(axis=1)
    if len(live) and live.max() > ORACLE_MAX_OBJECTS:
        raise ValueError(f"{fn}: at most {ORACLE_MAX_OBJECTS} objects per layout, got {int(live.max())}")
    kind_reward = _arr(f"{fn}: kind_reward", kind_reward, np.float64, 1)
    k = len(kind_reward)
    kind_value = _arr(f"{fn}: kind_value", kind_value, np.float64, 1)
    if kind_value.shape != (k,):
        raise ValueError(f"{fn}: one value per kind ({k}), got {kind_value.shape}")
    kind_inter = _arr(f"{fn}: kind_inter", kind_inter, np.int64, 1)
    _shape(f"{fn}: kind_inter", kind_inter, (k,))
    if k and (kind_inter.min() < 0 or kind_inter.max() > 3):
        raise ValueError(f"{fn}: kind_inter must hold Interaction codes 0..3")
    _finite(f"{fn}: kind_value", kind_value)
    _finite(f"{fn}: kind_reward", kind_reward)
    _kinds(fn, obj_kind, k)
    _inside(fn, obj_pos, obj_kind, h, w)
    max_steps = _int(f"{fn}: max_steps", max_steps, 0)
    capacity = _int(f"{fn}: capacity", capacity, 0)
    out = np.zeros(n)
    _oracle(walls, start, obj_pos, obj_kind, kind_value, kind_reward, kind_inter, max_steps, capacity, out)
    return out


@dataclass
class ChoiceEvents:
    """Choice events, grouped by organism then episode (see kernels/probe_kernels.py)."""

    counts: np.ndarray  # int64 [N, E]: events per episode
    feat: np.ndarray  # float64 [n, MAX_PERCEIVED, F]: what is visible of each option (0 past nopt)
    dist: np.ndarray  # int64 [n, MAX_PERCEIVED]: path distance of each option
    nopt: np.ndarray  # int64 [n]: options per event
    chosen: np.ndarray  # int64 [n]: option slot chosen, -1 for none


def choice_events(trace, reach, episode_layout, obj_pos, obj_kind, dist, kind_feat, radius, n_feat: int,
                  window: int | None = None) -> ChoiceEvents:
    """The choice events of every episode of a recorded rollout: ``trace[N, E, T+1]`` and
    ``reach[N, E, M]`` from ``rollout(..., record=True)``, episode ``e`` played on layout
    ``episode_layout[e]`` of ``obj_pos[L, M, 2]`` / ``obj_kind[L, M]`` / ``dist[L, M, H, W]``;
    ``kind_feat[K, >= n_feat]`` and ``radius[>= n_feat]`` as in the rollout. ``window``: objects
    within this Manhattan distance are options (features beyond their channel's radius read 0);
    default (None) the largest channel radius, as the rollout perceives."""
    fn = "choice_events"
    trace = _arr(f"{fn}: trace", trace, np.int64, 3)
    reach = _arr(f"{fn}: reach", reach, np.int64, 3)
    n, e = trace.shape[:2]
    obj_kind = _arr(f"{fn}: obj_kind", obj_kind, np.int64, 2)
    n_lay, m = obj_kind.shape
    _shape(f"{fn}: reach", reach, (n, e, m))
    obj_pos = _arr(f"{fn}: obj_pos", obj_pos, np.int64, 3)
    _shape(f"{fn}: obj_pos", obj_pos, (n_lay, m, 2))
    dist = np.ascontiguousarray(dist)
    if dist.dtype not in (np.int16, np.int32, np.int64) or dist.ndim != 4 or dist.shape[:2] != (n_lay, m):
        raise ValueError(f"{fn}: dist must be an integer array [{n_lay}, {m}, H, W], got {dist.dtype} {dist.shape}")
    h, w = dist.shape[2:]
    episode_layout = _arr(f"{fn}: episode_layout", episode_layout, np.int64, 1)
    _shape(f"{fn}: episode_layout", episode_layout, (e,))
    if e and (episode_layout.min() < 0 or episode_layout.max() >= n_lay):
        raise ValueError(f"{fn}: episode_layout must index the {n_lay} layouts")
    if trace.size and (trace.min() < -1 or trace.max() >= h * w):
        raise ValueError(f"{fn}: trace holds cell indices 0..{h * w - 1} (or -1 after the end)")
    kind_feat = _arr(f"{fn}: kind_feat", kind_feat, np.float64, 2)
    n_feat = _int(f"{fn}: n_feat", n_feat, 1, min(MAX_FEATURES, kind_feat.shape[1]))
    kind_feat = np.ascontiguousarray(kind_feat[:, :n_feat])
    _kinds(fn, obj_kind, kind_feat.shape[0])
    _inside(fn, obj_pos, obj_kind, h, w)
    radius = _arr(f"{fn}: radius", radius, np.int64, 1)
    if len(radius) < n_feat:
        raise ValueError(f"{fn}: radius needs one entry per feature channel ({n_feat}), got {len(radius)}")
    if window is None:
        window = -1
    else:
        window = _int(f"{fn}: window", window, 0, h + w)
    counts = np.zeros((n, e), dtype=np.int64)
    # one scan of the episodes records each event compactly (step, option indices) in rows reserved per
    # episode; the expansion packs them and reads the options' distances and features back
    # (22 bytes a step: the step, the options' object indices, their number, the slot chosen)
    if m > np.iinfo(np.int16).max:
        raise ValueError(f"{fn}: at most {np.iinfo(np.int16).max} objects per layout, got {m}")
    rows = n * e * max(trace.shape[2] - 1, 0)
    ev_step = np.empty(rows, dtype=np.int32)
    ev_opt = np.empty((rows, MAX_PERCEIVED), dtype=np.int16)
    ev_nopt = np.empty(rows, dtype=np.int8)
    ev_chosen = np.empty(rows, dtype=np.int8)
    _scan_choices(trace, reach, episode_layout, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, w,
                  np.int64(window), counts, ev_step, ev_opt, ev_nopt, ev_chosen)
    flat = counts.reshape(-1)
    offsets = np.concatenate([[0], np.cumsum(flat)[:-1]]).astype(np.int64)
    total = int(flat.sum())
    feat = np.zeros((total, MAX_PERCEIVED, n_feat))
    ev_dist = np.zeros((total, MAX_PERCEIVED), dtype=np.int64)
    nopt = np.zeros(total, dtype=np.int64)
    chosen = np.zeros(total, dtype=np.int64)
    _expand_choices(trace, episode_layout, obj_pos, obj_kind, dist, kind_feat, radius, n_feat, w, counts, offsets,
                    ev_step, ev_opt, ev_nopt, ev_chosen, feat, ev_dist, nopt, chosen)
    return ChoiceEvents(counts, feat, ev_dist, nopt, chosen)


def fit_choices(feat, dist, nopt, chosen, org_start, gammas, ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Penalised maximum-likelihood fit of the choice model per organism: events
    ``org_start[i]..org_start[i+1]-1`` (sorted by organism) belong to organism i; the best of
    ``gammas`` is kept. Returns (w float64 [n_org, F], gamma [n_org], objective [n_org]); NaN rows
    for organisms without events."""
    fn = "fit_choices"
    feat = _arr(f"{fn}: feat", feat, np.float64, 3)
    n, k, f = feat.shape
    _finite(f"{fn}: feat", feat)
    dist = _arr(f"{fn}: dist", dist, np.int64, 2)
    _shape(f"{fn}: dist", dist, (n, k))
    nopt = _arr(f"{fn}: nopt", nopt, np.int64, 1)
    _shape(f"{fn}: nopt", nopt, (n,))
    chosen = _arr(f"{fn}: chosen", chosen, np.int64, 1)
    _shape(f"{fn}: chosen", chosen, (n,))
    if n and (nopt.min() < 0 or nopt.max() > k):
        raise ValueError(f"{fn}: nopt must be in 0..{k}")
    if n and ((chosen < -1).any() or (chosen >= nopt).any()):
        raise ValueError(f"{fn}: chosen must be -1 (none) or an option slot below nopt")
    org_start = _arr(f"{fn}: org_start", org_start, np.int64, 1)
    if len(org_start) < 1 or org_start[0] != 0 or org_start[-1] != n or (np.diff(org_start) < 0).any():
        raise ValueError(f"{fn}: org_start must rise from 0 to the number of events ({n})")
    gammas = _arr(f"{fn}: gammas", gammas, np.float64, 1)
    if len(gammas) == 0 or not ((gammas > 0) & (gammas <= 1)).all():
        raise ValueError(f"{fn}: gammas must be a non-empty list of discounts in (0, 1]")
    ridge = float(ridge)
    if not (np.isfinite(ridge) and ridge > 0):
        raise ValueError(f"{fn}: ridge must be positive (it keeps the Newton steps well posed), got {ridge}")
    n_org = len(org_start) - 1
    w = np.zeros((n_org, f))
    g = np.zeros(n_org)
    obj = np.zeros(n_org)
    _fit_choices(feat, dist, nopt, chosen, org_start, gammas, ridge, w, g, obj)
    return w, g, obj


# -- agreement relative to a distribution (the type-signature essay) -------------------------------------------------
@dataclass
class TaskValues:
    """Outputs of each task (probe layout) and their base value f (see ``task_values``).

    ``cand[L, P]`` object index of output slot q + 1 (-1 past ``n_cand``), ``cand_d[L, P]`` its path
    distance from the start, ``vis[L, P, F]`` its features visible from the start, ``n_cand[L]``
    perceived objects, ``f[L, P + 1]`` base value per output (slot 0: none of them; NaN: no output).
    """

    cand: np.ndarray
    cand_d: np.ndarray
    vis: np.ndarray
    n_cand: np.ndarray
    f: np.ndarray


def _layout_arrays(fn, start, obj_pos, obj_kind, dist):
    start = _arr(f"{fn}: start", start, np.int64, 2)
    obj_pos = _arr(f"{fn}: obj_pos", obj_pos, np.int64, 3)
    obj_kind = _arr(f"{fn}: obj_kind", obj_kind, np.int64, 2)
    dist = np.ascontiguousarray(dist)
    if dist.dtype not in (np.int16, np.int32, np.int64) or dist.ndim != 4:
        raise ValueError(f"{fn}: dist must be an integer array [L, M, H, W] (int16 from distance_maps)")
    nl, m = obj_kind.shape
    _shape(f"{fn}: start", start, (nl, 2))
    _shape(f"{fn}: obj_pos", obj_pos, (nl, m, 2))
    if dist.shape[:2] != (nl, m):
        raise ValueError(f"{fn}: dist must be [L, M, H, W] with L={nl}, M={m}, got {dist.shape}")
    h, w = dist.shape[2], dist.shape[3]
    _inside(fn, obj_pos, obj_kind, h, w)
    if (start[:, 0] < 0).any() or (start[:, 1] < 0).any() or (start[:, 0] >= h).any() or (start[:, 1] >= w).any():
        raise ValueError(f"{fn}: a start lies outside the grid")
    return start, obj_pos, obj_kind, dist


def task_values(start, obj_pos, obj_kind, dist, kind_feat, kind_reward, kind_inter, radius, n_feat: int, depth: int,
                max_steps: int, capacity: int = 0, gamma_base: float = 1.0) -> TaskValues:
    """Outputs and base value f of every task: layouts ``start[L, 2]``, ``obj_pos[L, M, 2]``,
    ``obj_kind[L, M]``, ``dist[L, M, H, W]``; the kind table (``kind_feat[K, F]``, ``kind_reward[K]``,
    ``kind_inter[K]``), perception ``radius[F]``; plans of up to ``depth`` visits; visits after
    ``max_steps`` earn nothing; ``capacity`` > 0 ends a plan at satiety; ``gamma_base`` discounts the
    base reward by arrival time (1: the undiscounted episode return fitness counts)."""
    fn = "task_values"
    start, obj_pos, obj_kind, dist = _layout_arrays(fn, start, obj_pos, obj_kind, dist)
    kind_feat = _arr(f"{fn}: kind_feat", kind_feat, np.float64, 2)
    _finite(f"{fn}: kind_feat", kind_feat)
    nk = kind_feat.shape[0]
    kind_reward = _arr(f"{fn}: kind_reward", kind_reward, np.float64, 1)
    _shape(f"{fn}: kind_reward", kind_reward, (nk,))
    _finite(f"{fn}: kind_reward", kind_reward)
    kind_inter = _arr(f"{fn}: kind_inter", kind_inter, np.int64, 1)
    _shape(f"{fn}: kind_inter", kind_inter, (nk,))
    if kind_inter.size and (kind_inter.min() < 0 or kind_inter.max() > 3):
        raise ValueError(f"{fn}: kind_inter must hold Interaction codes 0..3")
    _kinds(fn, obj_kind, nk)
    n_feat = _int(f"{fn}: n_feat", n_feat, 1, min(MAX_FEATURES, kind_feat.shape[1]))
    radius = _arr(f"{fn}: radius", radius, np.int64, 1)
    if len(radius) < n_feat or (radius[:n_feat] < 0).any():
        raise ValueError(f"{fn}: radius needs one non-negative entry per feature channel ({n_feat})")
    depth = _int(f"{fn}: depth", depth, 1, MAX_DEPTH)
    max_steps = _int(f"{fn}: max_steps", max_steps, 1, MAX_STEPS_LIMIT)
    capacity = _int(f"{fn}: capacity", capacity, 0)
    gamma_base = float(gamma_base)
    if not 0 < gamma_base <= 1:
        raise ValueError(f"{fn}: gamma_base must be in (0, 1], got {gamma_base}")
    nl = len(start)
    cand = np.full((nl, MAX_PERCEIVED), -1, dtype=np.int64)
    cand_d = np.zeros((nl, MAX_PERCEIVED), dtype=np.int64)
    vis = np.zeros((nl, MAX_PERCEIVED, n_feat))
    n_cand = np.zeros(nl, dtype=np.int64)
    f = np.full((nl, MAX_PERCEIVED + 1), np.nan)
    _task_values(start, obj_pos, obj_kind, dist, kind_feat, kind_reward, kind_inter, radius, n_feat, depth, max_steps,
                 capacity, gamma_base, cand, cand_d, vis, n_cand, f)
    return TaskValues(cand, cand_d, vis, n_cand, f)


def planner_genes(genomes, max_depth: int, min_depth: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(depth int64 [N], discount float64 [N]) every genome expresses as a planner, exactly as the rollout decodes
    them (``min_depth`` 1, or 0 where a depth-0 planner is reactive: ``organisms.min_depth``)."""
    genomes = _arr("planner_genes: genomes", genomes, np.float32, 2)
    if genomes.shape[1] != N_GENES:
        raise ValueError(f"planner_genes: genomes must be [N, {N_GENES}], got {genomes.shape}")
    _finite("planner_genes: genomes", genomes)
    max_depth = _int("planner_genes: max_depth", max_depth, 1, MAX_DEPTH)
    min_depth = _int("planner_genes: min_depth", min_depth, 0, 1)
    depth = np.empty(len(genomes), dtype=np.int64)
    gamma = np.empty(len(genomes))
    for i in range(len(genomes)):
        depth[i], gamma[i] = _planner_genes(genomes[i], max_depth, min_depth)
    return depth, gamma


def mesa_values(utility, depth, gamma, tasks: TaskValues, obj_pos, obj_kind, dist, kind_inter) -> np.ndarray:
    """g over outputs (float64 [N, L, P + 1], NaN for no output) of planners with ``utility[N, F]``
    (over the channels of ``tasks.vis``), search ``depth[N]`` (1..MAX_DEPTH) and discount
    ``gamma[N]`` in (0, 1], on the tasks of ``task_values`` (same layouts)."""
    fn = "mesa_values"
    if not isinstance(tasks, TaskValues):
        raise ValueError(f"{fn}: tasks must come from task_values")
    _, obj_pos, obj_kind, dist = _layout_arrays(fn, np.zeros((len(obj_kind), 2), dtype=np.int64), obj_pos, obj_kind,
                                                dist)
    if len(obj_kind) != len(tasks.n_cand):
        raise ValueError(f"{fn}: the layouts are not those of tasks ({len(obj_kind)} vs {len(tasks.n_cand)})")
    nf = tasks.vis.shape[2]
    utility = _arr(f"{fn}: utility", utility, np.float64, 2)
    if utility.shape[1] != nf:
        raise ValueError(f"{fn}: utility must be [N, {nf}], got {utility.shape}")
    _finite(f"{fn}: utility", utility)
    n = len(utility)
    depth = _arr(f"{fn}: depth", depth, np.int64, 1)
    gamma = _arr(f"{fn}: gamma", gamma, np.float64, 1)
    _shape(f"{fn}: depth", depth, (n,))
    _shape(f"{fn}: gamma", gamma, (n,))
    if n and (depth.min() < 1 or depth.max() > MAX_DEPTH):
        raise ValueError(f"{fn}: depth must be in 1..{MAX_DEPTH}")
    if n and not ((gamma > 0) & (gamma <= 1)).all():
        raise ValueError(f"{fn}: gamma must be in (0, 1]")
    kind_inter = _arr(f"{fn}: kind_inter", kind_inter, np.int64, 1)
    _kinds(fn, obj_kind, len(kind_inter))
    g = np.empty((n, len(obj_kind), MAX_PERCEIVED + 1))
    _mesa_values(utility, depth, gamma, obj_pos, obj_kind, dist, kind_inter, tasks.cand, tasks.cand_d, tasks.vis,
                 tasks.n_cand, g)
    return g


__all__ = [
    "TaskValues", "task_values", "mesa_values", "planner_genes",
    "ChoiceEvents", "EpisodeSpec", "Rollouts", "choice_events", "distance_maps", "episode_keys", "fit_choices", "heuristic_action",
    "oracle_values", "planner_action", "planner_plan", "rollout",
]
