"""The store: everything that reads or writes a run directory goes through this package.

    evosim.store.layout     what a run directory holds: every file and table name, format version, RunError
    evosim.store.files      atomic writes, Parquet/JSON, fsync, sha256, versions and git commit
    evosim.store.lock       RunLock: one writing process per directory
    evosim.store.writer     RunWriter: a run writing its directory (parts, checkpoints, resume, final tables)
    evosim.store.reader     Run, load_run, read_manifest, checkpoints
    evosim.store.directory  RunDirectory: tables by name (read_table, write_table), status, manifest
                            updates, report completion, the lock

Every file is written atomically (temporary file, fsync, rename), so a killed run leaves
either the previous complete file or none; every checkpoint file and part has a sha256 in the
manifest, and a resume uses the newest checkpoint whose checksums match. Wall-clock times
live only in the manifest. Nothing is read back with pickle. Table columns are documented in
``evosim.schema`` (``COLUMNS`` here is ``schema.RUN_COLUMNS``).

This module exports the public names (``__all__``) only; code inside evosim imports a helper
(``atomic_write``, ``RunLock``, ...) from the submodule that defines it.
"""
from __future__ import annotations

from evosim.schema import RUN_COLUMNS as COLUMNS
from evosim.store.directory import RunDirectory
from evosim.store.layout import FORMAT_VERSION, RunError
from evosim.store.reader import Run, load_run

__all__ = ["COLUMNS", "FORMAT_VERSION", "Run", "RunDirectory", "RunError", "load_run"]
