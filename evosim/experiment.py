"""Run an experiment end to end into a run directory: the loop behind ``evosim run``.

Checkpoints are written every ``evolution.checkpoint_every`` generations and when the run
is interrupted (SIGINT/SIGTERM: the current generation finishes first; a second Ctrl-C
exits at once). Organism rows and genomes go to disk in parts at every checkpoint generation,
so memory stays flat however long the run. Because every random number derives from (seed, stream, generation), a
checkpoint needs only the population, its fitness and lineage, and the tables so far: a
resumed run is byte-identical to an uninterrupted one.
"""
from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evosim.config import Config
from evosim.model import EvolutionModel
from evosim.store.layout import RunError, default_run_dir, genomes_part, organisms_part
from evosim.store.writer import RunWriter


@dataclass
class RunResult:
    path: Path
    generations: pd.DataFrame
    interrupted: bool
    notes: list[str]
    wall_s: float

    def summary(self, cfg: Config) -> str:
        g = self.generations
        if g.empty:
            return f"{cfg.name} seed {cfg.seed}: no generations run -> {self.path}"
        last = g.iloc[-1]
        state = "interrupted at" if self.interrupted else "finished"
        return (f"{cfg.name} seed {cfg.seed}: {state} generation {int(last.generation)} in {self.wall_s:.1f} s; "
                f"fitness mean {last.fitness_mean:.3f} (max {last.fitness_max:.3f}), training return "
                f"{last.return_mean:.3f}, planner share {last.planner_share:.2f} -> {self.path}")


class _Interrupts:
    """First SIGINT/SIGTERM: finish the generation and checkpoint. Second SIGINT: exit now."""

    def __init__(self):
        self.requested = False
        self._old = {}

    def __enter__(self):
        def handler(signum, frame):
            if self.requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.requested = True
        for s in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[s] = signal.signal(s, handler)
            except ValueError:  # not the main thread (e.g. a Dask worker): no handlers
                pass
        return self

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


def run_experiment(cfg: Config, out: str | Path | None = None, mode: str = "new", progress: bool = True,
                   log=print, on_generation=None, faults=None) -> RunResult:
    """Run ``cfg`` into ``out`` (default ``runs/out/<name>__seed<k>``). mode: new, overwrite or resume.

    ``on_generation(model)`` is called after each generation (e.g. to watch memory). Problems
    writing the directory (disk full, permissions) raise ``RunError``; the last checkpoint stays
    intact and ``mode="resume"`` continues from it. ``faults`` (tests only): a callable
    ``faults(point)`` called at ``generation`` (after each generation is evaluated) and at the
    store's points (``evosim.store.writer``); default none.
    """
    t0 = time.perf_counter()
    path = Path(out) if out is not None else default_run_dir(cfg)
    writer = RunWriter(path, cfg, faults=faults)
    writer.create(mode)
    try:
        return _run(cfg, writer, mode, progress, log, on_generation, t0)
    except OSError as e:
        where = e.filename if e.filename else path
        raise RunError(f"{path}: cannot write {where}: {e.strerror or e}; {writer.last_checkpoint()}: "
                       f"fix the problem, then continue with --resume") from e
    finally:
        writer.close()


def _run(cfg: Config, writer: RunWriter, mode: str, progress: bool, log, on_generation, t0: float) -> RunResult:
    path = writer.dir
    state = prior_gen = pending = None
    if mode == "resume" and writer.manifest.get("status") == "complete":
        gens = writer.rd.read_table("generations")
        return RunResult(path, gens, False, ["run already complete; nothing to do"], 0.0)
    if mode == "resume":
        state, prior_gen, pending = writer.resume_point()
    notes = list(writer.notes)
    for n in notes:
        log(f"note: {n}")
    model = EvolutionModel(cfg, state=state, pending_rows=pending)
    total, k = cfg.evolution.generations, cfg.evolution.checkpoint_every
    done0 = 0 if state is None else int(state["generation"]) + 1

    def generations_table():
        gens = model.generations_table()
        return gens if prior_gen is None else pd.concat([prior_gen, gens], ignore_index=True)

    def write_parts():
        # organism rows since the last part, and this generation's genomes; then forget them
        rows = model.drain_organism_rows()
        g0, g1 = int(rows["generation"].iloc[0]), int(model.generation)
        writer.write_part(organisms_part(g0, g1), rows)
        writer.write_part(genomes_part(g1), model.genomes_table())

    interrupted = False
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, initial=done0, desc=f"{cfg.name} seed {cfg.seed}", unit="gen", leave=False)
    try:
        with _Interrupts() as intr:
            for gen in range(done0, total):
                model.step()
                writer.faults("generation")
                if on_generation is not None:
                    on_generation(model)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(fitness=f"{model.stats['fitness_mean']:.3f}",
                                    planners=f"{model.stats['planner_share']:.2f}")
                final = gen == total - 1
                due = gen % k == 0
                if cfg.evolution.keep_all_genomes and not (due or final):
                    # every generation's genomes (lineages); due and final generations are written below
                    writer.write_part(genomes_part(model.generation), model.genomes_table())
                if due or final:
                    write_parts()
                if final:
                    break
                if due or intr.requested:
                    rest = model.pending_organism_rows()
                    writer.checkpoint(model.state, generations_table(), rest)
                    if intr.requested:
                        interrupted = True
                        break
    finally:
        if bar is not None:
            bar.close()
    gens = generations_table()
    wall = time.perf_counter() - t0
    if interrupted:
        writer.manifest["status"] = "interrupted"
        writer.manifest["wall_times_s"]["last_session"] = wall
        writer.write_manifest()
        log(f"note: interrupted; checkpoint written after generation {model.generation}: "
            f"continue with --resume")
        return RunResult(path, gens, True, notes, wall)
    prev = writer.manifest["wall_times_s"].get("run", 0.0)
    writer.finish(gens, {"run": prev + wall, "last_session": wall})
    return RunResult(path, gens, False, notes, wall)


__all__ = ["run_experiment", "RunResult", "RunError"]
