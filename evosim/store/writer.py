"""Writing a run: ``RunWriter`` owns one run directory while a run writes it (creation and the
refusals that keep data safe, config and manifest, table parts, checkpoints, the resume point,
the final tables).

``faults`` (tests only) is a callable ``faults(point: str)`` the writer calls at ``"part"``
(after a table part is written), ``"checkpoint-file"`` (after each file inside a checkpoint being
written), ``"checkpoint-rename"`` (checkpoint in place, manifest not yet updated) and
``"atomic-write"`` (inside every atomic file write, before the rename). Default: no-op.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evosim.config import Config
from evosim.store.files import (
    concat_parquet, config_toml, fsync_dir, git_commit, no_faults, sha256, versions, write_bytes, write_json,
    write_parquet,
)
from evosim.store.directory import RunDirectory
from evosim.store.layout import (CHECKPOINT_PENDING, CHECKPOINT_STATE, CHECKPOINTS, CONFIG, FORMAT_VERSION, LOCK,
                                 MANIFEST, PARTS, RUN_FILES, RunError, _dir_kind, _leftover, _part_range, table_file)
from evosim.store.lock import RunLock
from evosim.store.reader import latest_valid_checkpoint, read_manifest, read_state


class RunWriter:
    """Owns one run directory while a run writes it.

    Tables are written in immutable parts as the run goes (``parts/organisms_<g0>_<g1>.parquet``
    at every checkpoint generation, ``parts/genomes_<g>.parquet``), so memory stays flat; a
    checkpoint is ``state.npz`` + the generations table + the organism rows not yet in a part,
    and the manifest lists the checksums of both. ``finish`` joins the parts into the final tables.
    """

    def __init__(self, run_dir: Path, cfg: Config, faults=None):
        self.dir = Path(run_dir)
        self.cfg = cfg
        self.faults = faults or no_faults
        self.manifest: dict = {}
        self.lock = RunLock(self.dir)
        self.rd = RunDirectory(self.dir, self.faults)
        self.notes: list[str] = []

    def create(self, mode: str) -> None:
        """mode: 'new' (refuse an existing run), 'overwrite' or 'resume'. Takes the lock."""
        d = self.dir
        try:
            kind = _dir_kind(d)
        except OSError as e:
            raise RunError(f"{d}: cannot read the run directory: {e.strerror}") from None
        if kind == "foreign":
            what = "is not a directory" if d.exists() and not d.is_dir() else "is not empty and holds no evosim run"
            raise RunError(f"{d}: {what}; choose another --out (evosim never deletes files it did not write)")
        if mode == "new" and kind == "run":
            raise RunError(f"{d}: already holds a run; use --resume to continue it or --overwrite to replace it")
        if mode not in ("new", "overwrite", "resume"):
            raise ValueError(f"mode must be new, overwrite or resume, got {mode!r}")
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunError(f"{d}: cannot create the run directory: {e.strerror}") from None
        if not os.access(d, os.W_OK | os.X_OK):
            raise RunError(f"{d}: the run directory is not writable")
        self.lock.acquire()
        if self.lock.warning:
            self.notes.append(self.lock.warning)
        try:
            self._open(mode, kind)
        except OSError as e:
            self.lock.release()
            raise RunError(f"{d}: cannot prepare the run directory: {e.strerror} ({e.filename or d})") from None
        except BaseException:
            self.lock.release()
            raise

    def _open(self, mode: str, kind: str) -> None:
        d = self.dir
        if mode == "resume" and kind == "run" and (d / MANIFEST).exists():
            self.manifest = read_manifest(d)
            fmt = self.manifest.get("versions", {}).get("format")
            if fmt != FORMAT_VERSION:
                raise RunError(f"{d}: written by an incompatible evosim (format {fmt}, this version writes "
                               f"{FORMAT_VERSION}); it cannot be resumed: use --overwrite or another --out")
            try:
                old = (d / CONFIG).read_text()
            except (OSError, UnicodeDecodeError):
                old = None
            if old != config_toml(self.cfg):
                raise RunError(f"{d}: the config differs from the one the run was started with "
                               f"({d / CONFIG}); resume with that config or use --overwrite")
            self._remove_leftovers()
            return
        if mode == "resume":
            self.notes.append("nothing to resume yet (no manifest); starting from generation 0")
        if kind == "run":  # overwrite, or resume of a run killed before its manifest existed: remove what
            for p in d.iterdir():  # evosim wrote (never files it did not write)
                if p.name != LOCK and (p.name in RUN_FILES or _leftover(p.name)):
                    shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        try:
            write_bytes(d / CONFIG, config_toml(self.cfg).encode(), self.faults)
            self.manifest = {"name": self.cfg.name, "seed": self.cfg.seed, "status": "running",
                             "versions": versions(), "git_commit": git_commit(), "host": socket.gethostname(),
                             "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "wall_times_s": {},
                             "checkpoints": {}, "parts": {}, "generations_done": 0}
            self.write_manifest()
        except OSError as e:
            raise RunError(f"{d}: cannot write the run directory: {e.strerror}") from None

    def _remove_leftovers(self) -> None:
        for p in self.dir.iterdir():
            if _leftover(p.name) and p.is_file():
                p.unlink(missing_ok=True)

    def close(self) -> None:
        self.lock.release()

    def write_manifest(self) -> None:
        write_json(self.dir / MANIFEST, self.manifest, faults=self.faults)

    # -- parts and checkpoints -----------------------------------------------------------
    def write_part(self, name: str, df: pd.DataFrame) -> None:
        """An immutable table part (recorded in the manifest at the next manifest write)."""
        root = self.dir / PARTS
        root.mkdir(exist_ok=True)
        write_parquet(root / name, df, self.faults)
        self.manifest.setdefault("parts", {})[name] = sha256(root / name)
        self.faults("part")

    def checkpoint(self, state, generations: pd.DataFrame, pending: pd.DataFrame | None, keep: int = 2) -> None:
        """Resumable state after the current generation (a ``ga.GAState``), written atomically as a directory."""
        arrays = state.to_arrays()
        g = int(arrays["generation"])
        root = self.dir / CHECKPOINTS
        root.mkdir(exist_ok=True)
        final = root / f"gen_{g:07d}"
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".gen_{g:07d}."))
        try:
            def npz(p):
                with open(p, "wb") as fh:
                    np.savez(fh, **arrays)
            files = {CHECKPOINT_STATE: npz, table_file("generations"): lambda p: generations.to_parquet(p, index=False)}
            if pending is not None and len(pending):
                files[CHECKPOINT_PENDING] = lambda p: pending.to_parquet(p, index=False)
            sums = {}
            for name, fn in files.items():
                fn(tmp / name)
                with open(tmp / name, "rb+") as fh:
                    os.fsync(fh.fileno())
                sums[name] = sha256(tmp / name)
                self.faults("checkpoint-file")
            fsync_dir(tmp)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            fsync_dir(root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.faults("checkpoint-rename")
        ckpts = self.manifest.setdefault("checkpoints", {})
        ckpts[final.name] = {"generation": g, "files": sums}
        dropped = sorted(ckpts)[:-keep]
        for old in dropped:
            del ckpts[old]
        self.manifest["generations_done"] = g + 1
        self.write_manifest()
        # only now that the manifest no longer names them: old checkpoints and leftovers of killed writes
        for p in root.iterdir():
            if p.name not in ckpts:
                shutil.rmtree(p, ignore_errors=True)

    def resume_point(self) -> tuple[dict | None, pd.DataFrame | None, pd.DataFrame | None]:
        """(state, generations so far, organism rows not yet in a part) of the newest valid checkpoint."""
        ckpt, notes = latest_valid_checkpoint(self.dir, self.manifest)
        self.notes += notes
        ckpts = self.manifest.setdefault("checkpoints", {})
        parts = self.manifest.setdefault("parts", {})
        if ckpt is None:
            if ckpts:
                self.notes.append("no valid checkpoint; starting from generation 0")
            ckpts.clear()
            keep_g = -1
            state = gens = pending = None
        else:
            state = read_state(ckpt)
            keep_g = int(state["generation"])
            from evosim.genome import CORE_GENES, N_ARCH, N_GENES

            # CORE_GENES / N_ARCH: a checkpoint from before the memoriser / network block (the GA appends them
            # switched off)
            pop = self.cfg.evolution.population
            if (state["genomes"].shape not in ((pop, N_GENES), (pop, CORE_GENES), (pop, N_ARCH))) or keep_g >= self.cfg.evolution.generations:
                raise RunError(f"{ckpt}: checkpoint does not fit the config (genomes {state['genomes'].shape}, "
                               f"generation {keep_g}); use --overwrite")
            gens = pd.read_parquet(ckpt / table_file("generations"))
            pending = pd.read_parquet(ckpt / CHECKPOINT_PENDING) if (ckpt / CHECKPOINT_PENDING).exists() else None
            for name in [n for n in ckpts if ckpts[n]["generation"] > keep_g]:
                del ckpts[name]
            self.notes.append(f"resuming after generation {keep_g} from {ckpt.name}")
        for name in [n for n in parts if _part_range(n)[2] > keep_g]:
            del parts[name]
        # parts newer than the checkpoint are written again (identically) as the run goes on
        if (self.dir / PARTS).exists():
            for p in (self.dir / PARTS).iterdir():
                if p.name not in parts:
                    p.unlink()
        return state, gens, pending

    def finish(self, generations: pd.DataFrame, wall: dict) -> None:
        """Join the parts into the final tables, mark the run complete, drop the parts."""
        parts = sorted(self.manifest.get("parts", {}))
        self.rd.write_table("generations", generations)
        for kind in ("organisms", "genomes"):
            files = [self.dir / PARTS / n for n in parts if _part_range(n)[0] == kind]
            concat_parquet(files, self.rd.table_path(kind), self.faults)
        self.manifest["status"] = "complete"
        self.manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.manifest["generations_done"] = len(generations)
        self.manifest["wall_times_s"].update(wall)
        self.manifest["parts"] = {}
        self.write_manifest()
        shutil.rmtree(self.dir / PARTS, ignore_errors=True)

    def last_checkpoint(self) -> str:
        ck = self.manifest.get("checkpoints", {})
        if not ck:
            return "no checkpoint was written yet"
        name = max(ck)
        return f"the last checkpoint ({name}, generation {ck[name]['generation']}) is intact"


