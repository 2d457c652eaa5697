"""Run directories: resolved config, manifest, Parquet tables, genomes, checkpoints, resume.

Layout of ``runs/out/<experiment>__seed<k>/``::

    config.toml           the resolved, validated config (re-loadable with ``evosim.load_config``)
    manifest.json         versions, git commit, seed, status, wall times, checkpoint checksums
    generations.parquet   one row per generation (see COLUMNS)
    organisms.parquet     one row per organism per generation
    genomes.parquet       genomes of every ``checkpoint_every``-th generation and of the final one
    checkpoints/gen_<g>/  state.npz (no pickle), the generations table so far and the organism rows not
                          yet in a part: with the parts it names, enough to resume after generation g
    parts/                immutable table parts written while the run goes (removed when it completes)
    .lock                 PID, host and process start time of the process writing the directory

Every file is written atomically (temporary file, fsync, rename), so a killed run leaves
either the previous complete file or none; every checkpoint file and part has a sha256 in the
manifest, and a resume uses the newest checkpoint whose checksums match. Wall-clock times
live only in the manifest. Nothing is read back with pickle.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import tomli_w

from evosim.config import Config, ConfigError, load_config, to_dict
from evosim.errors import UserError

FORMAT_VERSION = 1

#: documented columns of every table (the one place they are named)
COLUMNS = {
    "generations": {
        "generation": "generation index, from 0",
        "fitness_mean": "mean fitness (training return minus planning cost x work) over the population",
        "fitness_max": "best fitness",
        "fitness_std": "standard deviation of fitness",
        "return_mean": "mean training return (base objective) per episode",
        "return_max": "best mean training return",
        "proxy_mean": "mean proxy return per episode (what the proxy would have paid)",
        "steps_mean": "mean episode length in steps",
        "plans_mean": "mean plans evaluated per episode (0 for heuristics)",
        "work_mean": "mean search work per episode, the cost of computation: objects scored + plans evaluated (0 for heuristics)",
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
        "fitness": "training return minus planning cost x work",
        "return_mean": "mean training return per episode",
        "proxy_mean": "mean proxy return per episode",
        "steps_mean": "mean episode length",
        "plans_mean": "mean plans evaluated per episode",
        "work_mean": "mean search work per episode (objects scored + plans evaluated; 0 for heuristics): fitness = return_mean - planning_cost x work_mean",
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
    """A user-facing problem with a run directory (exists, locked, not a run, incompatible, disk full)."""


# -- fault injection (tests only) --------------------------------------------------------------
#: ``EVOSIM_FAULT="<point>@<n>[:<action>]"`` (comma-separated for several) makes the n-th time
#: the run passes ``<point>`` do ``<action>``: ``kill`` (SIGKILL, the default), ``sigint``,
#: ``sigint2`` (two SIGINTs) or ``sigterm``. Points: ``generation`` (after a generation is
#: evaluated), ``part`` (after a table part is written), ``checkpoint-file`` (after each file
#: inside a checkpoint being written), ``checkpoint-rename`` (checkpoint in place, manifest not
#: yet updated), ``atomic-write`` (a temporary file written, not yet renamed). Unset: no effect.
FAULT_ENV = "EVOSIM_FAULT"
_fault_hits: dict[str, int] = {}


def reset_faults() -> None:
    _fault_hits.clear()


def fault(point: str) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    _fault_hits[point] = _fault_hits.get(point, 0) + 1
    for item in spec.split(","):
        where, _, action = item.strip().partition(":")
        name, _, nth = where.partition("@")
        if name != point or _fault_hits[point] != int(nth or 1):
            continue
        if action in ("", "kill"):
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "sigint":
            os.kill(os.getpid(), signal.SIGINT)
        elif action == "sigint2":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)
        elif action == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # let the signal handler run here


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
        fault("atomic-write")
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


def concat_parquet(parts: list[Path], path: Path) -> None:
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

    atomic_write(path, write)


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
    except OverflowError:
        return False
    return True


def _pid_start(pid: int) -> str | None:
    """Start time of a process (Linux clock ticks since boot), to tell a reused PID from the lock's owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return None


class RunLock:
    """A lock file holding PID and host; a stale lock of a dead local process is taken over with a warning."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self.warning: str | None = None
        self.held = False

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "start": _pid_start(os.getpid())}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    held = json.loads(self.path.read_text())
                    held = held if isinstance(held, dict) else {}
                except (OSError, ValueError):
                    held = {}
                pid, host = held.get("pid"), held.get("host")
                if not held:  # empty or garbled: a writer died between creating and filling it
                    age = time.time() - self.path.stat().st_mtime if self.path.exists() else 0.0
                    if age < 5.0:
                        time.sleep(0.2)
                        continue
                    self.warning = f"took over an unreadable lock file {self.path}"
                    self.path.unlink(missing_ok=True)
                    continue
                same_host = host == me["host"]
                dead = isinstance(pid, int) and (not _pid_alive(pid) or
                                                 (held.get("start") is not None and _pid_start(pid) != held.get("start")))
                if same_host and dead:
                    self.warning = f"took over a stale lock of dead process {pid} on {host}"
                    self.path.unlink(missing_ok=True)
                    continue
                raise RunError(f"{self.path.parent}: locked by process {pid} on {host}; another evosim is writing "
                               f"this directory (if that process is gone, remove {self.path})") from None
            except OSError as e:
                raise RunError(f"{self.path.parent}: cannot create the lock file: {e.strerror}") from None
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump(me, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as e:
                self.path.unlink(missing_ok=True)
                raise RunError(f"{self.path.parent}: cannot write the lock file: {e.strerror}") from None
            self.held = True
            return
        raise RunError(f"{self.path}: could not acquire the lock")

    def release(self) -> None:
        """Remove the lock if this process holds it (never another process's lock)."""
        if not self.held:
            return
        self.held = False
        try:
            held = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(held, dict) and held.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)


# -- writing a run ---------------------------------------------------------------------------
#: files an evosim run directory may hold (anything else makes it "not a run": never deleted)
RUN_FILES = {"config.toml", "manifest.json", "generations.parquet", "organisms.parquet", "genomes.parquet",
             "checkpoints", "parts", ".lock"}


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


class RunWriter:
    """Owns one run directory while a run writes it.

    Tables are written in immutable parts as the run goes (``parts/organisms_<g0>_<g1>.parquet``
    at every checkpoint generation, ``parts/genomes_<g>.parquet``), so memory stays flat; a
    checkpoint is ``state.npz`` + the generations table + the organism rows not yet in a part,
    and the manifest lists the checksums of both. ``finish`` joins the parts into the final tables.
    """

    def __init__(self, run_dir: Path, cfg: Config):
        self.dir = Path(run_dir)
        self.cfg = cfg
        self.manifest: dict = {}
        self.lock = RunLock(self.dir)
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
        if mode == "resume" and kind == "run" and (d / "manifest.json").exists():
            self.manifest = read_manifest(d)
            fmt = self.manifest.get("versions", {}).get("format")
            if fmt != FORMAT_VERSION:
                raise RunError(f"{d}: written by an incompatible evosim (format {fmt}, this version writes "
                               f"{FORMAT_VERSION}); it cannot be resumed: use --overwrite or another --out")
            try:
                old = (d / "config.toml").read_text()
            except (OSError, UnicodeDecodeError):
                old = None
            if old != config_toml(self.cfg):
                raise RunError(f"{d}: the config differs from the one the run was started with "
                               f"({d / 'config.toml'}); resume with that config or use --overwrite")
            self._remove_leftovers()
            return
        if mode == "resume":
            self.notes.append("nothing to resume yet (no manifest); starting from generation 0")
        if kind == "run":  # overwrite, or resume of a run killed before its manifest existed
            for p in d.iterdir():
                if p.name != ".lock":
                    shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        try:
            write_bytes(d / "config.toml", config_toml(self.cfg).encode())
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
        write_bytes(self.dir / "manifest.json", (json.dumps(self.manifest, indent=2, sort_keys=True) + "\n").encode())

    # -- parts and checkpoints -----------------------------------------------------------
    def write_part(self, name: str, df: pd.DataFrame) -> None:
        """An immutable table part (recorded in the manifest at the next manifest write)."""
        root = self.dir / "parts"
        root.mkdir(exist_ok=True)
        write_parquet(root / name, df)
        self.manifest.setdefault("parts", {})[name] = sha256(root / name)
        fault("part")

    def checkpoint(self, state, generations: pd.DataFrame, pending: pd.DataFrame | None, keep: int = 2) -> None:
        """Resumable state after the current generation (a ``ga.GAState``), written atomically as a directory."""
        arrays = state.to_arrays()
        g = int(arrays["generation"])
        root = self.dir / "checkpoints"
        root.mkdir(exist_ok=True)
        final = root / f"gen_{g:07d}"
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".gen_{g:07d}."))
        try:
            def npz(p):
                with open(p, "wb") as fh:
                    np.savez(fh, **arrays)
            files = {"state.npz": npz, "generations.parquet": lambda p: generations.to_parquet(p, index=False)}
            if pending is not None and len(pending):
                files["pending.parquet"] = lambda p: pending.to_parquet(p, index=False)
            sums = {}
            for name, fn in files.items():
                fn(tmp / name)
                with open(tmp / name, "rb+") as fh:
                    os.fsync(fh.fileno())
                sums[name] = sha256(tmp / name)
                fault("checkpoint-file")
            _fsync_dir(tmp)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            _fsync_dir(root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fault("checkpoint-rename")
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
            from evosim.genome import N_GENES

            if state["genomes"].shape != (self.cfg.evolution.population, N_GENES) or keep_g >= self.cfg.evolution.generations:
                raise RunError(f"{ckpt}: checkpoint does not fit the config (genomes {state['genomes'].shape}, "
                               f"generation {keep_g}); use --overwrite")
            gens = pd.read_parquet(ckpt / "generations.parquet")
            pending = pd.read_parquet(ckpt / "pending.parquet") if (ckpt / "pending.parquet").exists() else None
            for name in [n for n in ckpts if ckpts[n]["generation"] > keep_g]:
                del ckpts[name]
            self.notes.append(f"resuming after generation {keep_g} from {ckpt.name}")
        for name in [n for n in parts if _part_range(n)[2] > keep_g]:
            del parts[name]
        # parts newer than the checkpoint are written again (identically) as the run goes on
        if (self.dir / "parts").exists():
            for p in (self.dir / "parts").iterdir():
                if p.name not in parts:
                    p.unlink()
        return state, gens, pending

    def finish(self, generations: pd.DataFrame, wall: dict) -> None:
        """Join the parts into the final tables, mark the run complete, drop the parts."""
        parts = sorted(self.manifest.get("parts", {}))
        write_parquet(self.dir / "generations.parquet", generations)
        for kind in ("organisms", "genomes"):
            files = [self.dir / "parts" / n for n in parts if n.startswith(kind + "_")]
            concat_parquet(files, self.dir / f"{kind}.parquet")
        self.manifest["status"] = "complete"
        self.manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.manifest["generations_done"] = len(generations)
        self.manifest["wall_times_s"].update(wall)
        self.manifest["parts"] = {}
        self.write_manifest()
        shutil.rmtree(self.dir / "parts", ignore_errors=True)

    def last_checkpoint(self) -> str:
        ck = self.manifest.get("checkpoints", {})
        if not ck:
            return "no checkpoint was written yet"
        name = max(ck)
        return f"the last checkpoint ({name}, generation {ck[name]['generation']}) is intact"


def read_manifest(run_dir: Path) -> dict:
    p = Path(run_dir) / "manifest.json"
    try:
        manifest = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"{run_dir}: manifest.json is unreadable ({e}); not a usable run directory") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("versions", {}), dict):
        raise RunError(f"{run_dir}: manifest.json is not an evosim manifest")
    return manifest


def latest_valid_checkpoint(run_dir: Path, manifest: dict) -> tuple[Path | None, list[str]]:
    """The newest checkpoint whose files and parts match their checksums, and notes on any skipped."""
    notes = []
    ckpts = manifest.get("checkpoints", {}) or {}
    parts = manifest.get("parts", {}) or {}
    for name in sorted(ckpts, reverse=True):
        path = Path(run_dir) / "checkpoints" / name
        entry = ckpts[name]
        try:
            g = int(entry["generation"])
            sums = dict(entry["files"])
            sums.update({f"../../parts/{n}": s for n, s in parts.items() if _part_range(n)[2] <= g})
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
    if not p.exists():
        raise RunError(f"{p}: no such run directory")
    if not p.is_dir():
        raise RunError(f"{p}: not a run directory (it is a file); expected a directory written by `evosim run`")
    if not (p / "manifest.json").exists():
        raise RunError(f"{p}: not a run directory (no manifest.json); expected a directory written by `evosim run`")
    manifest = read_manifest(p)
    fmt = manifest.get("versions", {}).get("format")
    if fmt != FORMAT_VERSION:
        raise RunError(f"{p}: written by an incompatible evosim (format {fmt!r}, this version reads {FORMAT_VERSION}); "
                       f"re-run it with this version")
    if manifest.get("status") != "complete":
        raise RunError(f"{p}: run is incomplete (status {manifest.get('status')!r}, "
                       f"{manifest.get('generations_done', 0)} generations checkpointed); resume it with "
                       f"`evosim run {p / 'config.toml'} --out {p} --resume`")
    try:
        cfg = load_config(p / "config.toml")
    except ConfigError as e:
        raise RunError(f"{p}: config.toml is not valid for this version: {e}") from None
    tables = {}
    for name in ("generations", "organisms", "genomes"):
        f = p / f"{name}.parquet"
        if not f.exists():
            raise RunError(f"{p}: incomplete run: {name}.parquet is missing")
        try:
            tables[name] = pd.read_parquet(f)
        except Exception as e:  # noqa: BLE001 - pyarrow raises several types for damaged files
            raise RunError(f"{p}: {name}.parquet is damaged or not Parquet ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''})") from None
    done = manifest.get("generations_done")
    if isinstance(done, int) and len(tables["generations"]) != done:
        raise RunError(f"{p}: generations.parquet has {len(tables['generations'])} rows but the manifest says "
                       f"{done} generations ran; the run directory is inconsistent")
    return Run(p, cfg, manifest, tables["generations"], tables["organisms"], tables["genomes"])


def config_from_run(path: str | Path) -> Config:
    """The validated config of a run directory."""
    p = Path(path) / "config.toml"
    if not p.exists():
        raise RunError(f"{path}: not a run directory (no config.toml)")
    return load_config(p)
