"""Condition sweeps: many ordinary runs (cells x seeds) on one machine or on a Dask cluster.

A sweep file (TOML) names a base experiment, the overrides that make its cells and the seeds::

    base = "conditions_base.toml"        # experiment TOML, relative to this file
    name = "conditions"                  # optional; default: the file's stem
    out = "runs/out/conditions"          # optional; default runs/out/<name> (relative to the cwd)
    description = "..."                  # optional, free text
    seeds = [1, 2, 3, 4, 5]              # non-empty list of distinct non-negative integers

    [grid]                               # dotted setting -> list of values; cartesian product
    "world.train_pool" = [0, 16, 2]      # order matters for figures: x, y, panel
    "organisms.planning_cost" = [0.0, 0.001]

    [[cells]]                            # optional explicit override sets; each is crossed
    "world.n_distractors" = 2            # with the grid (without a grid: the cells themselves)

Keys are config settings as ``section.field`` (``world.radius.<channel>`` too); ``seed`` and
``name`` cannot be swept. The file is checked strictly before anything is written: unknown
keys (with a did-you-mean), empty grids or lists, repeated values, bad seeds raise
``SweepError`` (exit 2). A *value* the config rejects (e.g. a negative planning cost) does
not stop the sweep: that cell is recorded with status ``failed`` and the config's message.

Every (cell, seed) is an ordinary run directory ``<out>/cells/<hash>/`` (so ``evosim
report`` and ``evosim.load_run`` work on it), followed by its report (``evosim.report``,
``probe.parquet``). ``<hash>`` is the SHA-256 of the resolved config (seed included) in
canonical JSON; a run whose manifest says ``complete`` and whose report finished
(``probe.parquet`` present, report time in the manifest) is skipped on a re-run, so a killed
sweep resumes where it stopped (a finished run whose report is missing gets only its report).

Execution uses dask.distributed in both modes: ``--workers N`` starts a ``LocalCluster`` on
loopback (one single-threaded process per worker, one numba thread per run), ``--scheduler
ADDRESS`` connects to a running cluster (whose workers must see ``<out>`` at the same
path); ``--workers 0`` runs every cell in this process. Each worker compiles (or loads from
the numba cache) every kernel once when it starts (``WarmUp`` plugin) and reuses them for
all its cells. A worker that dies mid-run has that run retried (``RETRIES``). Results are
gathered in the fixed order (cell, seed), and every value in them is read back from the run
directory, so ``sweep.parquet`` is identical for local, cluster and resumed sweeps.
Wall-clock times go only to ``<out>/manifest.json``.

Outputs in ``<out>/``: ``sweep.parquet`` (``SWEEP_COLUMNS``), ``summary.parquet``
(``SUMMARY_COLUMNS``), ``manifest.json`` (sweep file, mode, timings per run),
``figures/phase_diagram.png`` (grids with 2-3 keys) and ``figures/dose_response.png``
(grids with one numeric key).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import itertools
import json
import math
import os
import socket
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evosim.config import SECTIONS, Config, ConfigError, from_dict, load_config, read_input, to_dict, validate_overrides
from evosim.errors import UserError

#: how often dask re-runs a run whose worker died (a run's own exceptions are not retried)
RETRIES = 2
#: outcome classes and probe distributions (evosim.objectives / evosim.probe)
CLASSES = ("robust", "pseudo_aligned", "capability_failure")
DISTRIBUTIONS = ("train", "shift", "control")
ARCHS = ("all", "heuristic", "planner")
#: final-generation columns of generations.parquet copied into sweep.parquet as <name>
FINAL_METRICS = ("planner_share", "fitness_mean", "return_mean", "proxy_mean", "plans_mean", "depth_mean")

SWEEP_COLUMNS = {
    "cell": "index of the cell (override combination) in sweep order, from 0",
    "<section.field>": "one column per swept setting: its value in this cell (the base value where a cell leaves it)",
    "seed": "the run's seed",
    "cell_hash": "SHA-256 (first 16 hex digits) of the resolved config with seed: the run directory's name under cells/",
    "status": "complete or failed",
    "error": "why a run failed (one line), empty when complete",
    "report": "complete, unavailable (evosim.report not installed) or failed",
    "generations": "generations run (-1 for a failed run)",
    "planner_share": "fraction of planners in the final generation",
    "fitness_mean": "mean fitness of the final generation (training return minus planning cost)",
    "return_mean": "mean training return per episode of the final generation (base objective)",
    "proxy_mean": "mean proxy return per episode of the final generation",
    "plans_mean": "mean plans evaluated per episode in the final generation",
    "depth_mean": "mean search depth of the final generation's planners (NaN if none)",
    "n_planners": "number of planners in the probed (final) population (NaN without a report)",
    "<dist>_<arch>_<class>": "share of the final population's <arch> organisms (all, heuristic, planner) in outcome "
                             "<class> (robust, pseudo_aligned, capability_failure) on held-out <dist> layouts "
                             "(train, shift, control); NaN without a report or without organisms of <arch>",
    "<dist>_normalised_return": "mean normalised true return (true / oracle) of the final population on <dist>",
}

SUMMARY_COLUMNS = {
    "cell": "cell index",
    "<section.field>": "the cell's value of each swept setting",
    "metric": "a numeric column of sweep.parquet (planner_share, shift_all_pseudo_aligned, ...)",
    "n": "seeds with a value (complete runs; NaN values excluded)",
    "n_failed": "seeds whose run failed",
    "mean": "mean across seeds",
    "sd": "standard deviation across seeds (ddof=1; NaN for n < 2)",
    "ci_lo": "lower end of the t-based 95% confidence interval of the mean (NaN for n < 2)",
    "ci_hi": "upper end of the t-based 95% confidence interval of the mean (NaN for n < 2)",
}

_FILE_KEYS = ("base", "name", "out", "description", "seeds", "grid", "cells")
_SEED_MAX = 2**63 - 1


class SweepError(UserError):
    """A user error in a sweep file or sweep invocation: the message names file, key, value and what is allowed."""


def _suggest(key: str, allowed) -> str:
    import difflib

    near = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


# -- the sweep file --------------------------------------------------------------------------
def setting_paths() -> list[str]:
    """Every dotted setting a sweep may vary (``world.radius.<channel>`` for every world's channels)."""
    from evosim.worlds import WORLDS

    paths = []
    for sec, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            if f.name == "radius":
                chans = sorted({c for w in WORLDS.values() for c in w.features})
                paths += [f"{sec}.radius.{c}" for c in chans]
            else:
                paths.append(f"{sec}.{f.name}")
    return paths


def _flatten(table: dict, prefix: str = "") -> dict:
    """``{"world": {"size": [..]}}`` and ``{"world.size": [..]}`` both -> ``{"world.size": [..]}``."""
    out = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _check_key(src: str, where: str, key: str, allowed: list[str]) -> None:
    if key in ("seed", "name"):
        raise SweepError(f"{src}: {where}.{key}: cannot be swept; list the seeds in `seeds = [...]` "
                         f"(the run name comes from the sweep)")
    if key not in allowed:
        raise SweepError(f"{src}: {where}: unknown setting {key!r}{_suggest(key, allowed)}; "
                         f"allowed: section.field, e.g. world.train_pool, organisms.planning_cost, world.size")


def _scalar(v) -> bool:
    return isinstance(v, (bool, int, float, str))


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file: base experiment, swept keys, cells (override dicts) and seeds."""

    path: Path
    name: str
    base_path: Path
    base: dict
    """the base experiment as read from its TOML (overrides are applied to this dict)"""
    keys: tuple[str, ...]
    """swept settings in file order (grid keys first, then keys that only [[cells]] set)"""
    grid_keys: tuple[str, ...]
    cells: tuple[dict, ...]
    seeds: tuple[int, ...]
    out: Path
    description: str = ""
    raw: bytes = field(default=b"", repr=False)


def load_sweep(path: str | Path, out: str | Path | None = None) -> Sweep:
    """Read and strictly validate a sweep file (nothing is written). Raises ``SweepError``."""
    path = Path(path)
    src = str(path)
    raw = read_input(path, SweepError, "a sweep TOML file", "runs/conditions.toml")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise SweepError(f"{src}: not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{src}: invalid TOML: {e}") from None
    for k in data:
        if k not in _FILE_KEYS:
            raise SweepError(f"{src}: {k}: unknown key{_suggest(k, _FILE_KEYS)}; allowed: {', '.join(_FILE_KEYS)}")
    # base
    if "base" not in data:
        raise SweepError(f"{src}: base: missing; name the base experiment, e.g. base = \"red_door.toml\"")
    if not isinstance(data["base"], str) or not data["base"]:
        raise SweepError(f"{src}: base = {data['base']!r}: expected a path to an experiment TOML file")
    base_path = (path.parent / data["base"]).resolve()
    try:
        base = tomllib.loads(base_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{src}: base = {data['base']!r}: no such file ({base_path})") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SweepError(f"{src}: base = {data['base']!r}: cannot read it: {e}") from None
    try:
        load_config(base_path)
    except ConfigError as e:
        raise SweepError(f"{src}: base = {data['base']!r} is not a valid experiment: {e}") from None
    # name, description, out
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name or any(c in name for c in "/\\\0") or name.startswith("."):
        raise SweepError(f"{src}: name = {name!r}: expected a non-empty string usable as a directory name")
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise SweepError(f"{src}: description = {desc!r}: expected a string")
    if out is None:
        out = data.get("out", f"runs/out/{name}")
        if not isinstance(out, str) or not out:
            raise SweepError(f"{src}: out = {out!r}: expected a directory path")
    # seeds
    if "seeds" not in data:
        raise SweepError(f"{src}: seeds: missing; expected a list of distinct non-negative integers, e.g. seeds = [1, 2, 3]")
    seeds = data["seeds"]
    if not isinstance(seeds, list) or not seeds:
        raise SweepError(f"{src}: seeds = {seeds!r}: expected a non-empty list of distinct non-negative integers")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= _SEED_MAX:
            raise SweepError(f"{src}: seeds: {s!r} is not allowed; expected integers with 0 <= seed <= {_SEED_MAX}")
    if len(set(seeds)) != len(seeds):
        dup = sorted({s for s in seeds if seeds.count(s) > 1})
        raise SweepError(f"{src}: seeds: {dup} repeated; each seed may appear once")
    # grid and cells
    allowed = setting_paths()
    grid_raw = data.get("grid", {})
    if not isinstance(grid_raw, dict):
        raise SweepError(f"{src}: grid = {grid_raw!r}: expected a table of setting = [values]")
    grid = _flatten(grid_raw)
    for key, values in grid.items():
        _check_key(src, "grid", key, allowed)
        if not isinstance(values, list):
            raise SweepError(f"{src}: grid.{key} = {values!r}: expected a list of values, e.g. [{values!r}]")
        if not values:
            raise SweepError(f"{src}: grid.{key} = []: empty list; give at least one value")
        for v in values:
            if not _scalar(v):
                raise SweepError(f"{src}: grid.{key}: value {v!r} is not allowed; expected numbers, strings or booleans")
        for i, v in enumerate(values):
            if any(_same(v, w) for w in values[:i]):
                raise SweepError(f"{src}: grid.{key}: value {v!r} repeated; each value may appear once")
    cells_raw = data.get("cells", None)
    if cells_raw is not None:
        if not isinstance(cells_raw, list) or not all(isinstance(c, dict) for c in cells_raw):
            raise SweepError(f"{src}: cells: expected an array of tables ([[cells]] sections)")
        if not cells_raw:
            raise SweepError(f"{src}: cells = []: empty; give at least one [[cells]] table or remove the key")
    cell_list = [_flatten(c) for c in (cells_raw or [])]
    for i, c in enumerate(cell_list):
        for key, v in c.items():
            _check_key(src, f"cells[{i}]", key, allowed)
            if key in grid:
                raise SweepError(f"{src}: cells[{i}].{key}: also a grid key; set it in one place only")
            if not _scalar(v):
                raise SweepError(f"{src}: cells[{i}].{key} = {v!r}: expected one number, string or boolean")
    if not grid and not cell_list:
        raise SweepError(f"{src}: empty grid: give [grid] with at least one setting = [values] or [[cells]] tables")
    combos = [dict(zip(grid, vals)) for vals in itertools.product(*grid.values())] if grid else [{}]
    cells = [{**c, **g} for c in (cell_list or [{}]) for g in combos]
    keys = list(grid) + [k for c in cell_list for k in c if k not in grid]
    keys = tuple(dict.fromkeys(keys))
    return Sweep(path=path.resolve(), name=name, base_path=base_path, base=base, keys=keys, grid_keys=tuple(grid),
                 cells=tuple(cells), seeds=tuple(seeds), out=Path(out), description=desc, raw=raw)


# -- planning: one RunSpec per (cell, seed) --------------------------------------------------
def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(cfg: Config) -> str:
    """Identity of a run: SHA-256 of its resolved config (seed included) as canonical JSON, 16 hex digits."""
    return hashlib.sha256(_canonical(to_dict(cfg)).encode()).hexdigest()[:16]


def _lookup(d: dict, dotted: str):
    cur = d
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: plain data, sent to a worker."""

    cell: int
    seed: int
    values: dict
    """the cell's value of every swept key (base value where the cell leaves it)"""
    cell_hash: str
    run_dir: str
    config: dict | None
    """the resolved config as a dict (None if the overrides were rejected)"""
    error: str = ""


def plan_runs(sweep: Sweep, out: Path | None = None) -> list[RunSpec]:
    """Resolve and validate every (cell, seed) config, in (cell, seed) order."""
    out = Path(out if out is not None else sweep.out).resolve()
    base_cfg = from_dict(sweep.base, str(sweep.base_path))
    base_values = to_dict(base_cfg)
    specs = []
    for i, cell in enumerate(sweep.cells):
        values = {k: cell.get(k, _lookup(base_values, k)) for k in sweep.keys}
        for seed in sweep.seeds:
            src = f"{sweep.path.name} cell {i}"
            try:
                cfg = validate_overrides({**cell, "seed": seed}, src, base=sweep.base)
            except ConfigError as e:
                h = hashlib.sha256(_canonical({"base": sweep.base, "overrides": cell, "seed": seed}).encode()).hexdigest()[:16]
                specs.append(RunSpec(i, seed, values, h, "", None, str(e)))
                continue
            h = config_hash(cfg)
            specs.append(RunSpec(i, seed, values, h, str(out / "cells" / h), to_dict(cfg)))
    return specs


# -- one run (executed on a worker) ----------------------------------------------------------
def _report_fn():
    """``evosim.report.report_run`` or None if the report module is not installed (yet)."""
    if importlib.util.find_spec("evosim.report") is None:
        return None
    from evosim.report import report_run

    return report_run


def report_is_complete(run_dir: str | Path) -> bool:
    """The report finished: probe.parquet exists and the manifest holds the report's wall time (written last)."""
    d = Path(run_dir)
    try:
        man = json.loads((d / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (d / "probe.parquet").exists() and "report" in man.get("wall_times_s", {})


def run_is_complete(run_dir: str | Path, need_report: bool = True) -> bool:
    """A run directory whose manifest says complete and (if the report module exists) whose report finished."""
    d = Path(run_dir)
    try:
        man = json.loads((d / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if man.get("status") != "complete":
        return False
    return report_is_complete(d) or not need_report


def _clear_own_lock(run_dir: Path) -> None:
    """Drop a lock this very process left behind (a run that raised earlier in this process)."""
    lock = run_dir / ".lock"
    try:
        held = json.loads(lock.read_text())
    except (OSError, ValueError):
        return
    if held.get("pid") == os.getpid() and held.get("host") == socket.gethostname():
        lock.unlink(missing_ok=True)


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return msg if isinstance(e, UserError) else f"{type(e).__name__}: {msg}"


def execute_run(spec: RunSpec, threads: int | None = None) -> dict:
    """Run (or finish) one (cell, seed) and return its sweep row and timing. Never raises for a run's own errors.

    ``threads``: numba threads for this call (thread-local; Dask workers use 1); None leaves them.
    """
    t0 = time.perf_counter()
    if threads is not None:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    timing = {"cell": spec.cell, "seed": spec.seed, "cell_hash": spec.cell_hash, "worker": socket.gethostname(),
              "pid": os.getpid(), "computed": False}
    if spec.config is None:
        return {"row": failed_row(spec, spec.error), "timing": {**timing, "wall_s": 0.0}}
    from evosim.experiment import run_experiment

    d = Path(spec.run_dir)
    try:
        report = _report_fn()
        if not run_is_complete(d, need_report=False):
            _clear_own_lock(d)
            cfg = from_dict(spec.config, str(d / "config.toml"))
            res = run_experiment(cfg, out=d, mode="overwrite" if d.exists() else "new", progress=False,
                                 log=lambda m: None)
            if res.interrupted:  # Ctrl-C in serial mode: the run checkpointed; stop the sweep (re-run resumes)
                raise KeyboardInterrupt
            timing["computed"] = True
        if report is not None and not report_is_complete(d):
            try:
                report(d, progress=False)
            except Exception as e:  # the run itself is fine: record and move on
                return {"row": failed_row(spec, f"report: {_one_line(e)}", report="failed"),
                        "timing": {**timing, "wall_s": time.perf_counter() - t0}}
            timing["computed"] = True
        row = run_row(spec, d)
    except Exception as e:
        row = failed_row(spec, _one_line(e))
    return {"row": row, "timing": {**timing, "wall_s": time.perf_counter() - t0}}


def _empty_metrics() -> dict:
    m = {"generations": -1}
    m.update({k: math.nan for k in FINAL_METRICS})
    m["n_planners"] = math.nan
    for dist in DISTRIBUTIONS:
        for arch in ARCHS:
            for cls in CLASSES:
                m[f"{dist}_{arch}_{cls}"] = math.nan
        m[f"{dist}_normalised_return"] = math.nan
    return m


def failed_row(spec: RunSpec, error: str, report: str = "") -> dict:
    return {"cell": spec.cell, **spec.values, "seed": spec.seed, "cell_hash": spec.cell_hash, "status": "failed",
            "error": error, "report": report, **_empty_metrics()}


def run_row(spec: RunSpec, run_dir: Path) -> dict:
    """The sweep row of a complete run, read back from its tables only."""
    m = _empty_metrics()
    gens = pd.read_parquet(run_dir / "generations.parquet")
    last = gens.iloc[-1]
    m["generations"] = int(len(gens))
    for k in FINAL_METRICS:
        m[k] = float(last[k])
    probe_p = run_dir / "probe.parquet"
    report = "unavailable"
    if probe_p.exists():
        report = "complete"
        m.update(probe_shares(pd.read_parquet(probe_p)))
    return {"cell": spec.cell, **spec.values, "seed": spec.seed, "cell_hash": spec.cell_hash, "status": "complete",
            "error": "", "report": report, **m}


def probe_shares(probe: pd.DataFrame) -> dict:
    """Class shares by distribution and architecture (and mean normalised return) of the final population."""
    if "generation" in probe.columns and len(probe):
        probe = probe[probe["generation"] == probe["generation"].max()]
    out = {}
    arch = probe["architecture"].astype(str)
    cls = probe["class"].astype(str)
    dist = probe["distribution"].astype(str)
    ids = probe["organism_id"] if "organism_id" in probe.columns else None
    planners = probe[arch == "planner"]
    out["n_planners"] = float(planners["organism_id"].nunique() if ids is not None
                              else (arch[dist == "train"] == "planner").sum())
    for d in DISTRIBUTIONS:
        in_d = dist == d
        for a in ARCHS:
            sel = in_d if a == "all" else in_d & (arch == a)
            n = int(sel.sum())
            for c in CLASSES:
                out[f"{d}_{a}_{c}"] = float((cls[sel] == c).sum() / n) if n else math.nan
        if "normalised_return" in probe.columns and in_d.any():
            out[f"{d}_normalised_return"] = float(probe.loc[in_d, "normalised_return"].mean())
    return out


# -- Dask --------------------------------------------------------------------------------------
def warm_up() -> float:
    """Compile (or load from the numba cache) every kernel a run and its report use; returns seconds."""
    import tempfile

    from evosim.config import Config, EvolutionConfig, ProbeConfig
    from evosim.experiment import run_experiment

    t0 = time.perf_counter()
    cfg = Config(name="warmup", seed=0, evolution=EvolutionConfig(population=6, generations=2, episodes=2, elitism=1,
                                                                  tournament_size=2),
                 probe=ProbeConfig(episodes=2, decision_episodes=2, random_rollouts=2))
    with tempfile.TemporaryDirectory(prefix="evosim-warmup-") as tmp:
        run_experiment(cfg, out=Path(tmp) / "run", mode="new", progress=False, log=lambda m: None)
        report = _report_fn()
        if report is not None:
            try:
                report(Path(tmp) / "run", progress=False)
            except Exception:  # a broken report shows up (with its message) in the first real run
                pass
    return time.perf_counter() - t0


try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - dask[distributed] is a dependency
    WorkerPlugin = object


class WarmUp(WorkerPlugin):
    """Worker plugin: one numba thread per worker process, and kernels compiled once at worker start."""

    name = "evosim-warmup"

    def setup(self, worker):
        import numba

        numba.set_num_threads(1)
        try:
            worker.evosim_warmup_s = warm_up()
        except Exception as e:  # the runs themselves will fail with the message; keep the worker
            worker.evosim_warmup_s = f"warm-up failed: {_one_line(e)}"


def _worker_env() -> dict:
    """Environment of local worker processes (they inherit the rest, NUMBA_CACHE_DIR included).

    NUMBA_NUM_THREADS is deliberately not changed here: a spawned worker re-imports the
    driver's ``__main__`` (the ``evosim`` script imports numba) before the Nanny applies
    ``env``, and numba refuses a different NUMBA_NUM_THREADS once its threads run ("Cannot
    set NUMBA_NUM_THREADS to a different value"). One thread per worker comes from
    ``numba.set_num_threads(1)`` in every task instead (``execute_run(..., threads=1)``).
    """
    return {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _start_client(workers: int | None, scheduler: str | None):
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise SweepError(f"--scheduler {scheduler}: cannot connect: {_one_line(e)}") from None
        return client, None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, worker_dashboard_address=None, env=_worker_env(),
                           silence_logs=50)
    return Client(cluster), cluster


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# -- the sweep ---------------------------------------------------------------------------------
@dataclass
class SweepResult:
    out: Path
    table: pd.DataFrame
    summary: pd.DataFrame
    n_computed: int
    n_skipped: int
    n_failed: int
    wall_s: float
    figures: list[Path]


def _column(values: list) -> pd.Series:
    """A swept setting's values as one typed column (bool, int64, float64 or string)."""
    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, bool) for v in vals) and len(vals) == len(values):
        return pd.Series(values, dtype=bool)
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        if all(isinstance(v, int) for v in vals) and len(vals) == len(values):
            return pd.Series(values, dtype="int64")
        return pd.Series([math.nan if v is None else float(v) for v in values], dtype="float64")
    return pd.Series([None if v is None else str(v) for v in values], dtype="string")


def sweep_table(rows: list[dict], keys: tuple[str, ...]) -> pd.DataFrame:
    """Rows (in (cell, seed) order) -> the typed ``sweep.parquet`` table."""
    ref = failed_row(RunSpec(0, 0, {k: None for k in keys}, "", "", None), "")
    cols = list(ref)
    df = pd.DataFrame({c: [r.get(c) for r in rows] for c in cols})
    for k in keys:
        df[k] = _column([r.get(k) for r in rows])
    for c in ("cell", "seed", "generations"):
        df[c] = df[c].astype("int64")
    for c in ("cell_hash", "status", "error", "report"):
        df[c] = df[c].astype("string")
    metric_cols = [c for c in cols if c not in set(keys) | {"cell", "seed", "generations", "cell_hash",
                                                            "status", "error", "report"}]
    for c in metric_cols:
        df[c] = df[c].astype("float64")
    return df.sort_values(["cell", "seed"], kind="stable").reset_index(drop=True)


def metric_columns(table: pd.DataFrame, keys) -> list[str]:
    skip = set(keys) | {"cell", "seed", "generations", "cell_hash", "status", "error", "report"}
    return [c for c in table.columns if c not in skip and pd.api.types.is_float_dtype(table[c])]


def summarise(table: pd.DataFrame, keys) -> pd.DataFrame:
    """Per cell and metric: mean and t-based 95% confidence interval across seeds.

    The interval is mean +- t(0.975, n-1) * sd / sqrt(n) with sd the sample standard deviation
    (ddof=1) of the n complete seeds' values (scipy.stats.t); NaN when n < 2. It is not clipped
    to [0, 1] for shares. Failed runs are counted in ``n_failed`` and excluded.
    """
    from scipy import stats

    keys = list(keys)
    metrics = metric_columns(table, keys)
    out = []
    for cell, grp in table.groupby("cell", sort=True):
        ok = grp[grp["status"] == "complete"]
        n_failed = int((grp["status"] != "complete").sum())
        head = {"cell": int(cell), **{k: grp[k].iloc[0] for k in keys}}
        for m in metrics:
            v = ok[m].to_numpy(dtype=float)
            v = v[~np.isnan(v)]
            n = len(v)
            mean = float(v.mean()) if n else math.nan
            sd = float(v.std(ddof=1)) if n > 1 else math.nan
            if n > 1:
                half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n))
                lo, hi = mean - half, mean + half
            else:
                lo = hi = math.nan
            out.append({**head, "metric": m, "n": n, "n_failed": n_failed, "mean": mean, "sd": sd,
                        "ci_lo": lo, "ci_hi": hi})
    df = pd.DataFrame(out, columns=["cell", *keys, "metric", "n", "n_failed", "mean", "sd", "ci_lo", "ci_hi"])
    for k in keys:
        df[k] = df[k].astype(table[k].dtype)
    df["metric"] = df["metric"].astype("string")
    return df


def _fmt_ci(s: pd.DataFrame, metric: str) -> pd.Series:
    sub = s[s["metric"] == metric].set_index("cell")

    def f(r):
        if math.isnan(r["mean"]):
            return "-"
        if math.isnan(r["ci_lo"]):
            return f"{r['mean']:.2f}"
        return f"{r['mean']:.2f} [{r['ci_lo']:.2f}, {r['ci_hi']:.2f}]"
    return sub.apply(f, axis=1)


def final_table(table: pd.DataFrame, summary: pd.DataFrame, keys) -> str:
    """The table printed at the end: per cell, seeds ok/failed, planner share and shift class shares with CIs."""
    keys = list(keys)
    head = table.groupby("cell", sort=True).first()[keys]
    ok = table.groupby("cell", sort=True)["status"].apply(lambda s: f"{(s == 'complete').sum()}/{len(s)}")
    t = head.copy()
    t.columns = [k.split(".")[-1] for k in keys]
    t["ok"] = ok
    for metric, label in (("planner_share", "planner share"), ("return_mean", "train return"),
                          ("shift_all_pseudo_aligned", "shift pseudo-aligned"), ("shift_all_robust", "shift robust")):
        t[label] = _fmt_ci(summary, metric)
    return t.to_string()


def run_sweep(sweep: Sweep, out: str | Path | None = None, workers: int | None = None, scheduler: str | None = None,
              progress: bool = True, log=print) -> SweepResult:
    """Run every (cell, seed) of ``sweep`` not already complete, then write tables, manifest and figures.

    workers=0 runs in this process; workers=N starts a loopback LocalCluster of N single-threaded
    worker processes; scheduler=ADDRESS uses an existing Dask cluster.
    """
    from evosim.store import RunLock

    t0 = time.perf_counter()
    out = Path(out if out is not None else sweep.out).resolve()
    if workers is not None and workers < 0:
        raise SweepError(f"--workers {workers}: expected 0 (run in this process) or a positive number of workers")
    if workers is None and scheduler is None:
        workers = default_workers()
    specs = plan_runs(sweep, out)
    try:
        (out / "cells").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SweepError(f"{out}: cannot create the sweep directory: {e.strerror}") from None
    lock = RunLock(out)
    lock.acquire()
    try:
        return _run_locked(sweep, specs, out, workers, scheduler, progress, log, t0)
    finally:
        lock.release()


def _run_locked(sweep, specs, out, workers, scheduler, progress, log, t0) -> SweepResult:
    from evosim.store import git_commit, versions, write_bytes, write_parquet

    need_report = _report_fn() is not None
    results: dict[str, dict] = {}  # by cell_hash (identical configs run once)
    todo: list[RunSpec] = []
    queued: set[str] = set()
    for s in specs:
        if s.cell_hash in results or s.cell_hash in queued:
            continue
        if s.config is None:
            results[s.cell_hash] = execute_run(s)
        elif run_is_complete(s.run_dir, need_report):
            results[s.cell_hash] = {"row": run_row(s, Path(s.run_dir)),
                                    "timing": {"cell": s.cell, "seed": s.seed, "cell_hash": s.cell_hash,
                                               "computed": False, "wall_s": 0.0, "worker": None, "pid": None}}
        else:
            todo.append(s)
            queued.add(s.cell_hash)
    n_skipped = sum(1 for s in specs if s.config is not None) - len(todo)
    mode = "serial" if workers == 0 else ("scheduler" if scheduler else "local")
    log(f"sweep {sweep.name}: {len(sweep.cells)} cells x {len(sweep.seeds)} seeds = {len(specs)} runs; "
        f"{len(todo)} to run, {n_skipped} already complete -> {out}")
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(todo), desc=f"sweep {sweep.name}", unit="run", dynamic_ncols=True)
    n_failed = 0
    warm = {}
    t_compute = time.perf_counter()
    try:
        if todo and workers == 0:
            for s in todo:
                results[s.cell_hash] = r = execute_run(s)
                n_failed += r["row"]["status"] != "complete"
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(failed=n_failed)
        elif todo:
            from distributed import as_completed

            client, cluster = _start_client(workers, scheduler)
            try:
                client.register_plugin(WarmUp(), name=WarmUp.name)
                warm = client.run(lambda dask_worker: getattr(dask_worker, "evosim_warmup_s", None))
                futures = {client.submit(execute_run, s, 1, key=f"evosim-run-{s.cell_hash}", pure=False,
                                         retries=RETRIES): s for s in todo}
                for fut in as_completed(futures):
                    s = futures[fut]
                    if fut.status == "finished":
                        r = fut.result()
                    else:  # the worker died on every attempt (KilledWorker) or the task was lost
                        exc = fut.exception()
                        r = {"row": failed_row(s, f"worker lost: {_one_line(exc)}"),
                             "timing": {"cell": s.cell, "seed": s.seed, "cell_hash": s.cell_hash, "computed": False,
                                        "wall_s": math.nan, "worker": None, "pid": None}}
                    results[s.cell_hash] = r
                    n_failed += r["row"]["status"] != "complete"
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(failed=n_failed)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
    finally:
        if bar is not None:
            bar.close()
    compute_s = time.perf_counter() - t_compute
    # Gather in the fixed (cell, seed) order
    rows, timings = [], []
    for s in specs:
        r = results[s.cell_hash]
        rows.append({**r["row"], "cell": s.cell, **s.values, "seed": s.seed})
        timings.append({**r["timing"], "cell": s.cell, "seed": s.seed})
    table = sweep_table(rows, sweep.keys)
    summary = summarise(table, sweep.keys)
    write_parquet(out / "sweep.parquet", table)
    write_parquet(out / "summary.parquet", summary)

    figs = []
    try:
        from evosim import sweep_figures
        figs = sweep_figures.sweep_figures(summary, list(sweep.grid_keys), out / "figures")
    except Exception as e:  # a figure must never cost the tables
        log(f"warning: figures not written: {_one_line(e)}")
    n_failed = int((table["status"] != "complete").sum())
    n_computed = sum(1 for t in timings if t.get("computed"))
    wall = time.perf_counter() - t0
    manifest = {"sweep": sweep.name, "sweep_file": str(sweep.path),
                "sweep_sha256": hashlib.sha256(sweep.raw).hexdigest(), "base": str(sweep.base_path),
                "keys": list(sweep.keys), "n_cells": len(sweep.cells), "seeds": list(sweep.seeds),
                "mode": mode, "workers": workers, "scheduler": scheduler, "host": socket.gethostname(),
                "versions": versions(), "git_commit": git_commit(), "report": "available" if _report_fn() else "unavailable",
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "wall_s": wall, "compute_s": compute_s, "worker_warmup_s": warm,
                "runs_computed": n_computed, "runs_skipped": n_skipped, "runs_failed": n_failed, "runs": timings}
    write_bytes(out / "manifest.json", (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode())
    return SweepResult(out, table, summary, n_computed, n_skipped, n_failed, wall, figs)


# -- command line --------------------------------------------------------------------------------
def cmd_sweep(args) -> int:
    sweep = load_sweep(args.sweep, args.out)
    res = run_sweep(sweep, out=args.out, workers=args.workers, scheduler=args.scheduler, progress=not args.quiet,
                    log=lambda m: print(m, file=sys.stderr))
    print(final_table(res.table, res.summary, sweep.keys))
    print(f"sweep {sweep.name}: {len(res.table)} runs ({res.n_computed} computed, {res.n_skipped} already complete, "
          f"{res.n_failed} failed) in {res.wall_s:.1f} s -> {res.out}/sweep.parquet, summary.parquet"
          + (f", {len(res.figures)} figures" if res.figures else ""))
    if res.n_failed:
        print(f"sweep {sweep.name}: {res.n_failed} runs failed; see the `error` column of sweep.parquet", file=sys.stderr)
        return 1
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sweep", help="run a sweep of experiments (cells x seeds) locally or on a Dask cluster",
        description="Run every (cell, seed) of a sweep file as an ordinary run plus its report, skipping runs "
                    "already complete; write sweep.parquet, summary.parquet and figures/. Exit 1 if a run failed.")
    p.add_argument("sweep", metavar="SWEEP_TOML", help="sweep file (e.g. runs/conditions.toml)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="start a local Dask cluster of N single-threaded worker processes on loopback "
                            "(default: one per CPU; 0 runs every cell in this process)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="use a running Dask cluster, e.g. tcp://10.0.0.5:8786 (workers must see --out)")
    p.add_argument("--out", help="sweep directory (default: the file's `out`, else runs/out/<name>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)
    return p


__all__ = ["SweepError", "Sweep", "RunSpec", "SweepResult", "load_sweep", "plan_runs", "run_sweep", "execute_run",
           "summarise", "warm_up", "WarmUp", "SWEEP_COLUMNS", "SUMMARY_COLUMNS", "add_parser"]
