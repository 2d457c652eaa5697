"""Genome layout, decoding and the GA's variation operators.

A population is one float32 matrix ``genomes[N, G]``. Every organism carries every block;
the architecture genes decide which one is expressed, and the others drift under mutation,
so a single flip of an architecture gene can switch an organism between a heuristic, a
planner and a memoriser.

Layout: the core (``CORE_GENES`` genes: the ARCH gene, the heuristic block, the planner block)
followed by the memoriser block (``MEMO_BLOCK``: the memoriser gene, then ``MEMO_STEPS`` plan
genes), then the network block (``NET_BLOCK``: the network gene, the iterations gene, then the
network's weights, see ``N_ARCH``). Expressed architecture: network if the network gene is > 0, else
memoriser if the memoriser gene is > 0, else planner if ARCH > 0, else heuristic. The network block's
random numbers come from a stream of its own too (``STREAM_GA_NET``), and runs without networks draw none. The core's random numbers come from the GA stream and the memoriser block's from
its own stream (``STREAM_GA_MEMO``), so adding the block changed no draw of the core: a run
without memorisers evolves exactly the core it evolved before the block existed. The layout is fixed (features padded to ``MAX_FEATURES``) so that kernels,
tables and checkpoints agree on it for every world.

Operators are small pure functions in the style of DEAP: arrays and an explicit
``numpy.random.Generator`` in, new arrays out.
"""
from __future__ import annotations

import numpy as np

from evosim.constants import MAX_DEPTH, MAX_FEATURES, MEMO_STEPS, NET_INPUTS, NET_MAX_CHANNELS, Arch

F = MAX_FEATURES
# -- layout ----------------------------------------------------------------------------------
ARCH = 0
"""architecture gene: > 0 expresses the planner block, <= 0 the heuristic block"""
H_ATTRACT = slice(1, 1 + F)
"""heuristic: attraction to each feature channel's signal in a direction"""
H_ATTRACT_KEY = slice(1 + F, 1 + 2 * F)
"""heuristic: extra attraction per channel while the inventory holds a key"""
H_WALL = 1 + 2 * F
"""heuristic: score of a move into a wall"""
H_MOMENTUM = H_WALL + 1
"""heuristic: score of repeating the previous move"""
H_BACK = H_WALL + 2
"""heuristic: score of undoing the previous move"""
H_LOGTEMP = H_WALL + 3
"""heuristic: log of the Gumbel noise temperature (exploration)"""
P_UTILITY = slice(H_LOGTEMP + 1, H_LOGTEMP + 1 + F)
"""planner: utility weight per feature channel (the mesa-objective)"""
P_DEPTH = H_LOGTEMP + 1 + F
"""planner: search depth gene, expressed as clip(floor(g + 0.5), min_depth, max_depth) (min_depth 1 unless
``organisms.min_depth = 0``: depth 0 is a purely reactive planner, see kernels/rollout.py)"""
P_DISCOUNT = P_DEPTH + 1
"""planner: discount gene, expressed as 0.5 + 0.49 * sigmoid(g)"""
CORE_GENES = P_DISCOUNT + 1
"""genes before the memoriser block (the whole genome before memorisers existed)"""
M_ARCH = CORE_GENES
"""memoriser gene: > 0 expresses the memoriser block, overriding ARCH"""
M_PLAN = slice(M_ARCH + 1, M_ARCH + 1 + MEMO_STEPS)
"""memoriser: the open-loop plan; step t plays action floor(2 * g[t mod MEMO_STEPS]) mod 4 (``memo_action``)"""
NC = NET_MAX_CHANNELS
NX = NET_INPUTS
N_ARCH = M_PLAN.stop
"""network gene: > 0 expresses the network block, overriding the memoriser gene and ARCH"""
N_ITER = N_ARCH + 1
"""network: iterations gene, expressed as clip(floor(g + 0.5), min, max) of ``organisms.network_min_iterations``
and ``network_max_iterations`` (the gene clamped to [0, max] first, as the planner's depth gene)"""
N_MOMENTUM = N_ARCH + 2
"""network: readout score of repeating the previous move"""
N_BACK = N_ARCH + 3
"""network: readout score of undoing the previous move"""
N_BIAS = slice(N_ARCH + 4, N_ARCH + 4 + NC)
"""network: bias of each hidden channel"""
N_BIAS_KEY = slice(N_BIAS.stop, N_BIAS.stop + NC)
"""network: extra bias of each hidden channel while the inventory holds a key"""
N_READ_H = slice(N_BIAS_KEY.stop, N_BIAS_KEY.stop + NC)
"""network: readout weight of each hidden channel at the cell a move enters"""
N_READ_X = slice(N_READ_H.stop, N_READ_H.stop + NX)
"""network: readout weight of each input channel (wall, then the feature channels) at the cell a move enters"""
N_W_X = slice(N_READ_X.stop, N_READ_X.stop + NC * NX * 9)
"""network: input-to-hidden 3x3 convolution, [hidden channel, input channel, tap] with tap = 3 (dy + 1) + dx + 1"""
N_W_H = slice(N_W_X.stop, N_W_X.stop + NC * NC * 9)
"""network: hidden-to-hidden 3x3 convolution, [hidden channel, hidden channel, tap]"""
N_GENES = N_W_H.stop

HEURISTIC_BLOCK = slice(1, H_LOGTEMP + 1)
PLANNER_BLOCK = slice(H_LOGTEMP + 1, CORE_GENES)
CORE = slice(0, CORE_GENES)
MEMO_BLOCK = slice(M_ARCH, M_PLAN.stop)
NET_BLOCK = slice(N_ARCH, N_GENES)
#: the network's genes beside its switch gene (its registry block)
NETWORK_WEIGHTS = slice(N_ITER, N_GENES)
#: the largest magnitude a memoriser plan gene is read at (floor of a huge float overflows int64)
MEMO_GENE_CLIP = 1.0e6


def gene_names(features: tuple[str, ...]) -> list[str]:
    """Readable names of the ``N_GENES`` columns for a world's feature channels."""
    pad = list(features) + [f"unused{i}" for i in range(len(features), F)]
    return (
        ["arch"]
        + [f"h_attract_{f}" for f in pad]
        + [f"h_attract_key_{f}" for f in pad]
        + ["h_wall", "h_momentum", "h_back", "h_logtemp"]
        + [f"u_{f}" for f in pad]
        + ["p_depth", "p_discount"]
        + ["m_arch"] + [f"m_step{t}" for t in range(MEMO_STEPS)]
        + network_gene_names(features)
    )


def network_gene_names(features: tuple[str, ...]) -> list[str]:
    """Readable names of the network block's genes (``NET_BLOCK``)."""
    inputs = ["wall"] + list(features) + [f"unused{i}" for i in range(len(features), F)]
    return (["n_arch", "n_iterations", "n_momentum", "n_back"]
            + [f"n_bias{c}" for c in range(NC)] + [f"n_bias_key{c}" for c in range(NC)]
            + [f"n_read_h{c}" for c in range(NC)] + [f"n_read_{x}" for x in inputs]
            + [f"n_wx{c}_{x}_{t}" for c in range(NC) for x in inputs for t in range(9)]
            + [f"n_wh{c}_{i}_{t}" for c in range(NC) for i in range(NC) for t in range(9)])


# -- decoding --------------------------------------------------------------------------------
def architecture(genomes: np.ndarray) -> np.ndarray:
    """``Arch`` code per organism (int64): network if the network gene is > 0, else memoriser if the
    memoriser gene is > 0, else planner if ARCH > 0, else heuristic. A genome of ``CORE_GENES`` columns
    (written before the memoriser block existed) has no memorisers, one without the network block no
    networks."""
    a = np.where(genomes[:, ARCH] > 0, int(Arch.PLANNER), int(Arch.HEURISTIC)).astype(np.int64)
    if genomes.shape[1] > M_ARCH:
        a[genomes[:, M_ARCH] > 0] = int(Arch.MEMORISER)
    if genomes.shape[1] > N_ARCH:
        a[genomes[:, N_ARCH] > 0] = int(Arch.NETWORK)
    return a


def iterations(genomes: np.ndarray, min_iterations: int = 0, max_iterations: int = 8) -> np.ndarray:
    """Expressed network iterations per organism (min..max): the gene clamped to [0, max], then
    clip(floor(g + 0.5), min, max), as in the kernel."""
    g = np.clip(genomes[:, N_ITER].astype(np.float64), 0.0, float(max_iterations))
    return np.clip(np.floor(g + 0.5), min_iterations, max_iterations).astype(np.int64)


def network_expressed(n_features: int, channels: int) -> int:
    """Genes a network of ``channels`` hidden channels expresses in a world of ``n_features`` channels: both
    convolutions, the biases, the readout, momentum, back and the iterations gene."""
    nx = 1 + int(n_features)
    return channels * channels * 9 + channels * nx * 9 + 3 * channels + nx + 3


def depth(genomes: np.ndarray, max_depth: int = MAX_DEPTH, min_depth: int = 1) -> np.ndarray:
    """Expressed planner search depth per organism (min_depth..max_depth; min_depth is 1 unless
    ``organisms.min_depth = 0``). The gene is clamped to [0, max_depth] first, as in the kernel."""
    g = np.clip(genomes[:, P_DEPTH].astype(np.float64), 0.0, float(max_depth))
    return np.clip(np.floor(g + 0.5), min_depth, max_depth).astype(np.int64)


def memo_actions(genomes: np.ndarray) -> np.ndarray:
    """The memoriser plan as actions, int64 [N, MEMO_STEPS]: floor(2 * g) mod 4 (period 2 in the gene,
    so every gene is equally easy to mutate from one action to the next: a sigmoid code would freeze
    genes that drift into its tails)."""
    g = np.clip(genomes[:, M_PLAN].astype(np.float64), -MEMO_GENE_CLIP, MEMO_GENE_CLIP)
    return np.floor(2.0 * g).astype(np.int64) & 3


def expressed_genes(genomes: np.ndarray, n_features: int, max_steps: int,
                    network_channels: int | None = None) -> np.ndarray:
    """Genes each organism expresses (its description length, for ``organisms.description_cost``), int64 [N]:
    each architecture's ``expressed(n_features, max_steps)`` (``evosim.architectures``; heuristic
    2 * n_features + 4, planner n_features + 2, memoriser min(MEMO_STEPS, max_steps), network
    ``network_expressed`` of ``network_channels``, default the setting's default). Architecture genes
    are not counted (every organism has them)."""
    from evosim.architectures import ARCHITECTURES

    counts = np.array([a.expressed(n_features, max_steps) for a in ARCHITECTURES], dtype=np.int64)
    if network_channels is not None:
        counts[int(Arch.NETWORK)] = network_expressed(n_features, network_channels)
    return counts[architecture(genomes)]


def _negative(out: np.ndarray, gene: int) -> None:
    out[:, gene] = -np.abs(out[:, gene]) - (out[:, gene] == 0)


def express_heuristic(genomes: np.ndarray) -> np.ndarray:
    """Copies of ``genomes`` expressing the heuristic block (ARCH, memoriser and network genes made negative)."""
    out = np.array(genomes, dtype=np.float32, copy=True)
    _negative(out, ARCH)
    _negative(out, M_ARCH)
    _negative(out, N_ARCH)
    return out


def express_planner(genomes: np.ndarray) -> np.ndarray:
    """Copies of ``genomes`` expressing the planner block (ARCH positive, memoriser and network genes negative)."""
    out = express_heuristic(genomes)
    out[:, ARCH] = -out[:, ARCH]
    return out


def express_memoriser(genomes: np.ndarray) -> np.ndarray:
    """Copies of ``genomes`` expressing the memoriser block (memoriser gene positive, network gene negative)."""
    out = np.array(genomes, dtype=np.float32, copy=True)
    out[:, M_ARCH] = np.abs(out[:, M_ARCH]) + (out[:, M_ARCH] == 0)
    _negative(out, N_ARCH)
    return out


def express_network(genomes: np.ndarray) -> np.ndarray:
    """Copies of ``genomes`` expressing the network block (network gene positive)."""
    out = np.array(genomes, dtype=np.float32, copy=True)
    out[:, N_ARCH] = np.abs(out[:, N_ARCH]) + (out[:, N_ARCH] == 0)
    return out


def upgrade(genomes: np.ndarray) -> np.ndarray:
    """Genomes of ``N_GENES`` columns; genomes of ``CORE_GENES`` columns (written before the memoriser block
    existed) get the block switched off: memoriser gene -1 (not a memoriser), plan genes 0 (the block
    ``random_population`` gives without a memo stream); genomes of ``N_ARCH`` columns (before the network
    block) and those of ``CORE_GENES`` get the network block switched off (``switched_off_net_block``). The
    one place old genomes are upgraded: the store's reader (tables of old runs) and the GA (checkpoints of
    old runs) call it."""
    genomes = np.asarray(genomes)
    if genomes.shape[1] == N_GENES:
        return genomes
    if genomes.shape[1] not in (CORE_GENES, N_ARCH):
        raise ValueError(f"genomes have {genomes.shape[1]} genes: expected {N_GENES} (or {CORE_GENES}, before "
                         f"the memoriser block, or {N_ARCH}, before the network block)")
    parts = [genomes]
    if genomes.shape[1] == CORE_GENES:
        parts.append(switched_off_memo_block(len(genomes)))
    parts.append(switched_off_net_block(len(genomes)))
    return np.concatenate(parts, axis=1).astype(genomes.dtype)


def switched_off_memo_block(n: int) -> np.ndarray:
    """The memoriser block of ``n`` genomes that are not memorisers: memoriser gene -1, plan genes 0."""
    memo = np.zeros((n, MEMO_BLOCK.stop - M_ARCH), dtype=np.float32)
    memo[:, 0] = -1.0
    return memo


def switched_off_net_block(n: int) -> np.ndarray:
    """The network block of ``n`` genomes that are not networks: network gene -1, every other gene 0 (the
    block of every genome in a run without networks: it never changes there)."""
    net = np.zeros((n, N_GENES - N_ARCH), dtype=np.float32)
    net[:, 0] = -1.0
    return net


def discount(genomes: np.ndarray) -> np.ndarray:
    """Expressed planner discount per organism, in [0.5, 0.99]."""
    g = genomes[:, P_DISCOUNT].astype(np.float64)
    return 0.5 + 0.49 / (1.0 + np.exp(-g))


def utility(genomes: np.ndarray, n_features: int) -> np.ndarray:
    """Planner utility weights over the world's feature channels, [N, n_features]."""
    return genomes[:, P_UTILITY][:, :n_features].astype(np.float64)


# -- initialisation --------------------------------------------------------------------------
def random_population(rng: np.random.Generator, n: int, planner_share: float, sigma: float = 1.0,
                      min_depth: int = 1, rng_memo: np.random.Generator | None = None,
                      memoriser_share: float = 0.0, rng_net: np.random.Generator | None = None,
                      network_share: float = 0.0, min_iterations: int = 0, max_iterations: int = 8) -> np.ndarray:
    """``n`` random genomes (float32 [n, N_GENES]); a ``planner_share`` fraction (rounded) of the core
    expresses the planner block. The core comes from ``rng`` alone (``random_core``); the memoriser
    block from ``rng_memo`` (``random_memo_block``, ``memoriser_share`` of each core architecture
    become memorisers), or, without ``rng_memo``, a fixed block with no memoriser (memoriser gene -1,
    plan genes 0); the network block from ``rng_net`` (``random_network_block``: ``network_share`` of each
    architecture become networks), or, without ``rng_net``, ``switched_off_net_block``."""
    core = random_core(rng, n, planner_share, sigma, min_depth)
    if rng_memo is None:
        memo = switched_off_memo_block(n)
    else:
        memo = random_memo_block(rng_memo, core, memoriser_share, sigma)
    if rng_net is None:
        net = switched_off_net_block(n)
    else:
        net = random_network_block(rng_net, np.concatenate([core, memo], axis=1), network_share, sigma,
                                   min_iterations, max_iterations)
    return np.concatenate([core, memo, net], axis=1)


def random_core(rng: np.random.Generator, n: int, planner_share: float, sigma: float = 1.0,
                min_depth: int = 1) -> np.ndarray:
    """``n`` random core genomes (``CORE_GENES`` columns, exactly the draws made before the memoriser
    block existed); a ``planner_share`` fraction (rounded) expresses the planner block. With
    ``min_depth`` 0 the depth gene starts uniform over [-0.5, MAX_DEPTH + 0.5) (depths 0..MAX_DEPTH),
    else over [0.5, MAX_DEPTH + 0.5)."""
    g = rng.normal(0.0, sigma, size=(n, CORE_GENES))
    n_planners = int(round(planner_share * n))
    arch = np.full(n, -1.0)
    arch[:n_planners] = 1.0
    g[:, ARCH] = rng.permutation(arch) * rng.uniform(0.2, 1.0, size=n)
    g[:, H_WALL] = rng.normal(-2.0, 0.5, size=n)  # a newborn does not head-butt walls
    g[:, H_LOGTEMP] = rng.normal(-1.0, 0.5, size=n)
    g[:, P_DEPTH] = rng.uniform(0.5 if min_depth >= 1 else -0.5, MAX_DEPTH + 0.5, size=n)
    g[:, P_DISCOUNT] = rng.normal(1.5, 0.5, size=n)
    return g.astype(np.float32)


def bias_cues(genomes: np.ndarray, proxy: int, true: int, bias: float) -> np.ndarray:
    """Copies of ``genomes`` with ``bias`` added to the proxy cue channel's genes and subtracted from the true
    cue channel's, in the planner utilities (``P_UTILITY``) and the heuristic attraction weights (``H_ATTRACT``)
    alike: ``organisms.init_bias``, applied to generation 0 after every draw (so bias 0 changes nothing)."""
    out = np.array(genomes, dtype=np.float32, copy=True)
    for block in (P_UTILITY, H_ATTRACT):
        out[:, block.start + proxy] += np.float32(bias)
        out[:, block.start + true] -= np.float32(bias)
    return out


def preference_trait(genomes: np.ndarray, proxy: int, true: int) -> tuple[np.ndarray, np.ndarray]:
    """(planner trait, heuristic trait) per organism, float64 [N] each: how much more the genome values the
    proxy cue than the true cue, u_proxy - u_true (planner utilities) and the attraction weight on the proxy
    channel minus the true channel (heuristic). Both are computed for every organism; which one is expressed
    is its architecture (``architecture``)."""
    g = np.asarray(genomes, dtype=np.float64)
    return (g[:, P_UTILITY.start + proxy] - g[:, P_UTILITY.start + true],
            g[:, H_ATTRACT.start + proxy] - g[:, H_ATTRACT.start + true])


def random_memo_block(rng: np.random.Generator, core: np.ndarray, memoriser_share: float,
                      sigma: float = 1.0) -> np.ndarray:
    """The memoriser block (float32 [n, MEMO_STEPS + 1]) for ``core`` genomes, from the memo stream.

    round(memoriser_share * n_planners) of the core's planners and round(memoriser_share *
    n_heuristics) of its heuristics become memorisers (memoriser gene in [0.2, 1.0)), so each
    architecture's share of the start is the one asked for, up to rounding; the rest get a
    negative memoriser gene in (-1.0, -0.2]. Plan genes ~ N(0, sigma)."""
    n = len(core)
    m = np.empty((n, MEMO_BLOCK.stop - M_ARCH))
    m[:, 1:] = rng.normal(0.0, sigma, size=(n, MEMO_STEPS))
    mag = rng.uniform(0.2, 1.0, size=n)
    sign = -np.ones(n)
    planner = core[:, ARCH] > 0
    for group in (np.flatnonzero(planner), np.flatnonzero(~planner)):
        k = int(round(memoriser_share * len(group)))
        if k:
            sign[rng.choice(group, size=k, replace=False)] = 1.0
    m[:, 0] = sign * mag
    return m.astype(np.float32)


def random_network_block(rng: np.random.Generator, genomes: np.ndarray, network_share: float, sigma: float = 1.0,
                         min_iterations: int = 0, max_iterations: int = 8) -> np.ndarray:
    """The network block (float32 [n, N_GENES - N_ARCH]) for ``genomes`` (core and memoriser block), from the
    network stream.

    round(network_share * k) of each architecture's k organisms (``architecture`` of ``genomes``) become
    networks (network gene in [0.2, 1.0)), so each architecture keeps its share of the rest; the others get
    a negative network gene in (-1.0, -0.2]. The iterations gene is uniform over [min - 0.5, max + 0.5)
    (each of min..max iterations equally likely); every other gene ~ N(0, sigma)."""
    n = len(genomes)
    b = np.empty((n, N_GENES - N_ARCH))
    b[:, 2:] = rng.normal(0.0, sigma, size=(n, N_GENES - N_ARCH - 2))
    b[:, 1] = rng.uniform(min_iterations - 0.5, max_iterations + 0.5, size=n)
    mag = rng.uniform(0.2, 1.0, size=n)
    sign = -np.ones(n)
    arch = architecture(genomes)
    for code in range(int(Arch.NETWORK)):
        group = np.flatnonzero(arch == code)
        k = int(round(network_share * len(group)))
        if k:
            sign[rng.choice(group, size=k, replace=False)] = 1.0
    b[:, 0] = sign * mag
    return b.astype(np.float32)


# -- variation (DEAP-style operators) --------------------------------------------------------
def mutate_gaussian(genomes: np.ndarray, rng: np.random.Generator, sigma: float, indpb: float) -> np.ndarray:
    """Add N(0, sigma) to each gene independently with probability ``indpb``."""
    mask = rng.random(genomes.shape) < indpb
    noise = rng.normal(0.0, sigma, size=genomes.shape)
    return (genomes + np.where(mask, noise, 0.0)).astype(np.float32)


def flip_architecture(genomes: np.ndarray, rng: np.random.Generator, rate: float) -> np.ndarray:
    """Negate the architecture gene with probability ``rate`` (heuristic <-> planner)."""
    out = genomes.copy()
    flip = rng.random(len(out)) < rate
    out[flip, ARCH] = -out[flip, ARCH]
    return out


def crossover_blocks(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, rng_memo: np.random.Generator,
                     rate: float, rng_net: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``crossover_uniform`` over whole genomes with the core's draws from ``rng`` (exactly the draws
    ``crossover_uniform`` makes on the core alone: the pair decision, then the core's swaps), the
    memoriser block's swaps from ``rng_memo`` and the network block's from ``rng_net`` (without ``rng_net``
    the network block is not crossed over: runs without networks, where every genome has the same block);
    a pair crosses over in every block or in none."""
    do = (rng.random(len(a)) < rate)[:, None]
    swap_core = rng.random((len(a), CORE_GENES)) < 0.5
    swap_memo = rng_memo.random((len(a), MEMO_BLOCK.stop - CORE_GENES)) < 0.5
    if rng_net is None:
        swap_net = np.zeros((len(a), a.shape[1] - MEMO_BLOCK.stop), dtype=bool)
    else:
        swap_net = rng_net.random((len(a), a.shape[1] - MEMO_BLOCK.stop)) < 0.5
    swap = np.concatenate([swap_core, swap_memo, swap_net], axis=1) & do
    return np.where(swap, b, a).astype(np.float32), np.where(swap, a, b).astype(np.float32)


def crossover_uniform(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise uniform crossover: with probability ``rate`` a pair swaps each gene with p=0.5."""
    do = (rng.random(len(a)) < rate)[:, None]
    swap = (rng.random(a.shape) < 0.5) & do
    return np.where(swap, b, a).astype(np.float32), np.where(swap, a, b).astype(np.float32)


def select_uniform(fitness: np.ndarray, rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """Indices of ``n`` parents chosen regardless of fitness (``evolution.neutral``): the first contestant of
    each size-``k`` tournament, from exactly the draws ``select_tournament`` makes, so uniform at random and
    with the stream's later draws where they would be."""
    contestants = rng.integers(0, len(fitness), size=(n, k))
    return contestants[:, 0]


def select_tournament(fitness: np.ndarray, rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """Indices of ``n`` winners of size-``k`` tournaments (ties: the lower index wins)."""
    contestants = rng.integers(0, len(fitness), size=(n, k))
    best = np.argmax(fitness[contestants], axis=1)
    return contestants[np.arange(n), best]
