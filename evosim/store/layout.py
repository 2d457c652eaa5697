"""What a run directory is: the name of every file and table in it, the format version, the error
type of the store, and how to tell a run directory (possibly partial) from an empty or foreign one.

Every name of a run directory is defined here and nowhere else: code outside ``evosim.store``
reads and writes a run directory's tables by name through ``RunDirectory`` (``write_table``,
``read_table``) and never spells a file name.

Layout of ``runs/out/<experiment>__seed<k>/``::

    config.toml           the resolved, validated config (re-loadable with ``evosim.load_config``)
    manifest.json         versions, git commit, seed, status, wall times, checkpoint checksums
    generations.parquet   one row per generation (see evosim.schema.RUN_COLUMNS)
    organisms.parquet     one row per organism per generation
    genomes.parquet       genomes of every ``checkpoint_every``-th generation and of the final one
    checkpoints/gen_<g>/  state.npz (no pickle), the generations table so far and the organism rows not
                          yet in a part (pending.parquet): with the parts it names, enough to resume after
                          generation g
    parts/                immutable table parts written while the run goes (removed when it completes):
                          organisms_<g0>_<g1>.parquet, genomes_<g>.parquet
    .lock                 PID, host and process start time of the process writing the directory
    probe.parquet, interventions.parquet, population_agreement.parquet, three_way.parquet, figures/
                          written by ``evosim report`` (evosim.schema.PROBE_COLUMNS)
"""
from __future__ import annotations

from pathlib import Path

from evosim.errors import UserError

FORMAT_VERSION = 1

CONFIG = "config.toml"
MANIFEST = "manifest.json"
LOCK = ".lock"
CHECKPOINTS = "checkpoints"
PARTS = "parts"
FIGURES = "figures"

#: tables a run writes (``RunWriter``)
RUN_TABLES = ("generations", "organisms", "genomes")
#: tables its report writes (``evosim report``)
REPORT_TABLES = ("probe", "interventions", "population_agreement", "three_way")
#: every table of a run directory, by name -> its file
TABLES = {name: f"{name}.parquet" for name in (*RUN_TABLES, *REPORT_TABLES)}

#: inside a checkpoint directory: the GA state, and the organism rows not yet in a part (plus TABLES["generations"])
CHECKPOINT_STATE = "state.npz"
CHECKPOINT_PENDING = "pending.parquet"

#: every file or directory evosim writes at the top of a run directory; ``RunWriter`` replacing a run
#: (``--overwrite``) removes these and leaves anything else (evosim never deletes files it did not write)
RUN_FILES = frozenset({CONFIG, MANIFEST, LOCK, CHECKPOINTS, PARTS, FIGURES, *TABLES.values()})


class RunError(UserError, RuntimeError):
    """A user-facing problem with a run directory (exists, locked, not a run, incompatible, disk full)."""


def table_file(name: str, where: str | Path = "run directory") -> str:
    """The file of table ``name`` (``"probe"`` -> ``"probe.parquet"``); RunError for a name that is not a table."""
    try:
        return TABLES[name]
    except (KeyError, TypeError):
        raise RunError(f"{where}: no table named {name!r}; the tables of a run directory are "
                       f"{', '.join(TABLES)}") from None


def organisms_part(g0: int, g1: int) -> str:
    """The part holding the organism rows of generations g0..g1."""
    return f"organisms_{int(g0):07d}_{int(g1):07d}.parquet"


def genomes_part(g: int) -> str:
    """The part holding the genomes of generation g."""
    return f"genomes_{int(g):07d}.parquet"


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
    if not names - {LOCK}:
        return "empty"
    return "run" if names & {MANIFEST, CONFIG} else "foreign"


def _part_range(name: str) -> tuple[str, int, int]:
    """('organisms', g0, g1) for organisms_<g0>_<g1>.parquet, ('genomes', g, g) for genomes_<g>.parquet."""
    stem = name.rsplit(".", 1)[0]
    kind, *gs = stem.split("_")
    return kind, int(gs[0]), int(gs[-1])
