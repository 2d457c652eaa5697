"""Reading a run directory back: the manifest, checkpoints (for a resume), and ``Run`` (the
complete run's config, manifest and tables, plus the report's tables once they exist).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from evosim.config import Config, ConfigError, load_config
from evosim.store.files import sha256
from evosim.store.layout import (CHECKPOINT_STATE, CHECKPOINTS, CONFIG, FORMAT_VERSION, MANIFEST, PARTS, REPORT_TABLES,
                                 RUN_TABLES, RunError, _part_range, table_file)


def read_manifest(run_dir: Path) -> dict:
    p = Path(run_dir) / MANIFEST
    try:
        manifest = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"{run_dir}: {MANIFEST} is unreadable ({e}); not a usable run directory") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("versions", {}), dict):
        raise RunError(f"{run_dir}: {MANIFEST} is not an evosim manifest")
    return manifest


def latest_valid_checkpoint(run_dir: Path, manifest: dict) -> tuple[Path | None, list[str]]:
    """The newest checkpoint whose files and parts match their checksums, and notes on any skipped."""
    notes = []
    ckpts = manifest.get("checkpoints", {}) or {}
    parts = manifest.get("parts", {}) or {}
    for name in sorted(ckpts, reverse=True):
        path = Path(run_dir) / CHECKPOINTS / name
        entry = ckpts[name]
        try:
            g = int(entry["generation"])
            sums = dict(entry["files"])
            sums.update({f"../../{PARTS}/{n}": s for n, s in parts.items() if _part_range(n)[2] <= g})
        except (KeyError, TypeError, ValueError, IndexError):
            notes.append(f"checkpoint {name} has an unreadable manifest entry; falling back to an earlier one")
            continue
        bad = [Path(f).name for f, s in sums.items() if not (path / f).is_file() or sha256(path / f) != s]
        if bad:
            notes.append(f"checkpoint {name} is corrupt or incomplete ({', '.join(bad)} do not match their "
                         f"checksums); falling back to an earlier one")
            continue
        return path, notes
    return None, notes


def read_state(ckpt: Path) -> dict:
    with np.load(ckpt / CHECKPOINT_STATE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def try_manifest(run_dir: Path) -> dict | None:
    """The manifest as a dict, or None if it is missing, unreadable or not a JSON object (never raises)."""
    try:
        manifest = json.loads((Path(run_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def read_table(run_dir: Path, name: str, columns=None, filters=None, missing_ok: bool = False) -> pd.DataFrame | None:
    """Table ``name`` of a run directory (``layout.TABLES``; ``columns`` and ``filters`` as in
    ``pandas.read_parquet``). RunError if ``name`` is not a table, or the file is damaged, or missing
    (None instead with ``missing_ok``)."""
    f = table_file(name, run_dir)
    p = Path(run_dir) / f
    if not p.exists():
        if missing_ok:
            return None
        hint = f"; run `evosim report {run_dir}` first" if name in REPORT_TABLES else ""
        raise RunError(f"{run_dir}: no {f}{hint}")
    try:
        return pd.read_parquet(p, columns=columns, filters=filters)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for damaged files
        raise RunError(f"{run_dir}: {f} is damaged or not Parquet ({type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else ''})") from None


@dataclasses.dataclass
class Run:
    """A run directory read back: tables as DataFrames (``probe`` etc. once a report exists)."""

    path: Path
    config: Config
    manifest: dict
    generations: pd.DataFrame
    organisms: pd.DataFrame
    genomes_all: pd.DataFrame

    @property
    def genomes(self) -> pd.DataFrame:
        """Genomes of the final population."""
        g = self.genomes_all
        return g[g["generation"] == g["generation"].max()].reset_index(drop=True)

    def genomes_at(self, generation: int) -> pd.DataFrame:
        g = self.genomes_all
        out = g[g["generation"] == generation].reset_index(drop=True)
        if out.empty:
            saved = sorted(g["generation"].unique().tolist())
            raise RunError(f"{self.path}: no genomes saved for generation {generation}; saved: {saved}")
        return out

    def report_table(self, name: str) -> pd.DataFrame | None:
        """A report table (``probe``, ``interventions``) or None if there is none or it is damaged."""
        try:
            return read_table(self.path, name)
        except RunError:
            return None

    @property
    def probe(self) -> pd.DataFrame:
        return read_table(self.path, "probe")

    @property
    def interventions(self) -> pd.DataFrame:
        return read_table(self.path, "interventions")


def load_run(path: str | Path) -> Run:
    """Read a run directory. Raises ``RunError`` if it is not a (complete, compatible) run."""
    p = Path(path)
    if not p.exists():
        raise RunError(f"{p}: no such run directory")
    if not p.is_dir():
        raise RunError(f"{p}: not a run directory (it is a file); expected a directory written by `evosim run`")
    if not (p / MANIFEST).exists():
        raise RunError(f"{p}: not a run directory (no {MANIFEST}); expected a directory written by `evosim run`")
    manifest = read_manifest(p)
    fmt = manifest.get("versions", {}).get("format")
    if fmt != FORMAT_VERSION:
        raise RunError(f"{p}: written by an incompatible evosim (format {fmt!r}, this version reads {FORMAT_VERSION}); "
                       f"re-run it with this version")
    if manifest.get("status") != "complete":
        raise RunError(f"{p}: run is incomplete (status {manifest.get('status')!r}, "
                       f"{manifest.get('generations_done', 0)} generations checkpointed); resume it with "
                       f"`evosim run {p / CONFIG} --out {p} --resume`")
    try:
        cfg = load_config(p / CONFIG)
    except ConfigError as e:
        raise RunError(f"{p}: {CONFIG} is not valid for this version: {e}") from None
    tables = {}
    for name in RUN_TABLES:
        if not (p / table_file(name)).exists():
            raise RunError(f"{p}: incomplete run: {table_file(name)} is missing")
        tables[name] = read_table(p, name)
    done = manifest.get("generations_done")
    if isinstance(done, int) and len(tables["generations"]) != done:
        raise RunError(f"{p}: {table_file('generations')} has {len(tables['generations'])} rows but the manifest says "
                       f"{done} generations ran; the run directory is inconsistent")
    return Run(p, cfg, manifest, _with_selection_columns(tables["generations"]), tables["organisms"],
               _with_memoriser_block(tables["genomes"], _features(cfg)))


def _with_selection_columns(generations: pd.DataFrame) -> pd.DataFrame:
    """Generations written before the selection columns existed (``schema.SELECTION_COLUMNS``) read with them NaN."""
    from evosim.schema import SELECTION_COLUMNS

    missing = [c for c in SELECTION_COLUMNS if c not in generations.columns]
    return generations.assign(**{c: float("nan") for c in missing}) if missing else generations


def _features(cfg) -> tuple[str, ...]:
    from evosim.worlds import WORLDS

    return tuple(WORLDS[cfg.world.name].features)


def _with_memoriser_block(genomes: pd.DataFrame, features: tuple[str, ...] = ()) -> pd.DataFrame:
    """Genomes written before the memoriser block existed read with the block switched off
    (``evosim.genome.switched_off_memo_block``: not a memoriser), so reports and the viewer work on older runs;
    likewise the network block (``switched_off_net_block``, its genes named after the world's ``features``), which
    runs without networks do not write."""
    from evosim.genome import M_ARCH, N_ARCH, gene_names, switched_off_memo_block, switched_off_net_block

    if "m_arch" not in genomes.columns:
        block = switched_off_memo_block(len(genomes))
        genomes = genomes.assign(**{name: block[:, j] for j, name in enumerate(gene_names(())[M_ARCH:N_ARCH])})
    if "n_arch" not in genomes.columns:  # before the network block, or a run without networks
        block = pd.DataFrame(switched_off_net_block(len(genomes)), columns=gene_names(features)[N_ARCH:],
                             index=genomes.index)
        genomes = pd.concat([genomes, block], axis=1)
    return genomes


def config_from_run(path: str | Path) -> Config:
    """The validated config of a run directory."""
    p = Path(path) / CONFIG
    if not p.exists():
        raise RunError(f"{path}: not a run directory (no {CONFIG})")
    return load_config(p)
