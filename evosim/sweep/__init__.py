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

The package, by job:

    spec.py      the sweep file, checked strictly (load_sweep, Sweep, SweepError, setting_paths)
                 and the plan (plan_runs, RunSpec, config_hash)
    execute.py   execute_run on a worker, warm-up, the Dask client (start_client), run_sweep and its
                 locked loop
    results.py   run_row / failed_row, sweep_table, summarise, final_table; names, column docs,
                 class shares and the t-interval come from evosim.schema
    figures.py   phase diagram and dose response from summary.parquet
    cli.py       cmd_sweep, add_parser (``evosim sweep``)

Run directories are read through ``evosim.store.RunDirectory`` (tables by name). This module
exports the public API (``__all__``) only; the rest is imported from the submodule defining it.
"""
from __future__ import annotations

from evosim.sweep.cli import add_parser
from evosim.sweep.execute import SweepResult, run_sweep, start_client
from evosim.schema import SUMMARY_COLUMNS, SWEEP_COLUMNS
from evosim.sweep.spec import RunSpec, Sweep, SweepError, load_sweep, plan_runs

__all__ = ["SweepError", "Sweep", "RunSpec", "SweepResult", "load_sweep", "plan_runs", "run_sweep", "start_client",
           "SWEEP_COLUMNS", "SUMMARY_COLUMNS", "add_parser"]
