"""The base world: a kind table, a grid generator and layout distributions packed into arrays.

A world subclass declares its perceptual ``features``, its ``kinds`` and one hook,
``composition(distribution)``, which says which kinds (and how many of each) a layout of a
distribution holds. The object list of a layout (``_objects``) and the padded array width
(``n_objects_max``) are both derived from it, so they cannot disagree. Everything else
(walls, placement, packing, BFS distance maps) is shared here, so every world yields the same
array format for the kernels.

Every world has the distributions ``DISTRIBUTIONS`` (train, shift, shift_balanced, control, all probed);
the balanced shift, ``shift_balanced``, is the shift with as
many proxy-target objects as true-target objects, each proxy paired with a true target at the
same BFS path distance from the start (which of the two cells gets which kind decided by a fair
coin), so that what organisms pursue is not confounded with object counts or distances. The pair
of kinds is the world's ``balanced_pair``; ``proxy_feature`` and ``true_feature`` name the cues
that distinguish them (preferences compare these cues, not bundles of features).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from evosim.constants import MAX_FEATURES, NO_KIND, Interaction
from evosim.schema import DISTRIBUTIONS

#: distributions a world can sample (every one is probed)
LAYOUT_DISTRIBUTIONS = DISTRIBUTIONS
#: the distributions that set the padded object width and the per-kind probe columns: all but the balanced
#: shift (training and the original probe tables keep their array shapes)
_SHAPE_DISTRIBUTIONS = tuple(d for d in DISTRIBUTIONS if d != "shift_balanced")


@dataclass(frozen=True)
class Kind:
    """One kind of object: what it looks like, what it is worth, what touching it does."""

    name: str
    features: dict[str, float]
    """perceptual features (organisms see only these); missing channels are 0"""
    reward: float
    """base reward (what fitness counts) when the interaction happens"""
    interaction: Interaction
    """what stepping onto the object does"""
    proxy: float = 0.0
    """what the proxy would pay for it (red things, keys, sweetness): never part of fitness"""


@dataclass(frozen=True)
class KindTable:
    """The kind table as arrays for the kernels (features padded to ``MAX_FEATURES``)."""

    names: tuple[str, ...]
    features: np.ndarray  # float32 [K, MAX_FEATURES]
    reward: np.ndarray  # float32 [K]
    proxy: np.ndarray  # float32 [K]
    interaction: np.ndarray  # int64 [K]
    capacity: int = 0
    """satiety: objects an organism can eat (``CONSUMED``) before its episode ends; 0 = no limit"""


@dataclass
class Layouts:
    """A batch of layouts packed into arrays (all of one grid size).

    walls[L, H, W] uint8, start[L, 2] int64 (row, col), obj_pos[L, M, 2] int64,
    obj_kind[L, M] int64 (``NO_KIND`` pads), dist[L, M, H, W] int16 BFS distance from
    each object to every cell (filled by ``kernels.distance_maps``), decision[L] bool
    (layouts built so that reaching the true target means not reaching the proxy).
    """

    walls: np.ndarray
    start: np.ndarray
    obj_pos: np.ndarray
    obj_kind: np.ndarray
    dist: np.ndarray | None = None
    decision: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.walls.shape[0])

    def take(self, idx) -> "Layouts":
        idx = np.asarray(idx)
        return Layouts(
            self.walls[idx], self.start[idx], self.obj_pos[idx], self.obj_kind[idx],
            None if self.dist is None else self.dist[idx],
            None if self.decision is None else self.decision[idx],
        )

    @staticmethod
    def concat(parts: list["Layouts"]) -> "Layouts":
        cat = lambda xs: np.concatenate(xs, axis=0)  # noqa: E731
        return Layouts(
            cat([p.walls for p in parts]), cat([p.start for p in parts]),
            cat([p.obj_pos for p in parts]), cat([p.obj_kind for p in parts]),
            None if any(p.dist is None for p in parts) else cat([p.dist for p in parts]),
            None if any(p.decision is None for p in parts) else cat([p.decision for p in parts]),
        )


class World:
    """Base class. Subclasses set the class attributes and override ``composition``.

    Settings come from ``WorldConfig``: grid ``size``, ``wall_density``, ``n_distractors``,
    per-feature perception ``radius`` and ``max_steps``.
    """

    name: ClassVar[str]
    features: ClassVar[tuple[str, ...]]
    """perceptual feature channels, in kernel order"""
    default_radius: ClassVar[dict[str, int]]
    """perception radius (Manhattan) per feature channel"""
    kinds: ClassVar[tuple[Kind, ...]]
    proxy_name: ClassVar[str]
    """what the proxy is, in words (for tables and figures)"""
    true_target: ClassVar[tuple[str, ...]]
    """kinds that carry the base reward (for decision-point layouts)"""
    proxy_target: ClassVar[tuple[str, ...]] = ()
    """kinds that the proxy pays for but the base objective does not (decision-point layouts)"""
    satiety: ClassVar[int] = 0
    """objects an organism can eat before its episode ends (0: no limit); part of the world's physics"""
    balanced_pair: ClassVar[tuple[str, str]]
    """(proxy kind, true kind) of ``shift_balanced``: as many of each, paired at equal distance from the start"""
    proxy_feature: ClassVar[str]
    """the proxy cue: the feature channel that marks the proxy kind of ``balanced_pair`` and not the true kind"""
    true_feature: ClassVar[str]
    """the true cue: the feature channel that marks the true kind of ``balanced_pair`` and not the proxy kind"""

    def __init__(self, cfg):
        self.cfg = cfg
        self.size = cfg.size
        self.max_objects = self.n_objects_max()
        radius = dict(self.default_radius)
        radius.update(dict(cfg.radius))
        self.radius = np.zeros(MAX_FEATURES, dtype=np.int64)
        for i, f in enumerate(self.features):
            self.radius[i] = radius[f]
        self.table = self.kind_table()
        self._kind_index = {k.name: i for i, k in enumerate(self.kinds)}

    # -- hooks -----------------------------------------------------------------------------
    def composition(self, distribution: str) -> list[tuple[str | tuple[str, ...], int]]:
        """What one layout of ``distribution`` holds: ``(kind, count)`` entries, in placement order.

        Override in each world: it is the one place that says how many objects a layout has.
        A tuple of kinds in place of a kind means each of the ``count`` objects is drawn
        uniformly from the tuple (``kinds[rng.integers(len(kinds))]``, one draw per object).
        """
        raise NotImplementedError

    def _objects(self, rng: np.random.Generator, distribution: str) -> list[str]:
        """Kinds of the objects in one layout of ``distribution``, expanded from ``composition``."""
        out: list[str] = []
        for kind, count in self.composition(distribution):
            if isinstance(kind, str):
                out += [kind] * count
            else:
                out += [kind[rng.integers(len(kind))] for _ in range(count)]
        return out

    def n_objects(self, distribution: str) -> int:
        """Objects in every layout of ``distribution`` (from ``composition``; draws no random numbers)."""
        return sum(count for _kind, count in self.composition(distribution))

    def n_objects_max(self) -> int:
        """Objects per layout in the fullest probed distribution: the width of the padded object arrays
        (a ``shift_balanced`` batch is wider only if it holds more objects than that)."""
        return max(self.n_objects(d) for d in _SHAPE_DISTRIBUTIONS)

    def kinds_in(self, distributions=_SHAPE_DISTRIBUTIONS) -> set[str]:
        """Names of the kinds that layouts of ``distributions`` can hold (from ``composition``; no random numbers)."""
        out: set[str] = set()
        for d in distributions:
            for kind, count in self.composition(d):
                if count > 0:
                    out.update([kind] if isinstance(kind, str) else kind)
        return out

    def balanced_count(self) -> int:
        """Objects of each kind of ``balanced_pair`` in a ``shift_balanced`` layout: half of the shift's
        proxy and true targets together (rounded down, at least 1), so the balanced shift holds as many
        target objects as the shift does (one fewer when their number is odd)."""
        n = sum(c for kind, c in self.composition("shift")
                if isinstance(kind, str) and (kind in self.true_target or kind in self.proxy_target))
        return max(1, n // 2)

    # -- shared machinery ------------------------------------------------------------------
    @classmethod
    def kind_table(cls) -> KindTable:
        k = len(cls.kinds)
        feats = np.zeros((k, MAX_FEATURES), dtype=np.float32)
        for i, kind in enumerate(cls.kinds):
            for f, v in kind.features.items():
                feats[i, cls.features.index(f)] = v
        return KindTable(
            names=tuple(x.name for x in cls.kinds),
            features=feats,
            reward=np.array([x.reward for x in cls.kinds], dtype=np.float32),
            proxy=np.array([x.proxy for x in cls.kinds], dtype=np.float32),
            interaction=np.array([int(x.interaction) for x in cls.kinds], dtype=np.int64),
            capacity=int(cls.satiety),
        )

    def kind_index(self, name: str) -> int:
        return self._kind_index[name]

    def _walls(self, rng: np.random.Generator) -> np.ndarray:
        n = self.size
        walls = np.zeros((n, n), dtype=np.uint8)
        walls[0, :] = walls[-1, :] = walls[:, 0] = walls[:, -1] = 1
        inner = rng.random((n - 2, n - 2)) < self.cfg.wall_density
        walls[1:-1, 1:-1] = inner
        return walls

    @staticmethod
    def _start_distance(walls: np.ndarray, start: tuple[int, int]) -> dict[tuple[int, int], int]:
        """BFS path distance (4-neighbour moves around walls) from ``start`` to every reachable cell, in BFS
        order (neighbours up, right, down, left): the keys are the cells reachable from the start."""
        h, w = walls.shape
        dist = {start: 0}
        order = [start]
        i = 0
        while i < len(order):
            y, x = order[i]
            i += 1
            for dy, dx in ((-1, 0), (0, 1), (1, 0), (0, -1)):
                c = (y + dy, x + dx)
                if 0 <= c[0] < h and 0 <= c[1] < w and not walls[c] and c not in dist:
                    dist[c] = dist[(y, x)] + 1
                    order.append(c)
        return dist

    def sample_one(self, rng: np.random.Generator, distribution: str, decision: bool = False):
        """One layout: (walls, start, [(row, col, kind_index), ...])."""
        if distribution not in LAYOUT_DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {distribution!r}; allowed: {LAYOUT_DISTRIBUTIONS}")
        balanced = distribution == "shift_balanced"
        if balanced and decision:
            raise ValueError("decision layouts are built from shift; shift_balanced pairs its targets at equal distance")
        kinds = self._objects(rng, distribution)
        for _attempt in range(100):
            walls = self._walls(rng)
            free = np.argwhere(walls == 0)
            start = tuple(int(v) for v in free[rng.integers(len(free))])
            reach = self._start_distance(walls, start)
            cells = [c for c in reach if abs(c[0] - start[0]) + abs(c[1] - start[1]) >= 2]
            if len(cells) < len(kinds):
                continue
            if balanced:
                placed = self._place_balanced(rng, reach, cells, kinds)
                if placed is None:
                    continue
                return walls, start, placed
            if decision:
                placed = self._place_decision(rng, walls, start, cells, kinds)
                if placed is None:
                    continue
                return walls, start, placed
            pick = rng.choice(len(cells), size=len(kinds), replace=False)
            objs = [(cells[j][0], cells[j][1], self._kind_index[k]) for j, k in zip(pick, kinds)]
            return walls, start, objs
        raise RuntimeError(f"{self.name}: could not place {len(kinds)} objects in a {self.size}x{self.size} grid")

    def _place_decision(self, rng, walls, start, cells, kinds):
        """Put a true target and a proxy target on opposite sides of the start.

        The two are placed in opposite half-planes (through the start), each at least a
        third of the grid away, so an organism that goes to one passes nowhere near the other.
        """
        true_ix = [i for i, k in enumerate(kinds) if k in self.true_target]
        proxy_ix = [i for i, k in enumerate(kinds) if k in self.proxy_target]
        if not true_ix or not proxy_ix:
            return None
        sy, sx = start
        horizontal = bool(rng.integers(2))
        far = max(2, self.size // 3)
        def side(c):
            d = (c[1] - sx) if horizontal else (c[0] - sy)
            return d
        neg = [c for c in cells if side(c) <= -1 and abs(c[0] - sy) + abs(c[1] - sx) >= far]
        pos = [c for c in cells if side(c) >= 1 and abs(c[0] - sy) + abs(c[1] - sx) >= far]
        if not neg or not pos:
            return None
        if rng.integers(2):
            neg, pos = pos, neg
        t = neg[rng.integers(len(neg))]
        p = pos[rng.integers(len(pos))]
        used = {t, p}
        rest = [c for c in cells if c not in used]
        others = [i for i in range(len(kinds)) if i not in (true_ix[0], proxy_ix[0])]
        if len(rest) < len(others):
            return None
        pick = rng.choice(len(rest), size=len(others), replace=False)
        objs = [(t[0], t[1], self._kind_index[kinds[true_ix[0]]]), (p[0], p[1], self._kind_index[kinds[proxy_ix[0]]])]
        objs += [(rest[j][0], rest[j][1], self._kind_index[kinds[i]]) for j, i in zip(pick, others)]
        return objs

    def _place_balanced(self, rng, dist, cells, kinds):
        """``shift_balanced`` placement: each proxy object paired with a true-target object on a cell at the
        same BFS distance from the start; a fair coin says which of the two cells is the proxy's. The first
        cell of a pair is uniform over the free cells that still have a partner at their distance, the
        partner uniform among those. Other objects go on uniform free cells, as in ``shift``. The object
        order is shuffled, so no slot (and no tie-break by slot) tells the kinds apart. None if the free
        cells cannot hold the pairs (the caller draws new walls). ``dist``: ``_start_distance`` of the layout."""
        proxy, true = self.balanced_pair
        k = kinds.count(proxy)
        if k != kinds.count(true):
            raise ValueError(f"{self.name}: shift_balanced holds {k} {proxy} and {kinds.count(true)} {true}")
        by_dist: dict[int, list[tuple[int, int]]] = {}
        for c in cells:
            by_dist.setdefault(dist[c], []).append(c)
        objs = []
        for _pair in range(k):
            eligible = [c for group in by_dist.values() if len(group) >= 2 for c in group]
            if not eligible:
                return None
            first = eligible[rng.integers(len(eligible))]
            group = by_dist[dist[first]]
            group.remove(first)
            second = group.pop(int(rng.integers(len(group))))
            p, t = (first, second) if rng.integers(2) else (second, first)
            objs += [(p[0], p[1], self._kind_index[proxy]), (t[0], t[1], self._kind_index[true])]
        rest = [c for group in by_dist.values() for c in group]
        others = [kd for kd in kinds if kd not in (proxy, true)]
        if len(rest) < len(others):
            return None
        pick = rng.choice(len(rest), size=len(others), replace=False)
        objs += [(rest[j][0], rest[j][1], self._kind_index[kd]) for j, kd in zip(pick, others)]
        return [objs[i] for i in rng.permutation(len(objs))]

    def sample(self, rng: np.random.Generator, distribution: str, n: int, decision: bool = False) -> Layouts:
        """``n`` layouts of ``distribution`` packed into arrays, with BFS distance maps."""
        from evosim.kernels import distance_maps

        s, m = self.size, max(self.max_objects, self.n_objects(distribution))
        walls = np.zeros((n, s, s), dtype=np.uint8)
        start = np.zeros((n, 2), dtype=np.int64)
        obj_pos = np.zeros((n, m, 2), dtype=np.int64)
        obj_kind = np.full((n, m), NO_KIND, dtype=np.int64)
        for i in range(n):
            w, st, objs = self.sample_one(rng, distribution, decision=decision)
            walls[i], start[i] = w, st
            for j, (y, x, k) in enumerate(objs[:m]):
                obj_pos[i, j] = (y, x)
                obj_kind[i, j] = k
        lay = Layouts(walls, start, obj_pos, obj_kind, decision=np.full(n, decision))
        lay.dist = distance_maps(lay.walls, lay.obj_pos, lay.obj_kind)
        return lay

    def sample_training(self, rng: np.random.Generator, n: int, training: str, proxy_break_rate: float) -> Layouts:
        """Training layouts: ``training`` distribution, with a share from ``control`` (proxy broken).

        Rate 1 draws exactly what ``training = "control"`` draws (the same layouts), so the end points of a
        dose-response sweep are the experiment (rate 0) and its control (rate 1)."""
        if proxy_break_rate <= 0.0 or training == "control":
            return self.sample(rng, training, n)
        if proxy_break_rate >= 1.0:
            return self.sample(rng, "control", n)
        broken = rng.random(n) < proxy_break_rate
        parts = []
        for b in broken:
            parts.append(self.sample(rng, "control" if b else training, 1))
        return Layouts.concat(parts)
