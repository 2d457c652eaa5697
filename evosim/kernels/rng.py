"""Counter-based random numbers: splitmix64 hashes of (seed, stream, generation, organism, episode, step).

Owns the hash (``_splitmix64``), the per-episode key (``_episode_key``, vectorised as
``_episode_keys`` behind ``evosim.kernels.episode_keys``) and the per-step uniform draw
(``_uniform``). No generator state is shared between threads, so results do not depend on the
thread count or on the order in which prange visits organisms.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0
#: the largest float64 below 1: (2**53 - 1 + 0.5) rounds up to 2**53, which would give exactly 1.0
_BELOW_ONE = 1.0 - _INV53


@njit(cache=True, inline="always")
def _splitmix64(x):
    z = np.uint64(x) + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def _episode_key(seed, stream, generation, organism, episode):
    """A 64-bit key for one episode of one organism."""
    k = _splitmix64(np.uint64(seed))
    k = _splitmix64(k ^ np.uint64(stream))
    k = _splitmix64(k ^ np.uint64(generation))
    k = _splitmix64(k ^ np.uint64(organism))
    k = _splitmix64(k ^ np.uint64(episode))
    return k


@njit(cache=True, inline="always")
def _uniform(key, step, j):
    """A float64 in (0, 1) for draw ``j`` of step ``step`` of the episode with ``key``."""
    b = _splitmix64(key ^ _splitmix64(np.uint64(step) * np.uint64(8) + np.uint64(j)))
    return min((np.float64(b >> _S11) + 0.5) * _INV53, _BELOW_ONE)


@njit(cache=True)
def _episode_keys(seed, stream, generation, organisms, episodes, out):
    """``out[i, e] = _episode_key(seed, stream, generation, organisms[i], episodes[e])``."""
    for i in range(organisms.shape[0]):
        for e in range(episodes.shape[0]):
            out[i, e] = _episode_key(seed, stream, generation, organisms[i], episodes[e])
