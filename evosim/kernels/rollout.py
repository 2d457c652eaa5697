"""The parallel rollout of a population (``_rollout``, behind ``evosim.kernels.rollout``): a prange over
organisms, each playing every episode with its architecture's episode loop (``kernels/heuristic.py``,
``kernels/planner.py``, ``kernels/memoriser.py``, ``kernels/network.py``; the shared parts in
``kernels/episode.py``).

One episode loop per architecture, each with its decision written in its loop body, was chosen over
one loop calling a decision helper: numba copies every array argument of an inlined call into a new
variable and, across the decisions' control flow, does not prune the copies' reference counts (two
atomic operations per array per call), which cost more than the arithmetic (docs/performance.md;
``tests/test_kernel_refcounts.py`` checks it).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from evosim.constants import MAX_DEPTH, MAX_FEATURES
from evosim.kernels.episode import (
    A_HEURISTIC, A_MEMORISER, A_NETWORK, A_PLANNER, EpisodeLayout, Rules, _arch_of, _new_scratch,
)
from evosim.kernels.heuristic import SIGNAL_TABLE_MAX_CELLS, _heuristic_play, _signal_tables
from evosim.kernels.memoriser import _memoriser_play
from evosim.kernels.network import NetRules, _network_play, _new_net_scratch
from evosim.kernels.planner import EXPLORE_FRONTIER, _new_frontier, _planner_play
from evosim.kernels.rng import _episode_key


@njit(cache=True, parallel=True)
def _rollout(genomes, walls, start, obj_pos, obj_kind, dist, episode_layout, kind_feat, kind_reward, kind_proxy,
             kind_inter, radius, n_feat, max_depth, max_steps, seed, stream, generation, organism_ids,
             ret, proxy, steps, plans, work, reach, trace, record, capacity, signal, min_depth, explore,
             net_channels, net_min_iter, net_max_iter, net_activation, net_window):
    n = genomes.shape[0]
    n_ep = episode_layout.shape[0]
    m = obj_kind.shape[1]
    h, w = walls.shape[1], walls.shape[2]
    # Heuristic signals while every object is present: once per episode layout, not per step
    any_heuristic = False
    for i in range(n):
        if _arch_of(genomes[i]) == A_HEURISTIC:
            any_heuristic = True
            break
    use_tab = any_heuristic and n_ep * h * w <= SIGNAL_TABLE_MAX_CELLS
    if use_tab:
        tab = np.empty((n_ep, h, w, MAX_FEATURES, 4))
        _signal_tables(walls, obj_pos, obj_kind, dist, episode_layout, kind_feat, radius, n_feat, signal, tab)
    else:
        tab = np.empty((1, 1, 1, MAX_FEATURES, 4))
    rules = Rules(kind_feat, kind_reward, kind_proxy, kind_inter, radius, n_feat, max_depth, max_steps, capacity,
                  signal, min_depth)
    frontier = explore == EXPLORE_FRONTIER
    net = NetRules(net_channels, net_min_iter, net_max_iter, net_activation, net_window)
    for i in prange(n):
        g = genomes[i]
        arch = _arch_of(g)
        sc = _new_scratch(m, MAX_DEPTH * h * w + 1 if arch == A_PLANNER else 1)
        fr = _new_frontier(h, w) if frontier and arch == A_PLANNER else _new_frontier(1, 1)
        if arch == A_NETWORK:
            ns = _new_net_scratch(net_channels, h, w)
        else:
            ns = _new_net_scratch(1, 1, 1)
        for e in range(n_ep):
            li = episode_layout[e]
            key = _episode_key(seed, stream, generation, organism_ids[i], e)
            lay = EpisodeLayout(walls[li], start[li], obj_pos[li], obj_kind[li], dist[li])
            tr = trace[i, e] if record else trace[0, 0]
            tb = tab[e] if use_tab else tab[0]
            if arch == A_PLANNER and frontier:
                r, p, s, pl, wk, _ = _planner_play(g, lay, rules, key, sc, reach[i, e], tr, record, -1, 0, 0,
                                                   False, fr)
            elif arch == A_PLANNER:
                r, p, s, pl, wk, _ = _planner_play(g, lay, rules, key, sc, reach[i, e], tr, record, -1, 0, 0,
                                                   False, None)
            elif arch == A_MEMORISER:
                r, p, s, pl, wk = _memoriser_play(g, lay, rules, sc, reach[i, e], tr, record)
            elif arch == A_NETWORK:
                r, p, s, pl, wk = _network_play(g, lay, rules, net, sc, ns, reach[i, e], tr, record)
            else:
                r, p, s, pl, wk, _ = _heuristic_play(g, lay, rules, key, sc, tb, use_tab, reach[i, e], tr, record,
                                                     -1, 0, 0, False)
            ret[i, e] = r
            proxy[i, e] = p
            steps[i, e] = s
            plans[i, e] = pl
            work[i, e] = wk
