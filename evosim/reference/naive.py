"""Slow, plainly written twins of every numba kernel (the reference the kernel tests compare against).

Written from the kernel and world docstrings read as a specification, in pure Python: Python
ints and floats, lists, ``collections.deque``; no numba and no vectorised cleverness. Where the
order of floating-point operations decides an argmax tie, it follows the kernel's documented
order (sums accumulated channel by channel, object by object), so results can be compared
exactly.

Twins:
    splitmix64, episode_key, uniform     evosim/kernels/rng.py
    bfs, distance_maps                   evosim/kernels/bfs.py (+ kernels.distance_maps)
    heuristic_action                     evosim/kernels/heuristic.py
    explore, planner_action, planner_plan,
    reactive_action (depth 0)            evosim/kernels/planner.py (planner_plan is the ``plan`` output
                                         of planner_action)
    memo_action                          evosim/kernels/memoriser.py
    network_action                       evosim/kernels/network.py (a dense computation over the whole grid or
                                         window at every iteration; the kernel updates only the cells the
                                         decision depends on)
    episode, rollout                     evosim/kernels/episode.py + rollout.py (+ kernels.rollout, which
                                         takes an ``EpisodeSpec``, as ``rollout`` here does)

Unlike the kernels, the twins are not split per architecture: ``episode`` is one plain loop that calls
each architecture's decision function, which is all a twin needs (the kernels keep one loop per
architecture for speed only, see kernels/rollout.py). A new architecture adds its decision function here
and one branch in ``episode`` (docs/architectures.md).
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB

UNREACHABLE = 32767
MAX_FEATURES = 4
MAX_PERCEIVED = 8
EXPLORE_KEEP = 0.75
NO_KIND = -1

# moves: north, east, south, west (row, col displacement)
MOVES = [(-1, 0), (0, 1), (1, 0), (0, -1)]
OPPOSITE = [2, 3, 0, 1]

# interactions (constants.Interaction)
CONSUMED, ENDS, PICKED, OPENED = 0, 1, 2, 3

# genome layout (genome.py):
# arch | attract[4] | attract_key[4] | wall momentum back logtemp | utility[4] | depth discount |
# memoriser gene | plan[64] |
# network gene | iterations momentum back | bias[8] | bias_key[8] | read_h[8] | read_x[5] | wx[8, 5, 9] | wh[8, 8, 9]
G_ARCH = 0
G_ATTRACT = 1
G_ATTRACT_KEY = 5
G_WALL = 9
G_MOMENTUM = 10
G_BACK = 11
G_LOGTEMP = 12
G_UTILITY = 13
G_DEPTH = 17
G_DISCOUNT = 18
G_MEMO = 19
G_PLAN = 20
MEMO_STEPS = 64
G_NET = 84
G_ITER = 85
G_NET_MOMENTUM = 86
G_NET_BACK = 87
NET_C = 8  # hidden channels the genome holds
NET_X = 5  # input channels: wall, then 4 feature channels
G_BIAS = 88
G_BIAS_KEY = G_BIAS + NET_C
G_READ_H = G_BIAS_KEY + NET_C
G_READ_X = G_READ_H + NET_C
G_WX = G_READ_X + NET_X
G_WH = G_WX + NET_C * NET_X * 9
N_GENES = G_WH + NET_C * NET_C * 9


# -- counter-based RNG ----------------------------------------------------------------------------
def splitmix64(x: int) -> int:
    """The splitmix64 finaliser on a 64-bit integer."""
    z = (x + GOLDEN) & MASK64
    z = ((z ^ (z >> 30)) * M1) & MASK64
    z = ((z ^ (z >> 27)) * M2) & MASK64
    return z ^ (z >> 31)


def episode_key(seed: int, stream: int, generation: int, organism: int, episode: int) -> int:
    """Chain the hash through (seed, stream, generation, organism, episode)."""
    k = splitmix64(seed & MASK64)
    for v in (stream, generation, organism, episode):
        k = splitmix64(k ^ (v & MASK64))
    return k


def uniform(key: int, step: int, j: int) -> float:
    """Draw ``j`` of step ``step``: the top 53 bits of a hash, centred in their bin, scaled by 2**-53,
    and kept below 1 (the top bin's centre rounds to 1.0 in float64)."""
    b = splitmix64(key ^ splitmix64((step * 8 + j) & MASK64))
    return min((float(b >> 11) + 0.5) * 2.0 ** -53, 1.0 - 2.0 ** -53)


# -- BFS -------------------------------------------------------------------------------------------
def bfs(walls, sy: int, sx: int) -> list[list[int]]:
    """Shortest 4-neighbour path length from (sy, sx) to every cell; UNREACHABLE through walls."""
    h, w = len(walls), len(walls[0])
    out = [[UNREACHABLE] * w for _ in range(h)]
    if walls[sy][sx] != 0:
        return out
    out[sy][sx] = 0
    queue = deque([(sy, sx)])
    while queue:
        y, x = queue.popleft()
        for dy, dx in MOVES:
            yy, xx = y + dy, x + dx
            if 0 <= yy < h and 0 <= xx < w and walls[yy][xx] == 0 and out[yy][xx] == UNREACHABLE:
                out[yy][xx] = out[y][x] + 1
                queue.append((yy, xx))
    return out


def distance_maps(walls, obj_pos, obj_kind) -> np.ndarray:
    """BFS map from every live object of every layout: int16 [L, M, H, W]; empty slots are all UNREACHABLE."""
    n_layouts, h, w = np.shape(walls)
    m = np.shape(obj_kind)[1]
    walls, obj_pos, obj_kind = _ints(walls), _ints(obj_pos), _ints(obj_kind)
    maps = []
    for li in range(len(walls)):
        per = []
        for o in range(len(obj_kind[li])):
            if obj_kind[li][o] < 0:
                per.append([[UNREACHABLE] * w for _ in range(h)])
            else:
                per.append(bfs(walls[li], obj_pos[li][o][0], obj_pos[li][o][1]))
        maps.append(per)
    return np.array(maps, dtype=np.int16).reshape(n_layouts, m, h, w)


# -- helpers ---------------------------------------------------------------------------------------
def _exp(v: float) -> float:
    """math.exp with IEEE overflow to inf (as in the kernel) instead of OverflowError."""
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _blocked(walls, y: int, x: int, a: int) -> bool:
    yy, xx = y + MOVES[a][0], x + MOVES[a][1]
    return not (0 <= yy < len(walls) and 0 <= xx < len(walls[0])) or walls[yy][xx] != 0


def _floats(a) -> list:
    """A numpy array as nested Python floats (float32 values widened exactly to float64)."""
    return a if isinstance(a, list) else np.asarray(a, dtype=np.float64).tolist()


def _ints(a) -> list:
    """A numpy array as nested Python ints (lists pass through)."""
    return a if isinstance(a, list) else np.asarray(a, dtype=np.int64).tolist()


# -- decisions -------------------------------------------------------------------------------------
def signals(walls, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat, mode="path"):
    """The heuristic's signal [channel][move]. An object is sensed on channel f if it is alive, not
    on our cell and its Manhattan distance is within radius[f] (the planner's visibility rule).

    mode "path": with d its BFS distance from our cell (skipped if UNREACHABLE), every move onto a
    free cell whose BFS distance to the object is below d gets feature / d.
    mode "compass": every move strictly toward the object's side (north if it lies in a row above,
    ...) gets feature / Manhattan distance.
    Contributions are added object by object."""
    signal = [[0.0, 0.0, 0.0, 0.0] for _ in range(n_feat)]
    for o in range(len(obj_kind)):
        if not alive[o]:
            continue
        dy, dx = obj_pos[o][0] - y, obj_pos[o][1] - x
        md = abs(dy) + abs(dx)
        if md == 0:
            continue
        if mode == "path":
            d = int(dist[o][y][x])
            if d >= UNREACHABLE:
                continue
            toward = [not _blocked(walls, y, x, a) and dist[o][y + MOVES[a][0]][x + MOVES[a][1]] < d
                      for a in range(4)]
        elif mode == "compass":
            d = md
            toward = [dy < 0, dx > 0, dy > 0, dx < 0]
        else:
            raise ValueError(mode)
        for f in range(n_feat):
            v = kind_feat[obj_kind[o]][f]
            if v != 0.0 and md <= radius[f]:
                for a in range(4):
                    if toward[a]:
                        signal[f][a] += v / d
    return signal


def heuristic_action(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat, key,
                     step, mode="path"):
    """Score each move: sum over channels of (attraction [+ key attraction if inv > 0]) x signal
    (see ``signals``: "path" BFS-gradient or "compass" Manhattan-direction sums); plus the wall
    gene if blocked, the momentum gene if it repeats ``prev``, the back gene if it undoes it, plus
    temperature x Gumbel(uniform(key, step, a)). The first maximum wins."""
    g = genome if isinstance(genome, list) else [float(v) for v in np.asarray(genome, dtype=np.float64)]
    walls, obj_pos, obj_kind, dist = _ints(walls), _ints(obj_pos), _ints(obj_kind), _ints(dist)
    kind_feat, radius = _floats(kind_feat), _ints(radius)
    alive = [bool(v) for v in np.asarray(alive)]
    signal = signals(walls, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat, mode)
    temperature = math.exp(min(max(g[G_LOGTEMP], -5.0), 3.0))
    best_a, best_s = 0, -math.inf
    for a in range(4):
        s = 0.0
        for f in range(n_feat):
            weight = g[G_ATTRACT + f]
            if inv > 0:
                weight += g[G_ATTRACT_KEY + f]
            s += weight * signal[f][a]
        if _blocked(walls, y, x, a):
            s += g[G_WALL]
        if prev >= 0 and a == prev:
            s += g[G_MOMENTUM]
        elif prev >= 0 and a == OPPOSITE[prev]:
            s += g[G_BACK]
        s += temperature * -math.log(-math.log(uniform(key, step, a)))
        if s > best_s:
            best_a, best_s = a, s
    return best_a


def explore(walls, y, x, prev, key, step):
    """Keep heading if free and uniform(key, step, 4) < EXPLORE_KEEP, else a uniformly random free
    move (draw 5); 0 when boxed in."""
    walls = _ints(walls)
    if prev >= 0 and not _blocked(walls, y, x, prev) and uniform(key, step, 4) < EXPLORE_KEEP:
        return prev
    free = [a for a in range(4) if not _blocked(walls, y, x, a)]
    if not free:
        return 0
    return free[int(uniform(key, step, 5) * len(free))]


def seen_cells(y, x, r, h, w) -> set:
    """Cells within Manhattan distance ``r`` of (y, x) inside the grid (what the planner's perception covers)."""
    return {(yy, xx) for yy in range(h) for xx in range(w) if abs(yy - y) + abs(xx - x) <= r}


def frontier_move(walls, y, x, seen, obj_pos, alive):
    """The reference planners' exploration: the first move of a shortest path to the nearest reachable unseen
    cell (not in ``seen``), over cells without wall or live object, BFS with neighbours in action order, the
    first unseen cell found winning; -1 if none is reachable."""
    from collections import deque

    walls = _ints(walls)
    occupied = {tuple(int(v) for v in obj_pos[o]) for o in range(len(alive)) if alive[o]}
    done = occupied | {(y, x)}
    queue = deque([((y, x), -1)])
    while queue:
        (cy, cx), first = queue.popleft()
        for a in range(4):
            if _blocked(walls, cy, cx, a):
                continue
            cell = (cy + MOVES[a][0], cx + MOVES[a][1])
            if cell in done:
                continue
            done.add(cell)
            f = a if first < 0 else first
            if cell not in seen:
                return f
            queue.append((cell, f))
    return -1


def perceive(genome, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat):
    """The planner's view: live objects within the largest radius (Manhattan) and reachable,
    sorted by (path distance, index), the nearest MAX_PERCEIVED kept; each with the utility of
    the channels whose radius it lies within. Returns [(object, path distance, utility)]."""
    g = genome if isinstance(genome, list) else [float(v) for v in np.asarray(genome, dtype=np.float64)]
    obj_pos, obj_kind, kind_feat, radius = _ints(obj_pos), _ints(obj_kind), _floats(kind_feat), _ints(radius)
    max_r = max([0] + radius[:n_feat])
    seen = []
    for o in range(len(obj_kind)):
        if not alive[o]:
            continue
        md = abs(obj_pos[o][0] - y) + abs(obj_pos[o][1] - x)
        d = int(dist[o][y][x])
        if md > max_r or d >= UNREACHABLE:
            continue
        u = 0.0
        for f in range(n_feat):
            if md <= radius[f]:
                u += g[G_UTILITY + f] * kind_feat[obj_kind[o]][f]
        seen.append((d, o, u))
    seen.sort(key=lambda t: (t[0], t[1]))
    return [(o, d, u) for d, o, u in seen[:MAX_PERCEIVED]]


def enumerate_plans(cands, inv, depth, gamma, obj_pos, obj_kind, dist, kind_inter, with_path=False):
    """Every ordered visit to 1..depth distinct perceived objects, as (first candidate, value), or
    with ``with_path`` as (first candidate, value, path): path lists the candidate slots visited,
    in order (slot s is object cands[s][0]).

    World model: visiting object o at arrival time t pays utility(o) * gamma**t, except a chest
    (OPENED) pays only if a key is held then, and spends it; a key (PICKED) adds one to the
    inventory; an episode-ending object ends the plan (no extension). Legs between objects use
    BFS distances; an unreachable leg is not a plan. No plan starts with the object on our own
    cell. Plans are listed in the kernel's order: depth-first, prefixes before their extensions.
    """
    out = []

    def extend(path, t, held, value):
        last = path[-1]
        out.append((path[0], value, list(path)) if with_path else (path[0], value))
        if len(path) >= depth or kind_inter[obj_kind[cands[last][0]]] == ENDS:
            return
        ly, lx = obj_pos[cands[last][0]]
        for nxt in range(len(cands)):
            if nxt in path:
                continue
            leg = int(dist[cands[nxt][0]][ly][lx])
            if leg >= UNREACHABLE:
                continue
            visit(path + [nxt], t + leg, held, value)

    def visit(path, t, held, value):
        c = path[-1]
        o, _, u = cands[c]
        interaction = kind_inter[obj_kind[o]]
        if interaction == OPENED:
            if held > 0:
                held -= 1
                value = value + u * math.pow(gamma, float(t))
        else:
            value = value + u * math.pow(gamma, float(t))
            if interaction == PICKED:
                held += 1
        extend(path, t, held, value)

    for i in range(len(cands)):
        if cands[i][1] == 0:
            continue  # the object under us (a chest we cannot open) may come later in a plan, never first
        # the first term is added to 0.0 in the kernel as a plain product; 0.0 + p == p exactly
        visit([i], cands[i][1], inv, 0.0)
    return out


def objects_scored(y, x, obj_pos, obj_kind, alive, dist, radius, n_feat):
    """How many objects the planner scores at (y, x) (a distance lookup and a utility each): the
    live objects within the largest radius that are reachable, whether or not they are among
    the MAX_PERCEIVED nearest it keeps."""
    max_r = max([0] + list(radius[:n_feat]))
    return sum(1 for o in range(len(obj_kind))
               if alive[o] and abs(obj_pos[o][0] - y) + abs(obj_pos[o][1] - x) <= max_r
               and int(dist[o][y][x]) < UNREACHABLE)


def planner_depth(genome, max_depth, min_depth=1):
    """The expressed search depth: floor(gene + 0.5) kept within min_depth..max_depth."""
    g = genome if isinstance(genome, list) else [float(v) for v in np.asarray(genome, dtype=np.float64)]
    return int(min(max(math.floor(g[G_DEPTH] + 0.5), min_depth), max_depth))


def memo_action(genome, step):
    """A memoriser's move at ``step``: plan gene g = gene[step mod MEMO_STEPS] (clipped to +-1e6),
    action floor(2 g) mod 4. No perception, no objective."""
    g = float(np.float64(np.asarray(genome, dtype=np.float32)[G_PLAN + step % MEMO_STEPS]))
    g = min(max(g, -1.0e6), 1.0e6)
    return math.floor(2.0 * g) % 4


def network_iterations(genome, min_iter, max_iter):
    """The expressed iterations: floor(gene + 0.5) with the gene clamped to [0, max] first, kept within min..max."""
    g = min(max(float(genome[G_ITER]), 0.0), float(max_iter))
    return int(min(max(math.floor(g + 0.5), min_iter), max_iter))


def network_action(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, kind_feat, radius, n_feat, channels=4,
                   min_iter=0, max_iter=8, activation="tanh", window=0):
    """A network's decision: (action, hidden-state cells updated).

    Computed densely, as the definition reads (``evosim/kernels/network.py``'s docstring): input planes over
    the grid (walls, off-grid cells count as walls; per feature channel, the features of live objects within
    the channel's radius, summed in slot order), the drive (wall term over taps in row-major order, + bias,
    + key bias if a key is held, then each perceived object's features through the taps, object by object,
    channel by channel), then k iterations of the state on every cell of the grid within the window (0
    elsewhere), h1 = act(drive), hj = act(drive + sum over (c', tap) of wh * h(j-1)), and the readout at the
    four neighbouring cells (hidden terms, then input terms, then momentum / back); the first maximum wins.
    The work charged is, summed over iterations j, the cells within Chebyshev distance k - j of one of the four
    neighbouring cells, and the organism's own, in the grid and the window (those the readout depends on)."""
    g = [float(v) for v in np.asarray(genome, dtype=np.float32).astype(np.float64)]
    walls, obj_pos, obj_kind = _ints(walls), _ints(obj_pos), _ints(obj_kind)
    kind_feat, radius = _floats(kind_feat), _ints(radius)
    alive = [bool(v) for v in np.asarray(alive)]
    h, w = len(walls), len(walls[0])
    C = channels
    k = network_iterations(g, min_iter, max_iter)
    win = window if window > 0 else h + w

    def wx(c, i, t):
        return g[G_WX + (c * NET_X + i) * 9 + t]

    def wh(c, i, t):
        return g[G_WH + (c * NET_C + i) * 9 + t]

    def is_wall(yy, xx):
        return not (0 <= yy < h and 0 <= xx < w) or walls[yy][xx] != 0

    taps = [(t // 3 - 1, t % 3 - 1) for t in range(9)]
    perceived = []  # (object, channel, value), in slot order then channel order
    for o in range(len(obj_kind)):
        md = abs(obj_pos[o][0] - y) + abs(obj_pos[o][1] - x)
        if alive[o]:
            for f in range(n_feat):
                if md <= radius[f]:
                    perceived.append((o, f, kind_feat[obj_kind[o]][f]))
    plane = [[[0.0] * w for _ in range(h)] for _ in range(n_feat)]
    for o, f, v in perceived:
        plane[f][obj_pos[o][0]][obj_pos[o][1]] += v

    def x_at(i, yy, xx):
        if i == 0:
            return 1.0 if is_wall(yy, xx) else 0.0
        return plane[i - 1][yy][xx] if 0 <= yy < h and 0 <= xx < w else 0.0

    # planes as float64 arrays with a one-cell border (walls: 1 there, state: 0): each tap is a shifted view, and
    # every sum below is elementwise, term by term in the order written (numpy's float64 + and * are IEEE's)
    wall_pad = np.ones((h + 2, w + 2))
    wall_pad[1:-1, 1:-1] = np.asarray(walls, dtype=np.float64) != 0

    def shifted(pad, dy, dx):
        return pad[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]

    yy, xx = np.mgrid[0:h, 0:w]
    in_window = np.maximum(np.abs(yy - y), np.abs(xx - x)) <= win
    state = None
    work = 0
    if k > 0:
        drive = []
        for c in range(C):
            d = np.zeros((h, w))
            for t, (dy, dx) in enumerate(taps):
                d = d + wx(c, 0, t) * shifted(wall_pad, dy, dx)
            d = d + g[G_BIAS + c]
            if inv > 0:
                d = d + g[G_BIAS_KEY + c]
            for o, f, v in perceived:
                for t, (dy, dx) in enumerate(taps):
                    py, px = obj_pos[o][0] - dy, obj_pos[o][1] - dx
                    if 0 <= py < h and 0 <= px < w:
                        d[py, px] += wx(c, 1 + f, t) * v
            drive.append(d)

        def tanh(v):  # tanh as the kernel computes it: (1 - e) / (1 + e), e = exp(-2 |v|), with the sign of v
            e = math.exp(-2.0 * abs(v))
            t = (1.0 - e) / (1.0 + e)
            return t if v >= 0.0 else -t

        def act(a):
            if activation == "relu":
                return np.where(a > 0.0, a, 0.0)
            return np.array([[tanh(v) for v in row] for row in a.tolist()])

        state = np.zeros((C, h + 2, w + 2))
        for j in range(1, k + 1):
            new = np.zeros((C, h + 2, w + 2))
            for c in range(C):
                acc = drive[c]
                if j > 1:
                    for i in range(C):
                        for t, (dy, dx) in enumerate(taps):
                            acc = acc + wh(c, i, t) * shifted(state[i], dy, dx)
                new[c, 1:-1, 1:-1] = np.where(in_window, act(acc), 0.0)
            state = new
            # the cells the readout depends on: within Chebyshev distance k - j of a neighbouring cell, and ours
            r = k - j
            near = [(y + dy, x + dx) for dy, dx in MOVES]
            work += sum(1 for cy in range(h) for cx in range(w) if in_window[cy, cx] and (
                (cy, cx) == (y, x) or min(max(abs(cy - ny), abs(cx - nx)) for ny, nx in near) <= r))
    best_a, best_s = 0, -math.inf
    for a in range(4):
        ny, nx = y + MOVES[a][0], x + MOVES[a][1]
        s = 0.0
        if k > 0:
            for c in range(C):
                s += g[G_READ_H + c] * float(state[c, ny + 1, nx + 1])
        for i in range(1 + n_feat):
            s += g[G_READ_X + i] * x_at(i, ny, nx)
        if prev >= 0 and a == prev:
            s += g[G_NET_MOMENTUM]
        elif prev >= 0 and a == OPPOSITE[prev]:
            s += g[G_NET_BACK]
        if s > best_s:
            best_a, best_s = a, s
    return best_a, work


def reactive_action(genome, walls, y, x, prev, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat, key, step):
    """A depth-0 planner: (action, objects scored). Score each move as the sum over channels of
    utility[f] x the heuristic's path signal (``signals``, mode "path"); take the first move with
    the highest strictly positive score, else ``explore``. Objects scored: the live objects not on
    our cell, within the largest radius and reachable (those the path signal sums over)."""
    g = genome if isinstance(genome, list) else [float(v) for v in np.asarray(genome, dtype=np.float64)]
    walls, obj_pos, obj_kind, dist = _ints(walls), _ints(obj_pos), _ints(obj_kind), _ints(dist)
    kind_feat, radius = _floats(kind_feat), _ints(radius)
    alive = [bool(v) for v in np.asarray(alive)]
    signal = signals(walls, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat, "path")
    max_r = max([0] + radius[:n_feat])
    scored = sum(1 for o in range(len(obj_kind)) if alive[o]
                 and 0 < abs(obj_pos[o][0] - y) + abs(obj_pos[o][1] - x) <= max_r and int(dist[o][y][x]) < UNREACHABLE)
    best_a, best_s = -1, 0.0
    for a in range(4):
        s = 0.0
        for f in range(n_feat):
            s += g[G_UTILITY + f] * signal[f][a]
        if s > best_s:
            best_a, best_s = a, s
    if best_a < 0:
        return explore(walls, y, x, prev, key, step), scored
    return best_a, scored


def _planner_search(genome, y, x, inv, obj_pos, obj_kind, alive, dist, kind_feat, kind_inter,
                    radius, n_feat, max_depth):
    """The planner's search. Returns (candidates, every plan as (first, value, path), best path):
    the best path is that of the first plan with the strictly highest positive value (None if no
    plan is worth > 0), as candidate slots."""
    g = genome if isinstance(genome, list) else [float(v) for v in np.asarray(genome, dtype=np.float64)]
    depth = int(min(max(math.floor(g[G_DEPTH] + 0.5), 1), max_depth))
    gamma = 0.5 + 0.49 / (1.0 + _exp(-g[G_DISCOUNT]))
    cands = perceive(genome, y, x, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat)
    plans = enumerate_plans(cands, inv, depth, gamma, obj_pos, obj_kind, dist, kind_inter, with_path=True)
    best_path, best_v = None, 0.0
    for _first, value, path in plans:
        if value > best_v:
            best_path, best_v = path, value
    return cands, plans, best_path


def _closer_moves(walls, y, x, dist, o):
    """The unblocked moves onto a cell strictly nearer (by BFS) to object ``o``."""
    return [a for a in range(4)
            if not _blocked(walls, y, x, a) and dist[o][y + MOVES[a][0]][x + MOVES[a][1]] < dist[o][y][x]]


def planner_action(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, kind_inter,
                   radius, n_feat, max_depth, key, step, min_depth=1, seen=None):
    """Returns (action, plans evaluated): the first move down a shortest path to the first object of
    the first plan with the strictly highest positive value; explore if none is worth > 0 or no
    neighbour is closer (a plan never starts on our own cell, so the distance-0 check is only a guard).
    At depth 0 (``min_depth`` 0 and a depth gene below 0.5): ``reactive_action``, 0 plans. With ``seen`` (the
    cells seen so far: frontier exploration, the reference planners' rule) exploring is ``frontier_move``,
    ``explore`` only when no unseen cell is reachable."""
    if planner_depth(genome, max_depth, min_depth) == 0:
        a, _ = reactive_action(genome, walls, y, x, prev, obj_pos, obj_kind, alive, dist, kind_feat, radius, n_feat,
                               key, step)
        return a, 0
    walls, obj_pos, obj_kind, kind_inter = _ints(walls), _ints(obj_pos), _ints(obj_kind), _ints(kind_inter)
    dist = _ints(dist)
    alive = [bool(v) for v in np.asarray(alive)]
    cands, plans, best = _planner_search(genome, y, x, inv, obj_pos, obj_kind, alive, dist, kind_feat,
                                         kind_inter, radius, n_feat, max_depth)

    def wander():
        a = frontier_move(walls, y, x, seen, obj_pos, alive) if seen is not None else -1
        return a if a >= 0 else explore(walls, y, x, prev, key, step)

    if best is None or cands[best[0]][1] == 0:
        return wander(), len(plans)
    o = cands[best[0]][0]
    closer = _closer_moves(walls, y, x, dist, o)
    if not closer:
        return wander(), len(plans)

    def occupied(a):  # another live object on the cell this move enters
        cell = [y + MOVES[a][0], x + MOVES[a][1]]
        return any(alive[q] and q != o and obj_pos[q] == cell for q in range(len(obj_kind)))

    free = [a for a in closer if not occupied(a)]
    return (free[0] if free else closer[0]), len(plans)


def planner_plan(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, kind_inter,
                 radius, n_feat, max_depth, key, step, min_depth=1):
    """The plan ``planner_action`` follows at this state: the object indices of the first plan with
    the strictly highest positive value, in visiting order; [] whenever planner_action explores
    instead (no plan worth > 0, first object on our own cell, no neighbour closer to it).
    ``prev``, ``key`` and ``step`` only steer exploration; they are taken for symmetry. A depth-0
    planner has no plan ([])."""
    if planner_depth(genome, max_depth, min_depth) == 0:
        return []
    walls, obj_pos, obj_kind, kind_inter = _ints(walls), _ints(obj_pos), _ints(obj_kind), _ints(kind_inter)
    dist = _ints(dist)
    alive = [bool(v) for v in np.asarray(alive)]
    cands, _plans, best = _planner_search(genome, y, x, inv, obj_pos, obj_kind, alive, dist, kind_feat,
                                          kind_inter, radius, n_feat, max_depth)
    if best is None or cands[best[0]][1] == 0:
        return []
    if not _closer_moves(walls, y, x, dist, cands[best[0]][0]):
        return []
    return [cands[slot][0] for slot in best]


# -- episodes --------------------------------------------------------------------------------------
def episode(genome, walls, start, obj_pos, obj_kind, dist, kind_feat, kind_reward, kind_proxy, kind_inter,
            radius, n_feat, max_depth, max_steps, key, capacity=0, mode="path", min_depth=1, explore_mode=0,
            network=(4, 0, 8, "tanh", 0)):
    """One episode. Returns (return, proxy, steps, plans, reach[M], trace[max_steps + 1], work).

    ``explore_mode`` 1: a planner of depth >= 1 explores toward the frontier (``frontier_move``) with the
    cells seen so far: within Manhattan distance r of every cell it has occupied, r the smallest radius among
    the channels its utility weighs (the largest if none).

    ``network``: (channels, min iterations, max iterations, activation, window) of a network (network gene > 0,
    overriding every other architecture gene), which plays ``network_action`` and is charged the cells it updates.

    A heuristic senses signal ``mode`` ("path" or "compass"). A planner's work is, summed over its
    decisions, the objects it scored (``objects_scored``; at depth 0 those of ``reactive_action``) plus
    the plans it evaluated; 0 for a heuristic and a memoriser. A memoriser (memoriser gene > 0,
    overriding the arch gene) plays ``memo_action`` at each step.

    Each step: stop if no reward is obtainable any more (no live positive-reward object that
    pays on contact, and either no positive-reward chest or neither a held nor a lying key);
    decide; move unless blocked; interact with every live object on the new cell (a chest
    without a key does nothing); an episode-ending object stops the episode after the step, and
    so does eating the ``capacity``-th consumed object (satiety; 0 = no limit).
    """
    walls, obj_pos, obj_kind, dist = _ints(walls), _ints(obj_pos), _ints(obj_kind), _ints(dist)
    reward, proxy_pay, inter = _floats(kind_reward), _floats(kind_proxy), _ints(kind_inter)
    kind_feat, radius, kind_inter = _floats(kind_feat), _ints(radius), inter
    raw = np.asarray(genome, dtype=np.float32)
    genome = [float(v) for v in np.asarray(genome, dtype=np.float64)]
    is_net = genome[G_NET] > 0
    is_memo = genome[G_MEMO] > 0 and not is_net
    is_planner = genome[G_ARCH] > 0 and not is_memo and not is_net
    depth = planner_depth(genome, max_depth, min_depth)
    w = len(walls[0])
    m = len(obj_kind)
    alive = [k >= 0 for k in obj_kind]
    reach = [-1] * m
    trace = [-1] * (max_steps + 1)
    y, x = int(start[0]), int(start[1])
    trace[0] = y * w + x
    inv, prev, steps, plans, eaten, work = 0, -1, 0, 0, 0, 0
    ret, proxy = 0.0, 0.0
    h = len(walls)
    weighed = [radius[f] for f in range(n_feat) if genome[G_UTILITY + f] != 0]
    max_r = min(weighed) if weighed else max([0] + radius[:n_feat])
    seen = seen_cells(y, x, max_r, h, w) if explore_mode == 1 and is_planner and depth > 0 else None

    def obtainable():
        live = [obj_kind[o] for o in range(m) if alive[o]]
        direct = any(inter[k] in (CONSUMED, ENDS) and reward[k] > 0 for k in live)
        chests = any(inter[k] == OPENED and reward[k] > 0 for k in live)
        keys = any(inter[k] == PICKED for k in live)
        return direct or (chests and (inv > 0 or keys))

    while steps < max_steps and obtainable():
        if is_net:
            a, cells = network_action(raw, walls, y, x, prev, inv, obj_pos, obj_kind, alive, kind_feat, radius,
                                      n_feat, *network)
            work += cells
        elif is_memo:
            a = memo_action(raw, steps)
        elif is_planner and depth == 0:
            a, scored = reactive_action(genome, walls, y, x, prev, obj_pos, obj_kind, alive, dist, kind_feat, radius,
                                        n_feat, key, steps)
            work += scored
        elif is_planner:
            a, p = planner_action(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat,
                                  kind_inter, radius, n_feat, max_depth, key, steps, min_depth, seen)
            plans += p
            work += p + objects_scored(y, x, obj_pos, obj_kind, alive, dist, radius, n_feat)
        else:
            a = heuristic_action(genome, walls, y, x, prev, inv, obj_pos, obj_kind, alive, dist, kind_feat, radius,
                                 n_feat, key, steps, mode)
        if not _blocked(walls, y, x, a):
            y, x = y + MOVES[a][0], x + MOVES[a][1]
        prev = a
        steps += 1
        trace[steps] = y * w + x
        if seen is not None:
            seen |= seen_cells(y, x, max_r, h, w)
        ended = False
        for o in range(m):
            if not alive[o] or obj_pos[o] != [y, x]:
                continue
            k = obj_kind[o]
            if inter[k] == OPENED:
                if inv == 0:
                    continue
                inv -= 1
            elif inter[k] == PICKED:
                inv += 1
            alive[o] = False
            reach[o] = steps
            ret += reward[k]
            proxy += proxy_pay[k]
            ended = ended or inter[k] == ENDS
            if inter[k] == CONSUMED:
                eaten += 1
                ended = ended or (capacity > 0 and eaten >= capacity)
        if ended:
            break
    return ret, proxy, steps, plans, reach, trace, work


def rollout(genomes, layouts, episode_layout, seed, stream, generation, organism_ids, spec, record=True):
    """Every genome on every episode under ``spec`` (``evosim.kernels.EpisodeSpec``); episode ``e`` plays layout
    ``episode_layout[e]`` with the key episode_key(seed, stream, generation, organism_ids[i], e). Distance
    maps come from the naive BFS, not from ``layouts.dist``. Returns ``evosim.kernels.Rollouts`` (a plain
    record)."""
    from evosim.kernels import Rollouts

    table, radius, n_features, max_depth = spec.table, spec.radius, spec.n_features, spec.max_depth
    max_steps, heuristic_signal, min_depth = spec.max_steps, spec.heuristic_signal, spec.min_depth
    genomes = np.asarray(genomes, dtype=np.float32)
    dist = distance_maps(layouts.walls, layouts.obj_pos, layouts.obj_kind)
    n, e, m = len(genomes), len(episode_layout), layouts.obj_kind.shape[1]
    ret = np.zeros((n, e))
    proxy = np.zeros((n, e))
    steps = np.zeros((n, e), dtype=np.int64)
    plans = np.zeros((n, e), dtype=np.int64)
    work = np.zeros((n, e), dtype=np.int64)
    reach = np.zeros((n, e, m), dtype=np.int64)
    trace = np.full((n, e, max_steps + 1), -1, dtype=np.int64)
    for i in range(n):
        for ep in range(e):
            li = int(episode_layout[ep])
            key = episode_key(int(seed), int(stream), int(generation), int(organism_ids[i]), ep)
            r, p, s, pl, rc, tr, wk = episode(genomes[i], layouts.walls[li], layouts.start[li], layouts.obj_pos[li],
                                          layouts.obj_kind[li], dist[li].tolist(), table.features, table.reward,
                                          table.proxy, table.interaction, radius, n_features, max_depth,
                                          max_steps, key, getattr(table, "capacity", 0), heuristic_signal, min_depth,
                                          spec.explore, (spec.network_channels, spec.network_min_iterations,
                                                         spec.network_max_iterations, spec.network_activation,
                                                         spec.network_window))
            ret[i, ep], proxy[i, ep], steps[i, ep], plans[i, ep], work[i, ep] = r, p, s, pl, wk
            reach[i, ep] = rc
            trace[i, ep] = tr
    return Rollouts(ret, proxy, steps, plans, reach, trace if record else None, work)
