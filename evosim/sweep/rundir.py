"""Everything the sweep reads from a run directory, through the store's run-directory API.

A sweep's runs are ordinary run directories (``<out>/cells/<hash>/``, written by
``evosim.experiment`` and ``evosim.report``). Whether a run or its report is complete and
the lock this process may have left are questions for ``evosim.store``; this module names
them for the sweep and reads the two tables a sweep row is made of.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from evosim.store import clear_own_lock, report_is_complete, run_is_complete


def _clear_own_lock(run_dir: Path) -> None:
    """Drop a lock this very process left behind (``evosim.store.clear_own_lock``)."""
    clear_own_lock(Path(run_dir))


def read_generations(run_dir: Path) -> pd.DataFrame:
    """The run's generations.parquet (one row per generation)."""
    return pd.read_parquet(Path(run_dir) / "generations.parquet")


def read_final_organisms(run_dir: Path, generation: int) -> pd.DataFrame | None:
    """The rows of organisms.parquet of generation ``generation`` (None if the table is missing)."""
    p = Path(run_dir) / "organisms.parquet"
    if not p.exists():
        return None
    return pd.read_parquet(p, filters=[("generation", "==", int(generation))])


def read_probe(run_dir: Path) -> pd.DataFrame | None:
    """The run's probe.parquet (written by its report), or None if there is none."""
    p = Path(run_dir) / "probe.parquet"
    return pd.read_parquet(p) if p.exists() else None


__all__ = ["report_is_complete", "run_is_complete", "read_generations", "read_final_organisms", "read_probe"]
