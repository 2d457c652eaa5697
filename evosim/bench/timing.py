"""The clock and the machine: how the bench suite times work and describes where it ran.

Owns ``numba_threads`` (a temporary numba thread count), ``best_time`` (best CPU and wall
seconds over repeats), ``steps_per_s`` (organism-steps per CPU / wall second at one thread),
``_same_episodes`` (the check that two implementations did identical work before any ratio is
reported), the load average and ``machine()`` (CPU, cores, versions).
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import re
import subprocess
import time

import numpy as np

from evosim.bench.workloads import Workload


@contextlib.contextmanager
def numba_threads(n: int):
    import numba

    old = numba.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def best_time(fn, repeats: int) -> tuple[float, float, object]:
    """(best CPU seconds, best wall seconds, last result) over ``repeats`` calls of ``fn``."""
    cpu = wall = math.inf
    out = None
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return cpu, wall, out


def _same_episodes(a, b, what: str) -> None:
    """Raise unless two rollouts (Rollouts-like) agree exactly on every per-episode record."""
    for field in ("ret", "steps", "plans", "reach", "trace"):
        x, y = getattr(a, field, None), getattr(b, field, None)
        if x is None or y is None:
            continue
        if not np.array_equal(np.asarray(x), np.asarray(y)):
            raise RuntimeError(f"{what}: the two implementations disagree on {field}; the comparison is void")


def steps_per_s(work: Workload, repeats: int) -> tuple[float, float, object]:
    """Organism-steps per CPU second and per wall second at one numba thread."""
    with numba_threads(1):
        work.run()  # compile / warm
        cpu, wall, rec = best_time(work.run, repeats)
    steps = int(rec.steps.sum())
    return steps / cpu, steps / wall, rec


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        txt = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"Model name:\s*(.+)", txt)
        if m:
            model = m.group(1).strip()
    except (OSError, subprocess.SubprocessError):
        pass
    import numba

    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(), "numba": numba.__version__,
            "numpy": np.__version__, "numba_threads": numba.config.NUMBA_NUM_THREADS}


__all__ = ["numba_threads", "best_time", "steps_per_s", "machine"]
