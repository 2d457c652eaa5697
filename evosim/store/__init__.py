"""The store: everything that reads or writes a run directory goes through this package.

    evosim.store.layout     what a run directory holds (file names, format version, RunError)
    evosim.store.files      atomic writes, Parquet/JSON, fsync, sha256, versions and git commit
    evosim.store.lock       RunLock: one writing process per directory
    evosim.store.writer     RunWriter: a run writing its directory (parts, checkpoints, resume, final tables)
    evosim.store.reader     Run, load_run, read_manifest, checkpoints
    evosim.store.directory  RunDirectory: status, manifest updates, report completion, the lock

Every file is written atomically (temporary file, fsync, rename), so a killed run leaves
either the previous complete file or none; every checkpoint file and part has a sha256 in the
manifest, and a resume uses the newest checkpoint whose checksums match. Wall-clock times
live only in the manifest. Nothing is read back with pickle. Table columns are documented in
``evosim.schema`` (``COLUMNS`` here is ``schema.RUN_COLUMNS``).
"""
from __future__ import annotations

from evosim.schema import RUN_COLUMNS as COLUMNS
from evosim.store.directory import RunDirectory, report_is_complete, run_is_complete
from evosim.store.files import (
    atomic_write, concat_parquet, config_toml, fsync_dir, git_commit, no_faults, sha256, versions, write_bytes,
    write_json, write_parquet,
)
from evosim.store.layout import FORMAT_VERSION, RUN_FILES, RunError, default_run_dir
from evosim.store.lock import RunLock, clear_own_lock, lock_holder
from evosim.store.reader import (
    Run, config_from_run, latest_valid_checkpoint, load_run, read_manifest, read_state, read_table, try_manifest,
)
from evosim.store.writer import RunWriter

__all__ = ["COLUMNS", "FORMAT_VERSION", "RUN_FILES", "Run", "RunDirectory", "RunError", "RunLock", "RunWriter",
           "atomic_write", "clear_own_lock", "concat_parquet", "config_from_run", "config_toml", "default_run_dir",
           "fsync_dir", "git_commit", "latest_valid_checkpoint", "load_run", "lock_holder", "no_faults",
           "read_manifest", "read_state", "read_table", "report_is_complete", "run_is_complete", "sha256",
           "try_manifest", "versions", "write_bytes", "write_json", "write_parquet"]
