"""The Mesa reference model: a heuristic organism's episode as Mesa agents on a MultiGrid.

Owns ``mesa_classes`` (``WorldObject``, ``HeuristicOrganism`` and the ``MesaEpisode`` model,
built lazily because importing Mesa costs time the kernels never pay) and ``mesa_rollout``
(every organism of a workload on every episode). It plays the same episodes as the heuristic
kernel (same policy, same counter-based random draws from ``evosim.reference.naive``, same
termination rule), so ``evosim bench`` can report ``heuristic_speedup_vs_mesa`` on identical
work; ``tests/test_bench.py`` checks that it does. Moved here from ``evosim/bench.py``.
"""
from __future__ import annotations

import math

import numpy as np

from evosim.reference.naive import episode_key, uniform


def mesa_classes():
    """The Mesa reference model, built lazily (importing Mesa costs time the kernels never pay)."""
    import warnings

    import mesa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mesa.space import MultiGrid

    from evosim import genome as gn

    moves = ((-1, 0), (0, 1), (1, 0), (0, -1))  # north, east, south, west as (row, col)

    class WorldObject(mesa.Agent):
        """A door, ball, key, chest or food item lying on the grid."""

        def __init__(self, model, index, kind):
            super().__init__(model)
            self.index = index
            self.kind = kind

    class HeuristicOrganism(mesa.Agent):
        """A reactive organism: scores each move from what it sees, plus Gumbel noise, and takes the best."""

        def __init__(self, model, genome, key):
            super().__init__(model)
            g = [float(v) for v in genome]
            f = model.n_feat
            self.attract = g[gn.H_ATTRACT][:f]
            self.attract_key = [a + b for a, b in zip(g[gn.H_ATTRACT][:f], g[gn.H_ATTRACT_KEY][:f])]
            self.wall, self.momentum, self.back = g[gn.H_WALL], g[gn.H_MOMENTUM], g[gn.H_BACK]
            self.temperature = math.exp(min(max(g[gn.H_LOGTEMP], -5.0), 3.0))
            self.key = key
            self.prev = -1
            self.inventory = 0
            self.steps = 0
            self.ret = 0.0
            self.done = False
            self.eaten = 0
            self.gone = set()  # objects this organism has used up
            self.trace = []

        def blocked(self, row, col, a):
            r, c = row + moves[a][0], col + moves[a][1]
            m = self.model
            return not (0 <= r < m.height and 0 <= c < m.width) or m.walls[r][c] != 0

        def step(self):
            m = self.model
            if self.done or self.steps >= m.max_steps or not m.reward_left(self):
                self.done = True
                return
            col, row = self.pos
            # Observe: objects within the largest perception radius, in object order
            seen = [a for a in m.grid.get_neighbors(self.pos, moore=False, include_center=False, radius=m.max_radius)
                    if isinstance(a, WorldObject) and a.index not in self.gone]
            seen.sort(key=lambda a: a.index)
            signal = [[0.0] * 4 for _ in range(m.n_feat)]
            for obj in seen:
                dy, dx = obj.pos[1] - row, obj.pos[0] - col
                d = abs(dy) + abs(dx)
                for f in range(m.n_feat):
                    v = m.features[obj.kind][f]
                    if v != 0.0 and d <= m.radius[f]:
                        if dy < 0:
                            signal[f][0] += v / d
                        if dx > 0:
                            signal[f][1] += v / d
                        if dy > 0:
                            signal[f][2] += v / d
                        if dx < 0:
                            signal[f][3] += v / d
            # Decide
            weights = self.attract_key if self.inventory > 0 else self.attract
            best, best_score = 0, -math.inf
            for a in range(4):
                score = 0.0
                for f in range(m.n_feat):
                    score += weights[f] * signal[f][a]
                if self.blocked(row, col, a):
                    score += self.wall
                if self.prev >= 0 and a == self.prev:
                    score += self.momentum
                elif self.prev >= 0 and a == (self.prev + 2) % 4:
                    score += self.back
                score += self.temperature * (-math.log(-math.log(uniform(self.key, self.steps, a))))
                if score > best_score:
                    best, best_score = a, score
            # Move
            if not self.blocked(row, col, best):
                row, col = row + moves[best][0], col + moves[best][1]
                m.grid.move_agent(self, (col, row))
            self.prev = best
            self.steps += 1
            self.trace.append(row * m.width + col)
            # Interact
            here = sorted((a for a in m.grid.get_cell_list_contents([self.pos])
                           if isinstance(a, WorldObject) and a.index not in self.gone), key=lambda a: a.index)
            for obj in here:
                rule = m.interaction[obj.kind]
                if rule == 3:  # opened with a key
                    if self.inventory == 0:
                        continue
                    self.inventory -= 1
                elif rule == 2:  # picked up
                    self.inventory += 1
                self.gone.add(obj.index)
                self.ret += m.reward[obj.kind]
                if rule == 1:  # ends the episode
                    self.done = True
                elif rule == 0:  # consumed: a full stomach ends the episode
                    self.eaten += 1
                    if 0 < m.capacity <= self.eaten:
                        self.done = True

    class MesaEpisode(mesa.Model):
        """One organism's episode on one layout: objects and the organism on a Mesa MultiGrid."""

        def __init__(self, walls, start, obj_pos, obj_kind, table, radius, n_feat, max_steps, genome, key):
            super().__init__()
            self.height, self.width = len(walls), len(walls[0])
            self.walls = walls
            self.n_feat = n_feat
            self.radius = [int(r) for r in radius[:n_feat]]
            self.max_radius = max(self.radius)
            self.features = table.features.astype(np.float64).tolist()
            self.reward = table.reward.astype(np.float64).tolist()
            self.interaction = table.interaction.tolist()
            self.capacity = int(getattr(table, "capacity", 0))
            self.max_steps = max_steps
            self.grid = MultiGrid(self.width, self.height, torus=False)
            self.objects = []
            for i, ((r, c), k) in enumerate(zip(obj_pos, obj_kind)):
                if k >= 0:
                    obj = WorldObject(self, i, int(k))
                    self.grid.place_agent(obj, (int(c), int(r)))
                    self.objects.append(obj)
            self.organism = HeuristicOrganism(self, genome, key)
            self.grid.place_agent(self.organism, (int(start[1]), int(start[0])))
            self.organism.trace.append(int(start[0]) * self.width + int(start[1]))
            self.running = True

        def reward_left(self, organism) -> bool:
            """Is any reward still obtainable (the kernel's termination rule)?"""
            live = [o.kind for o in self.objects if o.index not in organism.gone]
            direct = any(self.interaction[k] in (0, 1) and self.reward[k] > 0 for k in live)
            chests = any(self.interaction[k] == 3 and self.reward[k] > 0 for k in live)
            keys = any(self.interaction[k] == 2 for k in live)
            return direct or (chests and (organism.inventory > 0 or keys))

        def step(self):
            self.agents_by_type[HeuristicOrganism].do("step")
            self.running = not self.organism.done

    return MesaEpisode


def mesa_rollout(work):
    """Every organism of ``work`` (an ``evosim.bench.Workload``) on every episode with the Mesa reference;
    returns steps, returns, traces."""
    MesaEpisode = mesa_classes()
    lay = work.layouts
    n, e = len(work.genomes), len(work.episode_layout)
    steps = np.zeros((n, e), dtype=np.int64)
    ret = np.zeros((n, e))
    trace = np.full((n, e, work.max_steps + 1), -1, dtype=np.int64)
    walls = [lay.walls[i].tolist() for i in range(len(lay))]
    for i in range(n):
        for ep in range(e):
            li = int(work.episode_layout[ep])
            key = episode_key(work.seed, work.stream, work.generation, i, ep)
            model = MesaEpisode(walls[li], lay.start[li], lay.obj_pos[li], lay.obj_kind[li], work.world.table,
                                work.world.radius, work.n_features, work.max_steps, work.genomes[i], key)
            while model.running:
                model.step()
            org = model.organism
            steps[i, ep], ret[i, ep] = org.steps, org.ret
            trace[i, ep, : len(org.trace)] = org.trace
    return steps, ret, trace


__all__ = ["mesa_rollout"]
