"""``evosim bench``: how fast the kernels, a generation and the shipped experiments run.

Speed is measured here, never asserted in unit tests. Every measurement returns records
``{"name", "value", "unit", "params"}``; ``--json`` writes the list, the screen gets a table,
``--doc`` rewrites the generated section of ``docs/performance.md`` (and its figure).

Headline records (their names are stable: docs/performance.md and CI read them):

    heuristic_steps_per_s_per_core   heuristic organisms, red_door 15x15, 100-step episodes, 1 thread
    planner_steps_per_s_per_core     planners, depth 2, 21x21 keys_chests maze, >= 6 perceived objects
    heuristic_speedup_vs_naive       kernel vs evosim.reference.naive on identical work (BFS + rollout)
    planner_speedup_vs_naive
    heuristic_speedup_vs_mesa        kernel vs ``MesaEpisode`` of evosim.reference.mesa_model (Mesa agents on a MultiGrid)
    parallel_speedup_2_threads       one generation (1000 organisms x 8 episodes), 2 threads vs 1
    cold_compile_s, warm_start_s     fresh process: import + first generation, empty / warm numba cache
    experiment_<name>_s              each runs/*.toml experiment end to end (sweep files skipped)
    peak_rss_mib                     fresh process: a generation of 10,000 organisms x 16 episodes

Per-core rates divide organism-steps by the CPU time of the process at one numba thread
(best of several repeats), so other work on a shared machine does not count against them;
the wall-clock rate is in ``params``. Every comparison checks that both sides produced
identical episodes before it reports a ratio.

The package, by job:

    workloads.py   Workload and the heuristic / planner / mixed workloads
    timing.py      numba_threads, best_time, steps_per_s, the identical-work check, machine()
    suite.py       record(), every measurement, PROFILES, SCALING, run_suite (scaling included)
    report.py      the screen table, the Markdown section of docs/performance.md, the scaling figure
    cli.py         BenchError, cmd_bench, add_parser (``evosim bench``)

The references it measures against are not here: the naive twins are ``evosim.reference.naive``
and the Mesa model is ``evosim.reference.mesa_model``.
This module exports the entry points (``__all__``); everything else is imported from its submodule.
"""
from __future__ import annotations

from evosim.bench.cli import add_parser
from evosim.bench.suite import PROFILES, record, run_suite, speedup_vs_mesa, speedup_vs_naive
from evosim.bench.workloads import heuristic_workload, mixed_workload, planner_workload
from evosim.reference.mesa_model import mesa_rollout

__all__ = ["run_suite", "record", "heuristic_workload", "planner_workload", "mixed_workload", "mesa_rollout",
           "speedup_vs_naive", "speedup_vs_mesa", "add_parser", "PROFILES"]
