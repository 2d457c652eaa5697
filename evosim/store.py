"""Run directories: resolved config, manifest, Parquet tables, genomes, checkpoints, resume.

Layout of ``runs/out/<experiment>__seed<k>/``::

    config.toml           the resolved, validated config (re-loadable with ``evosim.load_config``)
    manifest.json         versions, git commit, seed, status, wall times, checkpoint checksums
    generations.parquet   one row per generation (see COLUMNS)
    organisms.parquet     one row per organism per generation
    genomes.parquet       genomes of every ``checkpoint_every``-th generation and of the final one
    checkpoints/gen_<g>/  state.npz (no pickle) + the tables so far, to resume from generation g
    .lock                 PID and host of the process writing the directory

Every file is written atomically (temporary file, fsync, rename), so a killed run leaves
either the previous complete file or none. Wall-clock times live only in the manifest.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import tomli_w

from evosim.config import Config, ConfigError, from_dict, load_config, to_dict
from evosim.errors import UserError

FORMAT_VERSION = 1

#: documented columns of every table (the one place they are named)
COLUMNS = {
    "generations": {
        "generation": "generation index, from 0",
        "fitness_mean": "mean fitness (training return minus planning cost) over the population",
        "fitness_max": "best fitness",
        "fitness_std": "standard deviation of fitness",
        "return_mean": "mean training return (base objective) per episode",
        "return_max": "best mean training return",
        "proxy_mean": "mean proxy return per episode (what the proxy would have paid)",
        "steps_mean": "mean episode length in steps",
        "plans_mean": "mean plans evaluated per episode (0 for heuristics)",
        "planner_share": "fraction of organisms expressing the planner block",
        "planner_fitness_mean": "mean fitness of planners (NaN if none)",
        "heuristic_fitness_mean": "mean fitness of heuristics (NaN if none)",
        "depth_mean": "mean expressed search depth of planners",
        "u_<feature>_mean": "mean planner utility weight on a feature channel (the mesa-objective)",
        "h_attract_<feature>_mean": "mean heuristic attraction weight on a feature channel",
    },
    "organisms": {
        "generation": "generation index",
        "organism_id": "run-wide id (generation * population + row)",
        "parent_a": "id of the first parent (-1: initial population)",
        "parent_b": "id of the second parent (-1: elite copy or initial)",
        "architecture": "heuristic or planner",
        "fitness": "training return minus planning cost",
        "return_mean": "mean training return per episode",
        "proxy_mean": "mean proxy return per episode",
        "steps_mean": "mean episode length",
        "plans_mean": "mean plans evaluated per episode",
        "depth": "expressed search depth (-1 for heuristics)",
    },
    "genomes": {
        "generation": "generation of the population",
        "organism_id": "run-wide id",
        "architecture": "heuristic or planner",
        "<gene>": "one column per gene, named by evosim.genome.gene_names",
    },
}


class RunError(UserError, RuntimeError):
    """A user-facing problem with a run directory (exists, locked, not a run, incompatible)."""


# -- atomic file writing ---------------------------------------------------------------------
def _fsync_dir(path: Path) -> None:
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


def atomic_write(path: Path, write) -> None:
    """Write ``path`` via ``write(tmp_path)``, then fsync and rename into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        write(Path(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda p: p.write_bytes(data))


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    atomic_write(path, lambda p: df.to_parquet(p, index=False, engine="pyarrow"))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -- metadata --------------------------------------------------------------------------------
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


def default_run_dir(cfg: Config, root: str | Path = "runs/out") -> Path:
    return Path(root) / f"{cfg.name}__seed{cfg.seed}"


# -- locking ---------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """A lock file holding PID and host; a stale lock of a dead local process is taken over."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self.warning: str | None = None

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    held = json.loads(self.path.read_text())
                except (OSError, ValueError):
                    held = {}
                pid, host = held.get("pid"), held.get("host")
                if host == me["host"] and isinstance(pid, int) and not _pid_alive(pid):
                    self.warning = f"took over a stale lock of dead process {pid} on {host}"
                    self.path.unlink(missing_ok=True)
                    continue
                raise RunError(f"{self.path.parent}: locked by process {pid} on {host}; "
                               f"another evosim is writing this run (remove {self.path} if that is wrong)") from None
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            return
        raise RunError(f"{self.path}: could not acquire the lock")

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


# -- writing a run ---------------------------------------------------------------------------
class RunWriter:
    """Owns one run directory while a run writes it."""

    def __init__(self, run_dir: Path, cfg: Config):
        self.dir = Path(run_dir)
        self.cfg = cfg
        self.manifest: dict = {}

    def create(self, mode: str) -> None:
        """mode: 'new' (refuse an existing run), 'overwrite' or 'resume'."""
        d = self.dir
        if d.exists() and not d.is_dir():
            raise RunError(f"{d}: exists and is not a directory")
        populated = d.exists() and any(p.name != ".lock" for p in d.iterdir())
        if mode == "new" and populated:
            raise RunError(f"{d}: already holds a run; use --resume to continue it or --overwrite to replace it")
        if mode == "resume" and not (d / "manifest.json").exists():
            raise RunError(f"{d}: nothing to resume (no manifest.json); run without --resume")
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunError(f"{d}: cannot create the run directory: {e.strerror}") from None
        if not os.access(d, os.W_OK):
            raise RunError(f"{d}: not writable")
        self.lock = RunLock(d)
        self.lock.acquire()
        if mode == "overwrite" and populated:
            for p in d.iterdir():
                if p.name == ".lock":
                    continue
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        if mode == "resume":
            self.manifest = json.loads((d / "manifest.json").read_text())
            old = (d / "config.toml").read_text()
            if old != config_toml(self.cfg):
                self.lock.release()
                raise RunError(f"{d}: config differs from the one the run was started with; "
                               f"resume with the same config or use --overwrite")
        else:
            write_bytes(d / "config.toml", config_toml(self.cfg).encode())
            self.manifest = {"name": self.cfg.name, "seed": self.cfg.seed, "status": "running",
                             "versions": versions(), "git_commit": git_commit(), "host": socket.gethostname(),
                             "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "wall_times_s": {},
                             "checkpoints": {}, "generations_done": 0}
            self.write_manifest()

    def write_manifest(self) -> None:
        write_bytes(self.dir / "manifest.json", (json.dumps(self.manifest, indent=2, sort_keys=True) + "\n").encode())

    def write_tables(self, generations: pd.DataFrame, organisms: pd.DataFrame, genomes: pd.DataFrame) -> None:
        write_parquet(self.dir / "generations.parquet", generations)
        write_parquet(self.dir / "organisms.parquet", organisms)
        write_parquet(self.dir / "genomes.parquet", genomes)

    def checkpoint(self, model, generations, organisms, genomes, keep: int = 2) -> None:
        """Resumable state after the current generation, written atomically as a directory."""
        g = model.generation
        root = self.dir / "checkpoints"
        root.mkdir(exist_ok=True)
        final = root / f"gen_{g:07d}"
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".gen_{g:07d}."))
        try:
            def npz(p):
                with open(p, "wb") as fh:
                    np.savez(fh, genomes=model.genomes, parents=model.parents, fitness=model.fitness,
                             generation=np.int64(g))
            files = {"state.npz": npz,
                     "generations.parquet": lambda p: generations.to_parquet(p, index=False),
                     "organisms.parquet": lambda p: organisms.to_parquet(p, index=False),
                     "genomes.parquet": lambda p: genomes.to_parquet(p, index=False)}
            sums = {}
            for name, fn in files.items():
                fn(tmp / name)
                with open(tmp / name, "rb+") as fh:
                    os.fsync(fh.fileno())
                sums[name] = sha256(tmp / name)
            _fsync_dir(tmp)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            _fsync_dir(root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.manifest["checkpoints"][final.name] = sums
        for old in sorted(self.manifest["checkpoints"])[:-keep]:
            shutil.rmtree(root / old, ignore_errors=True)
            del self.manifest["checkpoints"][old]
        self.write_manifest()

    def finish(self, wall: dict) -> None:
        self.manifest["status"] = "complete"
        self.manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.manifest["wall_times_s"].update(wall)
        self.write_manifest()
        self.lock.release()


def latest_valid_checkpoint(run_dir: Path, manifest: dict) -> tuple[Path | None, list[str]]:
    """The newest checkpoint whose files match their checksums, and notes on any skipped."""
    notes = []
    for name in sorted(manifest.get("checkpoints", {}), reverse=True):
        path = Path(run_dir) / "checkpoints" / name
        sums = manifest["checkpoints"][name]
        bad = [f for f, s in sums.items() if not (path / f).exists() or sha256(path / f) != s]
        if bad:
            notes.append(f"checkpoint {name} is corrupt ({', '.join(bad)}); falling back to an earlier one")
            continue
        return path, notes
    return None, notes


def read_state(ckpt: Path) -> dict:
    with np.load(ckpt / "state.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# -- reading a run ---------------------------------------------------------------------------
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

    def _optional(self, name: str) -> pd.DataFrame:
        p = self.path / f"{name}.parquet"
        if not p.exists():
            raise RunError(f"{self.path}: no {name}.parquet; run `evosim report {self.path}` first")
        return pd.read_parquet(p)

    @property
    def probe(self) -> pd.DataFrame:
        return self._optional("probe")

    @property
    def interventions(self) -> pd.DataFrame:
        return self._optional("interventions")


def load_run(path: str | Path) -> Run:
    """Read a run directory. Raises ``RunError`` if it is not a (complete, compatible) run."""
    p = Path(path)
    if not p.is_dir():
        raise RunError(f"{p}: no such run directory")
    man_p = p / "manifest.json"
    if not man_p.exists():
        raise RunError(f"{p}: not a run directory (no manifest.json)")
    try:
        manifest = json.loads(man_p.read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"{p}: manifest.json is unreadable: {e}") from None
    fmt = manifest.get("versions", {}).get("format")
    if fmt != FORMAT_VERSION:
        raise RunError(f"{p}: written by an incompatible evosim (format {fmt}, this version reads {FORMAT_VERSION})")
    if manifest.get("status") != "complete":
        raise RunError(f"{p}: run is incomplete (status {manifest.get('status')!r}); resume it with "
                       f"`evosim run {p / 'config.toml'} --out {p} --resume`")
    try:
        cfg = load_config(p / "config.toml")
    except ConfigError as e:
        raise RunError(f"{p}: config.toml is not valid: {e}") from None
    tables = {}
    for name in ("generations", "organisms", "genomes"):
        f = p / f"{name}.parquet"
        if not f.exists():
            raise RunError(f"{p}: incomplete run: {name}.parquet is missing")
        tables[name] = pd.read_parquet(f)
    return Run(p, cfg, manifest, tables["generations"], tables["organisms"], tables["genomes"])


def config_from_run(path: str | Path) -> Config:
    return from_dict(__import__("tomllib").loads((Path(path) / "config.toml").read_text()), str(Path(path) / "config.toml"))
