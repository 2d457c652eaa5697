"""``EpisodeReplay``: a Mesa model whose ``step()`` advances one replayed episode by one step.

The page's controls (SolaraViz's Reset / Play / Step and its model parameters) drive it like
any Mesa model: the parameters pick a generation, an organism (by fitness rank among those
matching the architecture and outcome-class filters, or directly by id), a distribution and
an episode; Reset builds a new replay from them.
"""
from __future__ import annotations

import mesa
import pandas as pd

from evosim.viewer.data import Replay, ViewerError, open_run


class EpisodeReplay(mesa.Model):
    """One organism's episode from a run directory, one step per ``step()``.

    Attributes for the page: ``data`` (the run), ``organism`` (its row, or None if no organism
    matches the filters), ``replay`` (the episode), ``t`` (steps shown), ``matches`` (the
    organisms matching the filters, best first) and ``matching`` (how many), ``message`` (why
    nothing is shown, if so).
    """

    def __init__(self, run_dir: str = "", generation: int | None = None, architecture: str = "any",
                 outcome: str = "any", rank: int = 1, organism_id: str = "", distribution: str = "train",
                 episode: int = 0, rng=None):
        super().__init__(rng=rng)  # the replay draws nothing: its numbers come from the run's seed
        self.data = open_run(str(run_dir))
        d = self.data
        self.generation = d.generations_saved[-1] if generation is None else int(generation)
        self.distribution = distribution
        self.episode = int(episode)
        self.t = 0
        self.replay: Replay | None = None
        self.organism: pd.Series | None = None
        self.message = ""
        self.running = True
        self.matches = pd.DataFrame()
        text = str(organism_id).strip()
        if text:
            try:
                oid = int(text)
            except ValueError:
                raise ViewerError(f"organism id {text!r}: expected an integer (see organisms.parquet)") from None
            rows = d.organisms(self.generation)
            rows = rows[rows["organism_id"] == oid]
            self.matching = len(rows)
            if rows.empty:
                self.message = f"organism {oid} is not in generation {self.generation}"
        else:
            rows = d.select(self.generation, architecture, outcome)
            self.matches = rows
            self.matching = len(rows)
            if rows.empty:
                why = " (no report: run `evosim report` for outcome classes)" if outcome != "any" and not d.has_report else ""
                self.message = f"no organism of generation {self.generation} matches {architecture} / {outcome}{why}"
            else:
                rows = rows.iloc[[min(max(int(rank), 1), len(rows)) - 1]]
        if not rows.empty:
            self.organism = rows.iloc[0]
            self.replay = d.replay(self.generation, int(self.organism["organism_id"]), distribution, self.episode)
        self.running = self.replay is not None and self.replay.steps > 0

    def step(self) -> None:
        if self.replay is None or self.t >= self.replay.steps:
            self.running = False
            return
        self.t += 1
        self.running = self.t < self.replay.steps

    # -- what the page reads -------------------------------------------------------------
    @property
    def position(self) -> tuple[int, int] | None:
        if self.replay is None:
            return None
        y, x = self.replay.cells[self.t]
        return int(y), int(x)

    @property
    def plan(self) -> list[int]:
        """Object ids of the plan the organism follows from the current step (planners; [] otherwise)."""
        if self.replay is None or self.t >= self.replay.steps:
            return []
        return [int(o) for o in self.replay.plans[self.t] if o >= 0]


__all__ = ["EpisodeReplay"]
