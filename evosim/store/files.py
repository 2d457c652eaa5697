"""File primitives of the store: atomic writes (temporary file, fsync, rename), Parquet and JSON,
sha256 checksums, and the provenance a run records (package versions, git commit, config text).

Every writer takes an optional ``faults`` hook: a callable ``faults(point: str)`` called at the
named point ``"atomic-write"`` (a temporary file written and fsynced, not yet renamed). It is
for tests only (to kill or fail a write at a known moment); the default does nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import tomli_w

from evosim.config import Config, to_dict
from evosim.store.layout import FORMAT_VERSION


def no_faults(point: str) -> None:
    """The default fault hook: nothing happens at any point."""


def fsync_dir(path: Path) -> None:
    """fsync a directory (so a rename in it is durable); silently skipped where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write, faults=None) -> None:
    """Write ``path`` via ``write(tmp_path)``, then fsync and rename into place.

    A crash at any moment leaves either the previous complete file or none (plus, at worst,
    a hidden ``.<name>.*.tmp`` file that is never read).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        write(Path(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        (faults or no_faults)("atomic-write")
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_bytes(path: Path, data: bytes, faults=None) -> None:
    atomic_write(path, lambda p: p.write_bytes(data), faults)


def write_json(path: Path, obj, default=None, faults=None) -> None:
    """``obj`` as indented JSON with sorted keys and a final newline (the format of every manifest)."""
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=default) + "\n").encode(), faults)


def write_parquet(path: Path, df: pd.DataFrame, faults=None) -> None:
    atomic_write(path, lambda p: df.to_parquet(p, index=False, engine="pyarrow"), faults)


def concat_parquet(parts: list[Path], path: Path, faults=None) -> None:
    """Write the Parquet files ``parts`` one after another into ``path`` (atomically), one part in memory at a time."""
    import pyarrow.parquet as pq

    def write(tmp):
        writer = None
        try:
            for p in parts:
                t = pq.read_table(p)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, t.schema)
                writer.write_table(t)
        finally:
            if writer is not None:
                writer.close()

    atomic_write(path, write, faults)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -- provenance --------------------------------------------------------------------------------
def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    import mesa
    import numba

    import evosim

    return {"evosim": evosim.__version__, "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "mesa": mesa.__version__, "pandas": pd.__version__,
            "format": FORMAT_VERSION}


def config_toml(cfg: Config) -> str:
    return tomli_w.dumps(to_dict(cfg))
