"""The bench suite: every measurement, the profiles that size them, and ``run_suite``.

Owns the record format (``record``: ``{"name", "value", "unit", "params"}``), the measurements
(kernels per core, speed-ups against the naive twins of ``evosim.reference.naive`` and the Mesa
reference of ``evosim.reference.mesa_model``, threads, fresh processes, peak memory, the
shipped experiments, scaling), ``PROFILES`` / ``SCALING`` and ``run_suite``. Workloads come
from ``evosim.bench.workloads``, clocks from ``evosim.bench.timing``; tables, Markdown and the
scaling figure are ``evosim.bench.report``'s.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evosim.bench.timing import _load, _same_episodes, best_time, numba_threads, steps_per_s
from evosim.bench.workloads import (
    Workload, heuristic_workload, memoriser_workload, mixed_workload, network_workload, planner_workload,
)
from evosim.reference import naive
from evosim.reference.mesa_model import mesa_rollout

#: the repository root (its ``runs/`` holds the shipped experiments)
ROOT = Path(__file__).resolve().parents[2]


def record(name: str, value: float, unit: str, **params) -> dict:
    return {"name": name, "value": float(value), "unit": unit, "params": params}


def bench_heuristic(n: int, episodes: int, repeats: int) -> list[dict]:
    work = heuristic_workload(n, episodes)
    rate, wall_rate, rec = steps_per_s(work, repeats)
    return [record("heuristic_steps_per_s_per_core", rate, "organism-steps/s", world="red_door", size=15,
                   max_steps=100, organisms=n, episodes=episodes, threads=1, clock="process CPU time, best of "
                   f"{repeats}", wall_rate=round(wall_rate), steps=int(rec.steps.sum()),
                   mean_episode_steps=round(float(rec.steps.mean()), 2))]


def bench_planner(n: int, episodes: int, repeats: int) -> list[dict]:
    work = planner_workload(n, episodes)
    rate, wall_rate, rec = steps_per_s(work, repeats)
    steps = int(rec.steps.sum())
    return [
        record("planner_steps_per_s_per_core", rate, "organism-steps/s", world="keys_chests", size=21, depth=2,
               n_distractors=6, radius=40, organisms=n, episodes=episodes, threads=1,
               clock=f"process CPU time, best of {repeats}", wall_rate=round(wall_rate), steps=steps,
               mean_episode_steps=round(float(rec.steps.mean()), 2)),
        record("planner_plans_per_step", rec.plans.sum() / steps, "plans/step", note="depth 2 over n perceived "
               "objects evaluates n + n(n-1) plans when nothing ends the episode: 64 at n = 8, 42 at n = 6"),
    ]


def bench_memoriser(n: int, episodes: int, repeats: int) -> list[dict]:
    """Memorisers: a table lookup per step (target >= 20 M organism-steps/s per core; faster than the heuristic)."""
    work = memoriser_workload(n, episodes)
    rate, wall_rate, rec = steps_per_s(work, repeats)
    return [record("memoriser_steps_per_s_per_core", rate, "organism-steps/s", world="red_door", size=15,
                   max_steps=100, organisms=n, episodes=episodes, threads=1, target=20e6,
                   clock=f"process CPU time, best of {repeats}", wall_rate=round(wall_rate),
                   steps=int(rec.steps.sum()), mean_episode_steps=round(float(rec.steps.mean()), 2))]


def bench_planner_depths(n: int, episodes: int, repeats: int, depths=(0, 1, 2, 3)) -> list[dict]:
    """Planner organism-steps per CPU second at each search depth (0 = reactive: no plans, the
    utility-weighted path gradient), on the planner workload (keys_chests 21 x 21, 12 objects in view)."""
    out = []
    for d in depths:
        work = planner_workload(n, episodes, depth=d)
        rate, wall_rate, rec = steps_per_s(work, repeats)
        steps = int(rec.steps.sum())
        out.append(record(f"planner_depth{d}_steps_per_s_per_core", rate, "organism-steps/s", world="keys_chests",
                          size=21, depth=d, n_distractors=6, radius=40, organisms=n, episodes=episodes, threads=1,
                          clock=f"process CPU time, best of {repeats}", wall_rate=round(wall_rate), steps=steps,
                          work_per_step=round(float(rec.work.sum()) / steps, 2),
                          plans_per_step=round(float(rec.plans.sum()) / steps, 2)))
    return out


def bench_network(n: int, episodes: int, repeats: int, iterations=(0, 1, 2, 4, 8)) -> list[dict]:
    """Network organism-steps per CPU second at each iteration count (random weights, 4 hidden channels, tanh)
    on red_door at the default size (11 x 11, 40 steps): ``network_steps_per_s_per_core`` at 4 iterations
    (target >= 1e5), then one ``network_iterations<k>_steps_per_s_per_core`` per count."""
    out = []
    for k in iterations:
        work = network_workload(n, episodes, iterations=k)
        rate, wall_rate, rec = steps_per_s(work, repeats)
        steps = int(rec.steps.sum())
        params = dict(world="red_door", size=11, max_steps=40, iterations=k, channels=4, activation="tanh",
                      organisms=n, episodes=episodes, threads=1, clock=f"process CPU time, best of {repeats}",
                      wall_rate=round(wall_rate), steps=steps, work_per_step=round(float(rec.work.sum()) / steps, 2),
                      mean_episode_steps=round(float(rec.steps.mean()), 2))
        if k == 4:
            out.insert(0, record("network_steps_per_s_per_core", rate, "organism-steps/s", target=1e5, **params))
        out.append(record(f"network_iterations{k}_steps_per_s_per_core", rate, "organism-steps/s", **params))
    return out


def speedup_vs_naive(work: Workload, name: str, repeats: int) -> list[dict]:
    """The twin (``evosim.reference.naive``) and the kernel on identical work: BFS distance maps
    of the layouts + the rollout."""
    from evosim import kernels

    lay = work.layouts

    def kernel():
        kernels.distance_maps(lay.walls, lay.obj_pos, lay.obj_kind)
        return work.run(record_trace=True)

    with numba_threads(1):
        kernel()
        k_cpu, _, k_rec = best_time(kernel, repeats)
    n_cpu, _, n_rec = best_time(lambda: naive.rollout(*work.args(), record=True), 1)
    _same_episodes(k_rec, n_rec, f"{name}: kernel vs tests/naive.py")
    return [record(f"{name}_speedup_vs_naive", n_cpu / k_cpu, "x", organisms=len(work.genomes),
                   episodes=len(work.episode_layout), steps=int(k_rec.steps.sum()), naive_s=round(n_cpu, 3),
                   kernel_s=k_cpu, threads=1, work="distance maps + rollout with traces, identical inputs")]


def speedup_vs_mesa(work: Workload, repeats: int) -> list[dict]:
    import dataclasses

    import mesa

    work = dataclasses.replace(work, heuristic_signal="compass")  # the signal the Mesa reference implements

    with numba_threads(1):
        work.run()
        k_cpu, _, k_rec = best_time(lambda: work.run(record_trace=True), repeats)
    m_cpu, _, (steps, ret, trace) = best_time(lambda: mesa_rollout(work), 1)
    if not (np.array_equal(steps, k_rec.steps) and np.array_equal(ret, k_rec.ret) and np.array_equal(trace, k_rec.trace)):
        raise RuntimeError("heuristic_speedup_vs_mesa: the Mesa reference and the kernel disagree; the comparison is void")
    total = int(steps.sum())
    return [
        record("heuristic_speedup_vs_mesa", m_cpu / k_cpu, "x", mesa=mesa.__version__, organisms=len(work.genomes),
               episodes=len(work.episode_layout), steps=total, mesa_s=round(m_cpu, 3), kernel_s=k_cpu, threads=1,
               reference="evosim.reference.mesa_model.mesa_classes: MultiGrid, get_neighbors, agents_by_type[...].do('step')"),
        record("mesa_steps_per_s", total / m_cpu, "organism-steps/s", mesa=mesa.__version__),
    ]


# -- threads -----------------------------------------------------------------------------------
def bench_parallel(n: int, episodes: int, repeats: int) -> list[dict]:
    import numba

    work = mixed_workload(n, episodes)
    if numba.config.NUMBA_NUM_THREADS < 2:
        return [record("parallel_speedup_2_threads", float("nan"), "x", note="NUMBA_NUM_THREADS < 2")]
    # Interleaved, best of ``repeats`` each: on a shared machine both get the same quiet moments
    best = {1: math.inf, 2: math.inf}
    recs = {}
    for _ in range(repeats):
        for t in (1, 2):
            with numba_threads(t):
                if t not in recs:
                    work.run()
                _, wall, recs[t] = best_time(work.run, 1)
            best[t] = min(best[t], wall)
    _same_episodes(recs[1], recs[2], "parallel_speedup_2_threads: 1 vs 2 threads")
    return [record("parallel_speedup_2_threads", best[1] / best[2], "x", organisms=n, episodes=episodes,
                   world="red_door", size=15, max_steps=100, planner_share=0.5, wall_1_thread_s=best[1],
                   wall_2_threads_s=best[2], clock=f"wall, best of {repeats}, interleaved",
                   work="the rollouts of one generation", load_average=_load())]


# -- fresh processes ---------------------------------------------------------------------------
_FIRST_GENERATION = r"""
import hashlib, json, resource, sys, time
t0 = time.perf_counter()
from evosim.model import EvolutionModel
settings = json.loads(sys.argv[1])
config = settings.pop("config", None)
model = EvolutionModel(config, rng=settings.pop("seed", 1), **settings)
model.step()
t1 = time.perf_counter()
digest = hashlib.sha256(model.fitness.tobytes() + model.records.steps.tobytes()).hexdigest()
print(json.dumps({"seconds": t1 - t0, "digest": digest,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
"""


def run_first_generation(cache_dir: str | None, settings: dict, timeout: float = 600) -> dict:
    """A fresh interpreter imports evosim and runs one generation; wall seconds, table digest, peak RSS."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _FIRST_GENERATION, json.dumps(settings)], env=env,
                       capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"first-generation subprocess failed ({p.returncode}): {p.stderr.strip()[-800:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


def start_first_generations(cache_dir: str, settings: dict, k: int) -> list:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    return [subprocess.Popen([sys.executable, "-c", _FIRST_GENERATION, json.dumps(settings)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(k)]


#: the first generation measured by cold_compile_s / warm_start_s: both architectures, so every
#: kernel the generation needs is compiled
FIRST_GENERATION = {"population": 64, "episodes": 4, "generations": 1, "initial_planner_share": 0.5, "seed": 1}


def bench_startup(cold: bool, concurrent: bool) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory(prefix="evosim_bench_cache_") as cache:
        if cold:
            first = run_first_generation(cache, dict(FIRST_GENERATION))
            out.append(record("cold_compile_s", first["wall_s"], "s", cache="empty NUMBA_CACHE_DIR",
                              process="fresh interpreter: import evosim + EvolutionModel + first generation",
                              **{k: v for k, v in FIRST_GENERATION.items()}))
        else:
            first = run_first_generation(cache, dict(FIRST_GENERATION))
        warm = [run_first_generation(cache, dict(FIRST_GENERATION)) for _ in range(2)]
        best = min(warm, key=lambda r: r["wall_s"])
        if any(r["digest"] != first["digest"] for r in warm):
            raise RuntimeError("warm_start_s: a warm-cache process computed a different generation")
        out.append(record("warm_start_s", best["wall_s"], "s", cache="warm NUMBA_CACHE_DIR", best_of=2,
                          in_process_s=round(best["seconds"], 3),
                          process="fresh interpreter: import evosim + EvolutionModel + first generation"))
    if concurrent:
        out.append(bench_concurrent_compile(first["digest"]))
    return out


def bench_concurrent_compile(expected_digest: str | None = None) -> dict:
    """Two fresh processes compile into the same empty cache at once; both must succeed and agree,
    and a third process must then load that cache and agree too."""
    with tempfile.TemporaryDirectory(prefix="evosim_bench_cache_") as cache:
        t0 = time.perf_counter()
        procs = start_first_generations(cache, dict(FIRST_GENERATION), 2)
        results = [p.communicate(timeout=900) + (p.returncode,) for p in procs]
        wall = time.perf_counter() - t0
        ok = all(rc == 0 for _, _, rc in results)
        digests = [json.loads(o.strip().splitlines()[-1])["digest"] for o, _, rc in results if rc == 0]
        after = run_first_generation(cache, dict(FIRST_GENERATION)) if ok else None
        ok = ok and len(set(digests)) == 1 and after["digest"] == digests[0]
        if expected_digest is not None:
            ok = ok and digests[0] == expected_digest
        errors = [e.strip()[-300:] for _, e, rc in results if rc != 0]
    return record("cache_concurrent_compile_ok", 1.0 if ok else 0.0, "bool", processes=2, wall_s=round(wall, 2),
                  warm_after_s=None if after is None else round(after["wall_s"], 2), errors=errors)


def bench_peak_rss(config: str | None, population: int = 10_000, episodes: int = 16) -> list[dict]:
    settings = {"config": config, "population": population, "episodes": episodes, "generations": 1, "seed": 1}
    r = run_first_generation(None, settings)
    return [record("peak_rss_mib", r["peak_rss_mib"], "MiB", population=population, episodes=episodes,
                   config=config or "defaults", measure="ru_maxrss of a fresh process: import + one generation",
                   generation_s=round(r["seconds"], 2))]


# -- shipped experiments -----------------------------------------------------------------------
def experiment_files(runs_dir: Path) -> tuple[list[Path], list[str]]:
    """runs/*.toml that are experiment configs; sweep definitions (``[grid]`` / ``base``) are skipped."""
    import tomllib

    keep, skipped = [], []
    for p in sorted(runs_dir.glob("*.toml")):
        try:
            data = tomllib.loads(p.read_text())
        except (OSError, tomllib.TOMLDecodeError):
            skipped.append(p.name)
            continue
        if "grid" in data or "base" in data or "cells" in data:
            skipped.append(p.name)
        else:
            keep.append(p)
    return keep, skipped


def bench_experiments(runs_dir: Path, log) -> list[dict]:
    from evosim.config import load_config
    from evosim.experiment import run_experiment

    files, skipped = experiment_files(runs_dir)
    out = []
    with tempfile.TemporaryDirectory(prefix="evosim_bench_runs_") as tmp:
        for p in files:
            cfg = load_config(p)
            log(f"  experiment {p.name} ...")
            t0 = time.perf_counter()
            res = run_experiment(cfg, Path(tmp) / p.stem, progress=False, log=lambda *_: None)
            wall = time.perf_counter() - t0
            g = res.generations.iloc[-1]
            out.append(record(f"experiment_{p.stem}_s", wall, "s", file=f"runs/{p.name}", seed=cfg.seed,
                              generations=cfg.evolution.generations, population=cfg.evolution.population,
                              episodes=cfg.evolution.episodes, final_return_mean=round(float(g.return_mean), 4),
                              final_planner_share=round(float(g.planner_share), 4)))
    if skipped:
        out.append(record("experiments_skipped", len(skipped), "files", files=skipped,
                          reason="sweep definitions, not experiments"))
    return out


# -- scaling -----------------------------------------------------------------------------------
def fit_exponent(x, t) -> float:
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(t, float)), 1)[0])


def scaling_rows(populations, episodes_list, sizes, depths, repeats: int, log) -> list[dict]:
    """Time of one generation's rollouts (all threads) as one factor grows, the others fixed:
    wall seconds and CPU seconds (the cost, which a busy shared machine does not inflate)."""
    rows = []

    def timed(work, factor, value):
        work.run()
        cpu, wall, rec = best_time(work.run, repeats)
        rows.append({"factor": factor, "value": value, "seconds": wall, "cpu_seconds": cpu,
                     "organisms": len(work.genomes),
                     "episodes": len(work.episode_layout), "steps": int(rec.steps.sum()),
                     "plans": int(rec.plans.sum())})
        log(f"  scaling {factor}={value}: {wall:.3f} s wall, {cpu:.3f} s CPU")

    base_pop = max(populations[0], 2000)
    big = mixed_workload(max(populations), 8)
    for n in populations:
        timed(big.subset(n, 8), "population", n)
    ep = mixed_workload(base_pop, max(episodes_list))
    for e in episodes_list:
        timed(ep.subset(base_pop, e), "episodes", e)
    for s in sizes:
        timed(mixed_workload(base_pop, 8, size=s), "grid size", s)
    for d in depths:
        timed(planner_workload(max(200, base_pop // 8), 8, depth=d), "planner depth", d)
    return rows


def scaling_records(rows) -> list[dict]:
    out = []
    for factor, name in (("population", "scaling_exponent_population"), ("episodes", "scaling_exponent_episodes"),
                         ("grid size", "scaling_exponent_grid_size"), ("planner depth", "scaling_exponent_depth")):
        sel = [r for r in rows if r["factor"] == factor]
        if len(sel) >= 2:
            out.append(record(name, fit_exponent([r["value"] for r in sel], [r["cpu_seconds"] for r in sel]),
                              "exponent", fit="log(CPU seconds) = a + b log(x), least squares; b reported",
                              wall_exponent=round(fit_exponent([r["value"] for r in sel], [r["seconds"] for r in sel]), 3),
                              points={str(r["value"]): round(r["cpu_seconds"], 4) for r in sel}))
    return out


# -- the suite ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Profile:
    """Work sizes of a suite run."""

    heuristic: tuple[int, int]
    planner: tuple[int, int]
    naive_heuristic: tuple[int, int]
    naive_planner: tuple[int, int]
    mesa: tuple[int, int]
    parallel: tuple[int, int]
    repeats: int
    startup: bool
    cold: bool
    concurrent: bool
    rss: bool
    experiments: bool
    scaling: bool


PROFILES = {
    "full": Profile((2000, 8), (1000, 8), (40, 4), (6, 2), (100, 4), (1000, 8), 5, True, True, True, True, True, True),
    "quick": Profile((2000, 8), (500, 8), (16, 2), (3, 1), (30, 4), (1000, 8), 3, True, False, False, True, False, False),
    "tiny": Profile((50, 2), (10, 2), (3, 1), (1, 1), (3, 2), (40, 2), 1, False, False, False, False, False, False),
}
SCALING = {"populations": [1000, 3000, 10000, 30000, 100000], "episodes": [2, 4, 8, 16, 32],
           "sizes": [11, 15, 21, 31, 41], "depths": [1, 2, 3]}


def run_suite(profile: str = "full", runs_dir: Path | None = None, log=None, scaling_out: list | None = None) -> list[dict]:
    """Run the benchmarks of ``profile`` ("full", "quick" or "tiny") and return their records."""
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    p = PROFILES[profile]
    runs_dir = Path(runs_dir) if runs_dir is not None else ROOT / "runs"
    recs: list[dict] = []
    log("heuristic kernel ...")
    recs += bench_heuristic(*p.heuristic, p.repeats)
    log("planner kernel ...")
    recs += bench_planner(*p.planner, p.repeats)
    log("memoriser kernel ...")
    recs += bench_memoriser(*p.heuristic, p.repeats)
    log("planner depths 0..3 ...")
    recs += bench_planner_depths(*p.planner, p.repeats)
    log("network iterations 0, 1, 2, 4, 8 ...")
    recs += bench_network(*p.planner, p.repeats)
    log("naive twins ...")
    recs += speedup_vs_naive(heuristic_workload(*p.naive_heuristic), "heuristic", p.repeats)
    recs += speedup_vs_naive(planner_workload(*p.naive_planner), "planner", p.repeats)
    recs += speedup_vs_naive(network_workload(*p.naive_planner), "network", p.repeats)
    log("Mesa reference ...")
    recs += speedup_vs_mesa(heuristic_workload(*p.mesa), p.repeats)
    log("threads ...")
    recs += bench_parallel(*p.parallel, max(p.repeats, 10))
    if p.startup:
        log("fresh processes (compile, start-up) ...")
        recs += bench_startup(cold=p.cold, concurrent=p.concurrent)
    if p.rss:
        log("peak memory ...")
        cfg = runs_dir / "red_door.toml"
        recs += bench_peak_rss(str(cfg) if cfg.exists() else None)
    if p.experiments:
        log("shipped experiments ...")
        recs += bench_experiments(runs_dir, log)
    if p.scaling:
        log("scaling ...")
        rows = scaling_rows(SCALING["populations"], SCALING["episodes"], SCALING["sizes"], SCALING["depths"], 3, log)
        recs += scaling_records(rows)
        if scaling_out is not None:
            scaling_out.extend(rows)
    return recs


__all__ = ["record", "run_suite", "PROFILES", "SCALING", "Profile", "speedup_vs_naive", "speedup_vs_mesa",
           "bench_heuristic", "bench_planner", "bench_memoriser", "bench_network", "bench_planner_depths", "bench_parallel", "bench_startup", "bench_concurrent_compile",
           "bench_peak_rss", "bench_experiments", "experiment_files", "scaling_rows", "scaling_records"]
