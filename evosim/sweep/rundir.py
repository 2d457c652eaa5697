"""Everything the sweep reads from a run directory, in one place.

A sweep's runs are ordinary run directories (``<out>/cells/<hash>/``, written by
``evosim.experiment`` and ``evosim.report``). These are the sweep's only reads of them: is the
run complete (``run_is_complete``), did its report finish (``report_is_complete``), the lock
this very process may have left (``_clear_own_lock``), and the two tables a sweep row is made
of (``read_generations``, ``read_probe``). When the store's run-directory API lands, switching
the sweep to it is an edit of this module only.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pandas as pd


def _manifest(run_dir: Path) -> dict:
    """The run's manifest.json, or ``{}`` if it is missing or unreadable (neither complete nor reported)."""
    try:
        return json.loads((Path(run_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}


def report_is_complete(run_dir: str | Path) -> bool:
    """The report finished: probe.parquet exists and the manifest holds the report's wall time (written last)."""
    d = Path(run_dir)
    man = _manifest(d)
    return (d / "probe.parquet").exists() and "report" in man.get("wall_times_s", {})


def run_is_complete(run_dir: str | Path, need_report: bool = True) -> bool:
    """A run directory whose manifest says complete and (if the report module exists) whose report finished."""
    d = Path(run_dir)
    man = _manifest(d)
    if man.get("status") != "complete":
        return False
    return report_is_complete(d) or not need_report


def _clear_own_lock(run_dir: Path) -> None:
    """Drop a lock this very process left behind (a run that raised earlier in this process).

    Reads the lock file ``evosim.store.RunLock`` writes (``{"pid", "host", ...}``)."""
    lock = run_dir / ".lock"
    try:
        held = json.loads(lock.read_text())
    except (OSError, ValueError):
        return
    if held.get("pid") == os.getpid() and held.get("host") == socket.gethostname():
        lock.unlink(missing_ok=True)


def read_generations(run_dir: Path) -> pd.DataFrame:
    """The run's generations.parquet (one row per generation)."""
    return pd.read_parquet(Path(run_dir) / "generations.parquet")


def read_probe(run_dir: Path) -> pd.DataFrame | None:
    """The run's probe.parquet (written by its report), or None if there is none."""
    p = Path(run_dir) / "probe.parquet"
    return pd.read_parquet(p) if p.exists() else None


__all__ = ["report_is_complete", "run_is_complete", "read_generations", "read_probe"]
