"""``RunDirectory``: the one owner of a run directory's status, manifest updates, report
completion and lock, for everything that is not the run's own writer (the report, sweeps, the
viewer, analysis scripts). Nothing outside evosim.store reads or writes ``manifest.json`` or
``.lock`` itself, and nothing outside evosim.store spells a file name of a run directory:
tables are written and read by name (``rd.write_table("probe", df)``, ``rd.read_table("probe")``;
the names are ``evosim.store.layout.TABLES``).

A run is *complete* when its manifest says ``status = "complete"``; its report is *complete*
when its probe table exists and the manifest holds the report's wall time
(``wall_times_s.report``), which the report writes last (``mark_report_complete``).
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd

from evosim.config import Config
from evosim.store.files import write_json, write_parquet
from evosim.store.layout import FIGURES, LOCK, MANIFEST, _dir_kind, table_file
from evosim.store.lock import RunLock, clear_own_lock, lock_holder
from evosim.store.reader import config_from_run, load_run, read_manifest, read_table, try_manifest


class RunDirectory:
    """A run directory by path. Cheap to make; every method reads the directory afresh.

    ``faults`` (tests only): a callable ``faults(point)`` passed to the atomic writes (``"atomic-write"``).
    """

    def __init__(self, path: str | Path, faults=None):
        self.path = Path(path)
        self.faults = faults

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # -- what is there ---------------------------------------------------------------------
    def kind(self) -> str:
        """'missing', 'empty', 'run' (possibly partial) or 'foreign' (files evosim did not write)."""
        return _dir_kind(self.path)

    def manifest(self) -> dict:
        """The manifest (RunError if missing, unreadable or not an evosim manifest)."""
        return read_manifest(self.path)

    def status(self) -> str | None:
        """The manifest's status (running, interrupted, complete) or None without a readable manifest."""
        man = try_manifest(self.path)
        return None if man is None else man.get("status")

    def run_is_complete(self, need_report: bool = True) -> bool:
        """The manifest says complete and (with ``need_report``) the report finished too."""
        man = try_manifest(self.path)
        if man is None or man.get("status") != "complete":
            return False
        return not need_report or self.report_is_complete()

    def report_is_complete(self) -> bool:
        """The probe table exists and the manifest holds the report's wall time (written last)."""
        man = try_manifest(self.path)
        if man is None:
            return False
        wall = man.get("wall_times_s", {})
        return self.has_table("probe") and isinstance(wall, dict) and "report" in wall

    def config(self) -> Config:
        return config_from_run(self.path)

    def load(self):
        """The complete run (``evosim.store.Run``); RunError otherwise."""
        return load_run(self.path)

    # -- tables, by name (evosim.store.layout.TABLES) --------------------------------------
    def table_path(self, name: str) -> Path:
        """The file of table ``name``; RunError naming the tables if ``name`` is not one of them."""
        return self.path / table_file(name, self.path)

    def has_table(self, name: str) -> bool:
        return self.table_path(name).exists()

    def read_table(self, name: str, columns=None, filters=None, missing_ok: bool = False) -> pd.DataFrame | None:
        """Table ``name`` (generations, organisms, genomes, probe, interventions, population_agreement,
        three_way); ``columns`` and ``filters`` as in ``pandas.read_parquet``. RunError if the name is not a
        table, or the file is damaged, or missing (None instead with ``missing_ok``)."""
        return read_table(self.path, name, columns=columns, filters=filters, missing_ok=missing_ok)

    def write_table(self, name: str, df: pd.DataFrame) -> Path:
        """Write table ``name`` atomically (replacing a previous one); returns its path."""
        p = self.table_path(name)
        write_parquet(p, df, self.faults)
        return p

    @property
    def figures(self) -> Path:
        """The directory of the report's figures (not created here)."""
        return self.path / FIGURES

    # -- changing it -----------------------------------------------------------------------
    def update_manifest(self, **fields) -> dict:
        """Set top-level manifest ``fields`` and write the manifest atomically; returns the new manifest.

        All or nothing: if the write fails the previous manifest stays, byte for byte. The caller
        should hold the lock (``with rd.lock():``) so that no other process writes it meanwhile.
        """
        man = self.manifest()
        man.update(fields)
        write_json(self.path / MANIFEST, man, faults=self.faults)
        return man

    def mark_report_complete(self, wall_s: float) -> dict:
        """Record the report's wall time (``wall_times_s.report``): the report's last write."""
        man = self.manifest()
        wall = dict(man.get("wall_times_s") or {})
        wall["report"] = wall_s
        return self.update_manifest(wall_times_s=wall)

    # -- the lock --------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self):
        """Hold the directory's lock for the ``with`` block. A second holder (another live process)
        gets a RunError naming the holder's PID and host; a stale lock is taken over (``.warning``)."""
        lk = RunLock(self.path)
        lk.acquire()
        try:
            yield lk
        finally:
            lk.release()

    def lock_holder(self) -> dict | None:
        """The lock's contents (pid, host, start) or None if unlocked."""
        return lock_holder(self.path)

    def is_locked(self) -> bool:
        return (self.path / LOCK).exists()

    def clear_own_lock(self) -> bool:
        """Remove a lock this very process left behind; never another process's. True if removed."""
        return clear_own_lock(self.path)


def report_is_complete(run_dir: str | Path) -> bool:
    """``RunDirectory(run_dir).report_is_complete()``."""
    return RunDirectory(run_dir).report_is_complete()


def run_is_complete(run_dir: str | Path, need_report: bool = True) -> bool:
    """``RunDirectory(run_dir).run_is_complete(need_report)``."""
    return RunDirectory(run_dir).run_is_complete(need_report)


__all__ = ["RunDirectory", "report_is_complete", "run_is_complete"]
