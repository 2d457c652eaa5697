"""How much memory a run needs: the estimate ``evosim.config`` checks a config against before anything
runs (a config that cannot fit on this machine is refused with a one-line error, nothing written)."""
from __future__ import annotations

import os

from evosim.genome import N_GENES

#: per organism: Mesa agent object, lineage, fitness, ids, and the genome copies, masks and draws made while
#: breeding: measured (tracemalloc, 20,000 organisms) at 21.7 kB for runs without networks and 29.4 kB for a
#: network-only population (whose block is mutated), with genomes of N_GENES = 1053 genes: 28 bytes per gene
_BYTES_PER_ORGANISM = 1200 + 28 * N_GENES
#: per organism-episode of the rollout records (return, proxy, steps, plans, objects reached)
_BYTES_PER_EPISODE = 4 * 8 + 16 * 8
#: per organism-generation row of the organism table held until the next checkpoint flushes it
_BYTES_PER_ROW = 120
#: per layout cell: walls plus one int16 distance map per object slot
_BYTES_PER_CELL = 1 + 16 * 2
#: interpreter, numpy, pandas, numba and compiled kernels
_BASE_BYTES = 400 * 2**20


def memory_limit() -> int:
    """Physical memory of this machine in bytes (16 GiB if it cannot be read)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def estimate_memory(cfg) -> int:
    """Approximate peak bytes of ``evosim run`` for ``cfg`` (used to refuse configs that cannot fit)."""
    ev, w = cfg.evolution, cfg.world
    # regret selection rolls every organism out on regret_pool x episodes candidate layouts
    rolled = ev.episodes * (w.regret_pool if w.training_selection == "regret" else 1)
    per_org = _BYTES_PER_ORGANISM + rolled * _BYTES_PER_EPISODE + min(ev.checkpoint_every, ev.generations) * _BYTES_PER_ROW
    layouts = (rolled + w.train_pool) * w.size * w.size * _BYTES_PER_CELL
    return _BASE_BYTES + ev.population * per_org + layouts


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} EiB"
