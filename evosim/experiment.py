"""Run an experiment end to end into a run directory: the loop behind ``evosim run``.

Checkpoints are written every ``evolution.checkpoint_every`` generations and when the run
is interrupted (SIGINT/SIGTERM: the current generation finishes first; a second Ctrl-C
exits at once). Because every random number derives from (seed, stream, generation), a
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
from evosim.store import RunError, RunWriter, default_run_dir, latest_valid_checkpoint, read_state


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


def _genome_rows_due(model: EvolutionModel, final: bool) -> bool:
    k = model.config.evolution.checkpoint_every
    return final or model.generation % k == 0


def run_experiment(cfg: Config, out: str | Path | None = None, mode: str = "new", progress: bool = True,
                   log=print) -> RunResult:
    """Run ``cfg`` into ``out`` (default ``runs/out/<name>__seed<k>``). mode: new, overwrite or resume."""
    t0 = time.perf_counter()
    path = Path(out) if out is not None else default_run_dir(cfg)
    writer = RunWriter(path, cfg)
    writer.create(mode)
    notes = []
    if writer.lock.warning:
        notes.append(writer.lock.warning)
    prior_gen = prior_org = prior_genomes = None
    state = None
    if mode == "resume":
        if writer.manifest.get("status") == "complete":
            writer.lock.release()
            gens = pd.read_parquet(path / "generations.parquet")
            return RunResult(path, gens, False, ["run already complete; nothing to do"], 0.0)
        ckpt, skipped = latest_valid_checkpoint(path, writer.manifest)
        notes += skipped
        if ckpt is not None:
            state = read_state(ckpt)
            prior_gen = pd.read_parquet(ckpt / "generations.parquet")
            prior_org = pd.read_parquet(ckpt / "organisms.parquet")
            prior_genomes = pd.read_parquet(ckpt / "genomes.parquet")
            notes.append(f"resuming after generation {int(state['generation'])} from {ckpt.name}")
        else:
            notes.append("no valid checkpoint; starting from generation 0")
    for n in notes:
        log(f"note: {n}")
    model = EvolutionModel(cfg, state=state)
    total = cfg.evolution.generations
    done0 = 0 if state is None else int(state["generation"]) + 1
    genome_parts = [] if prior_genomes is None else [prior_genomes]
    interrupted = False

    def tables():
        gens = model.generations_table()
        orgs = model.organisms_table()
        if prior_gen is not None:
            gens = pd.concat([prior_gen, gens], ignore_index=True)
            orgs = pd.concat([prior_org, orgs], ignore_index=True)
        genomes = pd.concat(genome_parts, ignore_index=True) if genome_parts else pd.DataFrame()
        return gens, orgs, genomes

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, initial=done0, desc=f"{cfg.name} seed {cfg.seed}", unit="gen", leave=False)
    try:
        with _Interrupts() as intr:
            for gen in range(done0, total):
                model.step()
                final = gen == total - 1
                if _genome_rows_due(model, final):
                    genome_parts.append(model.genomes_table())
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(fitness=f"{model.stats['fitness_mean']:.3f}",
                                    planners=f"{model.stats['planner_share']:.2f}")
                if intr.requested and not final:
                    writer.checkpoint(model, *tables())
                    interrupted = True
                    break
                if not final and gen % cfg.evolution.checkpoint_every == 0:
                    writer.checkpoint(model, *tables())
    finally:
        if bar is not None:
            bar.close()
    gens, orgs, genomes = tables()
    wall = time.perf_counter() - t0
    if interrupted:
        writer.manifest["generations_done"] = int(model.generation) + 1
        writer.manifest["status"] = "interrupted"
        writer.manifest["wall_times_s"]["last_session"] = wall
        writer.write_manifest()
        writer.lock.release()
        return RunResult(path, gens, True, notes, wall)
    writer.write_tables(gens, orgs, genomes)
    writer.manifest["generations_done"] = total
    prev = writer.manifest["wall_times_s"].get("run", 0.0)
    writer.finish({"run": prev + wall, "last_session": wall})
    return RunResult(path, gens, False, notes, wall)


__all__ = ["run_experiment", "RunResult", "RunError"]
