"""Genome layout, decoding and the GA's variation operators.

A population is one float32 matrix ``genomes[N, G]``. Every organism carries both blocks;
the architecture gene decides which one is expressed, and the other drifts under mutation,
so a single mutation of the architecture gene can switch an organism between a heuristic
and a planner. The layout is fixed (features padded to ``MAX_FEATURES``) so that kernels,
tables and checkpoints agree on it for every world.

Operators are small pure functions in the style of DEAP: arrays and an explicit
``numpy.random.Generator`` in, new arrays out.
"""
from __future__ import annotations

import numpy as np

from evosim.constants import MAX_DEPTH, MAX_FEATURES, Arch

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
"""planner: search depth gene, expressed as clip(floor(g + 0.5), 1, max_depth)"""
P_DISCOUNT = P_DEPTH + 1
"""planner: discount gene, expressed as 0.5 + 0.49 * sigmoid(g)"""
N_GENES = P_DISCOUNT + 1

HEURISTIC_BLOCK = slice(1, H_LOGTEMP + 1)
PLANNER_BLOCK = slice(H_LOGTEMP + 1, N_GENES)


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
    )


# -- decoding --------------------------------------------------------------------------------
def architecture(genomes: np.ndarray) -> np.ndarray:
    """``Arch`` code per organism (int64)."""
    return np.where(genomes[:, ARCH] > 0, int(Arch.PLANNER), int(Arch.HEURISTIC)).astype(np.int64)


def depth(genomes: np.ndarray, max_depth: int = MAX_DEPTH) -> np.ndarray:
    """Expressed planner search depth per organism (1..max_depth)."""
    return np.clip(np.floor(genomes[:, P_DEPTH].astype(np.float64) + 0.5), 1, max_depth).astype(np.int64)


def discount(genomes: np.ndarray) -> np.ndarray:
    """Expressed planner discount per organism, in [0.5, 0.99]."""
    g = genomes[:, P_DISCOUNT].astype(np.float64)
    return 0.5 + 0.49 / (1.0 + np.exp(-g))


def utility(genomes: np.ndarray, n_features: int) -> np.ndarray:
    """Planner utility weights over the world's feature channels, [N, n_features]."""
    return genomes[:, P_UTILITY][:, :n_features].astype(np.float64)


# -- initialisation --------------------------------------------------------------------------
def random_population(rng: np.random.Generator, n: int, planner_share: float, sigma: float = 1.0) -> np.ndarray:
    """``n`` random genomes; a ``planner_share`` fraction (rounded) expresses the planner block."""
    g = rng.normal(0.0, sigma, size=(n, N_GENES))
    n_planners = int(round(planner_share * n))
    arch = np.full(n, -1.0)
    arch[:n_planners] = 1.0
    g[:, ARCH] = rng.permutation(arch) * rng.uniform(0.2, 1.0, size=n)
    g[:, H_WALL] = rng.normal(-2.0, 0.5, size=n)  # a newborn does not head-butt walls
    g[:, H_LOGTEMP] = rng.normal(-1.0, 0.5, size=n)
    g[:, P_DEPTH] = rng.uniform(0.5, MAX_DEPTH + 0.5, size=n)
    g[:, P_DISCOUNT] = rng.normal(1.5, 0.5, size=n)
    return g.astype(np.float32)


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


def crossover_uniform(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise uniform crossover: with probability ``rate`` a pair swaps each gene with p=0.5."""
    do = (rng.random(len(a)) < rate)[:, None]
    swap = (rng.random(a.shape) < 0.5) & do
    return np.where(swap, b, a).astype(np.float32), np.where(swap, a, b).astype(np.float32)


def select_tournament(fitness: np.ndarray, rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """Indices of ``n`` winners of size-``k`` tournaments (ties: the lower index wins)."""
    contestants = rng.integers(0, len(fitness), size=(n, k))
    best = np.argmax(fitness[contestants], axis=1)
    return contestants[np.arange(n), best]
