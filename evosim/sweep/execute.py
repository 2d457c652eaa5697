"""Running a sweep: Dask set-up, the runs on the workers, and the locked loop that ties them together.

Owns ``execute_run`` (one (cell, seed) on a worker: run, then report, never raising for a
run's own errors), worker warm-up (``warm_up`` and the ``WarmUp`` plugin), the Dask client and
local cluster (``start_client``, ``default_workers``, ``RETRIES``), and ``run_sweep``: plan,
lock the sweep directory, skip complete runs, compute the rest (in this process or on Dask),
gather in (cell, seed) order, write ``sweep.parquet``, ``summary.parquet``, figures and
``manifest.json``. Rows and tables are built by ``evosim.sweep.results``; run directories are
read through ``evosim.store.RunDirectory``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evosim.config import from_dict
from evosim.errors import UserError
from evosim.sweep.results import failed_row, run_row, summarise, sweep_table
from evosim.store.directory import RunDirectory
from evosim.store.files import git_commit, versions, write_bytes, write_parquet
from evosim.store.layout import CONFIG, FIGURES, MANIFEST
from evosim.store.lock import RunLock
from evosim.sweep.spec import RunSpec, Sweep, SweepError, plan_runs

#: a sweep directory's tables (its manifest, lock and figures/ are named as a run directory's)
SWEEP_TABLE = "sweep.parquet"
SUMMARY_TABLE = "summary.parquet"
#: how often dask re-runs a run whose worker died (a run's own exceptions are not retried)
RETRIES = 2


# -- one run (executed on a worker) ----------------------------------------------------------
def _report_fn():
    """``evosim.report.report_run`` or None if the report module is not installed (yet)."""
    if importlib.util.find_spec("evosim.report") is None:
        return None
    from evosim.report import report_run

    return report_run


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return msg if isinstance(e, UserError) else f"{type(e).__name__}: {msg}"


def execute_run(spec: RunSpec, threads: int | None = None, figures: bool = True) -> dict:
    """Run (or finish) one (cell, seed) and return its sweep row and timing. Never raises for a run's own errors.

    ``threads``: numba threads for this call (thread-local; Dask workers use 1); None leaves them.
    ``figures``: whether the run's report draws its figures (the tables are the same either way).
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
    rd = RunDirectory(d)
    try:
        report = _report_fn()
        if not rd.run_is_complete(need_report=False):
            rd.clear_own_lock()
            cfg = from_dict(spec.config, str(d / CONFIG))
            res = run_experiment(cfg, out=d, mode="overwrite" if d.exists() else "new", progress=False,
                                 log=lambda m: None)
            if res.interrupted:  # Ctrl-C in serial mode: the run checkpointed; stop the sweep (re-run resumes)
                raise KeyboardInterrupt
            timing["computed"] = True
        if report is not None and not rd.report_is_complete():
            try:
                report(d, progress=False, figures=figures)
            except Exception as e:  # the run itself is fine: record and move on
                return {"row": failed_row(spec, f"report: {_one_line(e)}", report="failed"),
                        "timing": {**timing, "wall_s": time.perf_counter() - t0}}
            timing["computed"] = True
        row = run_row(spec, d)
    except Exception as e:
        row = failed_row(spec, _one_line(e))
    return {"row": row, "timing": {**timing, "wall_s": time.perf_counter() - t0}}


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


def start_client(workers: int | None, scheduler: str | None):
    """(client, cluster): a client of the cluster at ``scheduler`` (cluster None), else of a new loopback
    LocalCluster of ``workers`` single-threaded processes (close both when done). SweepError if unreachable."""
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


def run_sweep(sweep: Sweep, out: str | Path | None = None, workers: int | None = None, scheduler: str | None = None,
              progress: bool = True, log=print, run_figures: bool = True, client=None) -> SweepResult:
    """Run every (cell, seed) of ``sweep`` not already complete, then write tables, manifest and figures.

    workers=0 runs in this process; workers=N starts a loopback LocalCluster of N single-threaded
    worker processes; scheduler=ADDRESS uses an existing Dask cluster. ``client``: a Dask client the
    caller made (``start_client``) and closes, used instead of starting one (several sweeps, one
    cluster). ``run_figures=False``: the runs' reports draw no figures (the sweep's own are drawn).
    """
    t0 = time.perf_counter()
    out = Path(out if out is not None else sweep.out).resolve()
    if workers is not None and workers < 0:
        raise SweepError(f"--workers {workers}: expected 0 (run in this process) or a positive number of workers")
    if workers is None and scheduler is None and client is None:
        workers = default_workers()
    specs = plan_runs(sweep, out)
    try:
        (out / "cells").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SweepError(f"{out}: cannot create the sweep directory: {e.strerror}") from None
    lock = RunLock(out)
    lock.acquire()
    try:
        return _run_locked(sweep, specs, out, workers, scheduler, progress, log, t0, run_figures, client)
    finally:
        lock.release()


def _run_locked(sweep, specs, out, workers, scheduler, progress, log, t0, run_figures, client) -> SweepResult:
    need_report = _report_fn() is not None
    results: dict[str, dict] = {}  # by cell_hash (identical configs run once)
    todo: list[RunSpec] = []
    queued: set[str] = set()
    for s in specs:
        if s.cell_hash in results or s.cell_hash in queued:
            continue
        if s.config is None:
            results[s.cell_hash] = execute_run(s)
        elif RunDirectory(s.run_dir).run_is_complete(need_report):
            results[s.cell_hash] = {"row": run_row(s, Path(s.run_dir)),
                                    "timing": {"cell": s.cell, "seed": s.seed, "cell_hash": s.cell_hash,
                                               "computed": False, "wall_s": 0.0, "worker": None, "pid": None}}
        else:
            todo.append(s)
            queued.add(s.cell_hash)
    n_skipped = sum(1 for s in specs if s.config is not None) - len(todo)
    if client is not None and workers is None:
        workers = len(client.scheduler_info().get("workers", {}))
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
                results[s.cell_hash] = r = execute_run(s, figures=run_figures)
                n_failed += r["row"]["status"] != "complete"
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(failed=n_failed)
        elif todo:
            from distributed import as_completed

            own = client is None
            if own:
                client, cluster = start_client(workers, scheduler)
            try:
                client.register_plugin(WarmUp(), name=WarmUp.name)
                warm = client.run(lambda dask_worker: getattr(dask_worker, "evosim_warmup_s", None))
                futures = {client.submit(execute_run, s, 1, figures=run_figures, key=f"evosim-run-{s.cell_hash}", pure=False,
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
                if own:
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
    write_parquet(out / SWEEP_TABLE, table)
    write_parquet(out / SUMMARY_TABLE, summary)

    figs = []
    try:
        from evosim.sweep import figures
        figs = figures.sweep_figures(summary, list(sweep.grid_keys), out / FIGURES, list(sweep.keys))
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
    write_bytes(out / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode())
    return SweepResult(out, table, summary, n_computed, n_skipped, n_failed, wall, figs)


__all__ = ["RETRIES", "SweepResult", "execute_run", "run_sweep", "start_client", "warm_up", "WarmUp", "default_workers"]
