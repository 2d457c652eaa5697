"""What a run directory is: its file names, format version, the error type of the store, and how
to tell a run directory (possibly partial) from an empty or foreign one.

Layout of ``runs/out/<experiment>__seed<k>/``::

    config.toml           the resolved, validated config (re-loadable with ``evosim.load_config``)
    manifest.json         versions, git commit, seed, status, wall times, checkpoint checksums
    generations.parquet   one row per generation (see evosim.schema.RUN_COLUMNS)
    organisms.parquet     one row per organism per generation
    genomes.parquet       genomes of every ``checkpoint_every``-th generation and of the final one
    checkpoints/gen_<g>/  state.npz (no pickle), the generations table so far and the organism rows not
                          yet in a part: with the parts it names, enough to resume after generation g
    parts/                immutable table parts written while the run goes (removed when it completes)
    .lock                 PID, host and process start time of the process writing the directory
    probe.parquet, interventions.parquet, figures/   written by ``evosim report``
"""
from __future__ import annotations

from pathlib import Path

from evosim.errors import UserError

FORMAT_VERSION = 1

MANIFEST = "manifest.json"
CONFIG = "config.toml"
LOCK = ".lock"
#: files an evosim run directory may hold (anything else makes it "not a run": never deleted)
RUN_FILES = {"config.toml", "manifest.json", "generations.parquet", "organisms.parquet", "genomes.parquet",
             "checkpoints", "parts", ".lock"}


class RunError(UserError, RuntimeError):
    """A user-facing problem with a run directory (exists, locked, not a run, incompatible, disk full)."""


def default_run_dir(cfg, root: str | Path = "runs/out") -> Path:
    return Path(root) / f"{cfg.name}__seed{cfg.seed}"


def _leftover(name: str) -> bool:
    """A temporary file of an atomic write that was killed before its rename."""
    return name.startswith(".") and name.endswith(".tmp")


def _dir_kind(d: Path) -> str:
    """'missing', 'empty', 'run' (an evosim run, possibly a partial one) or 'foreign'."""
    if not d.exists():
        return "missing"
    if not d.is_dir():
        return "foreign"
    names = {p.name for p in d.iterdir() if not _leftover(p.name)}
    if not names - {".lock"}:
        return "empty"
    return "run" if names & {"manifest.json", "config.toml"} else "foreign"


def _part_range(name: str) -> tuple[str, int, int]:
    """('organisms', g0, g1) for organisms_<g0>_<g1>.parquet, ('genomes', g, g) for genomes_<g>.parquet."""
    stem = name.rsplit(".", 1)[0]
    kind, *gs = stem.split("_")
    return kind, int(gs[0]), int(gs[-1])
