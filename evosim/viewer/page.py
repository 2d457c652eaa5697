"""The SolaraViz page of ``evosim view`` (Solara imports this module as its app).

The run directory and the initial selection come from the environment that
``evosim.viewer.server.serve`` sets (``EVOSIM_VIEW_RUN``, ``EVOSIM_VIEW_INITIAL``); to embed
the page elsewhere (a notebook, ``solara run``), call ``make_page(run_dir)``.
"""
from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")

import solara  # noqa: E402
from mesa.visualization import SolaraViz  # noqa: E402

from evosim.constants import Interaction  # noqa: E402
from evosim.schema import DISTRIBUTIONS  # noqa: E402
from evosim.viewer.data import ARCH_FILTERS, CLASSES, open_run  # noqa: E402
from evosim.viewer.model import EpisodeReplay  # noqa: E402
from evosim.viewer.panels import (  # noqa: E402
    classes_figure, contrast_figure, grid_figure, history_figure, lineage_figure, objectives_figure,
)


def model_params(run_dir: str, initial: dict | None = None) -> dict:
    """SolaraViz inputs: which generation, organism, distribution and episode to replay."""
    d = open_run(run_dir)
    ini = dict(initial or {})
    outcomes = ["any"] + ([f"{c} ({dist})" for dist in DISTRIBUTIONS for c in CLASSES] if d.has_report else [])
    population = int(d.run.organisms.groupby("generation").size().max())
    return {
        "run_dir": run_dir,
        "generation": {"type": "Select", "value": int(ini.get("generation", d.generations_saved[-1])),
                       "values": d.generations_saved, "label": "Generation (saved genomes)"},
        "architecture": {"type": "Select", "value": ini.get("architecture", "any"), "values": list(ARCH_FILTERS),
                         "label": "Architecture"},
        "outcome": {"type": "Select", "value": ini.get("outcome", "any"), "values": outcomes,
                    "label": "Outcome class" if d.has_report else "Outcome class (run `evosim report`)"},
        "rank": {"type": "SliderInt", "value": int(ini.get("rank", 1)), "min": 1, "max": population, "step": 1,
                 "label": "Fitness rank among matches"},
        "organism_id": {"type": "InputText", "value": str(ini.get("organism_id", "")),
                        "label": "Organism id (overrides the filters)"},
        "distribution": {"type": "Select", "value": ini.get("distribution", "train"), "values": list(DISTRIBUTIONS),
                         "label": "Layout distribution"},
        "episode": {"type": "SliderInt", "value": int(ini.get("episode", 0)), "min": 0, "max": d.episodes - 1,
                    "step": 1, "label": "Held-out layout (probe episode)"},
    }


def _initial_model(params: dict) -> EpisodeReplay:
    kw = {k: (v["value"] if isinstance(v, dict) else v) for k, v in params.items()}
    return EpisodeReplay(**kw)


def organism_card(model: EpisodeReplay):
    """Who is shown, and the best organisms matching the filters."""
    o = model.organism
    lines = []
    if o is None:
        lines.append(f"**{model.message}**")
    else:
        rp = model.replay
        cls = ", ".join(f"{d}: {o.get(f'class_{d}')}" for d in DISTRIBUTIONS if isinstance(o.get(f"class_{d}"), str))
        lines.append(f"**Organism {int(o['organism_id'])}** · {o['architecture']} · fitness {float(o['fitness']):+.3f} · "
                     f"parents {int(o['parent_a'])}, {int(o['parent_b'])}")
        lines.append(f"Outcome classes: {cls}" if cls else "Outcome classes: run `evosim report` for them")
        lines.append(f"Episode: {rp.distribution} layout {rp.episode}, {rp.steps} steps, return {rp.ret:+.2f}, "
                     f"proxy {rp.proxy:+.2f}")
        held = f" · keys held: {rp.inventory_at(model.t)}" if (rp.kind_inter == Interaction.PICKED_UP).any() else ""
        lines.append(f"Replay step: {model.t} of {rp.steps}{held}")
        if model.plan:
            names = model.data.kind_names
            lines.append("Plan now: " + " → ".join(f"{names[int(rp.obj_kind[p])]}" for p in model.plan))
    lines.append(f"{model.matching} organisms match the filters" + (", best first:" if len(model.matches) else "."))
    text = "\n\n".join(lines)
    if len(model.matches):
        rows = ["| rank | organism | architecture | fitness | class (train / shift) |", "|---:|---:|---|---:|---|"]
        shown = None if o is None else int(o["organism_id"])
        for i, r in enumerate(model.matches.head(5).itertuples(index=False), start=1):
            cls = " / ".join(v if isinstance(v := getattr(r, f"class_{d}", None), str) else "–" for d in ("train", "shift"))
            mark = "**" if int(r.organism_id) == shown else ""
            rows.append(f"| {i} | {mark}{int(r.organism_id)}{mark} | {r.architecture} | {float(r.fitness):+.3f} | {cls} |")
        text += "\n\n" + "\n".join(rows)
    return solara.Markdown(text)


def _figure(draw, per_step: bool = False):
    """A panel as a component. Panels that do not change as the episode plays are drawn once
    per model (Reset makes a new one) and their PNG is reused while stepping."""
    def component(model):
        if per_step:
            return solara.FigureMatplotlib(draw(model), format="png")
        cache = model.__dict__.setdefault("_panel_cache", {})
        if draw.__name__ not in cache:
            cache[draw.__name__] = draw(model)
        return solara.FigureMatplotlib(cache[draw.__name__], dependencies=[model], format="png")  # the memo holds the model: no id reuse

    component.__name__ = draw.__name__
    return component


def make_page(run_dir: str, initial: dict | None = None):
    """The SolaraViz element for a run directory (build it inside a Solara component)."""
    params, model = solara.use_memo(lambda: _params_and_model(run_dir, initial), [run_dir])
    components = [_figure(grid_figure, per_step=True), organism_card, _figure(contrast_figure),
                  _figure(objectives_figure), _figure(history_figure), _figure(classes_figure), _figure(lineage_figure)]
    name = f"evosim · {model.data.path.name} · {model.data.cfg.world.name}"
    return SolaraViz(model, components=components, model_params=params, name=name, play_interval=150)


def _params_and_model(run_dir: str, initial: dict | None):
    params = model_params(run_dir, initial)
    return params, _initial_model(params)


@solara.component
def Page():
    run_dir = os.environ.get("EVOSIM_VIEW_RUN", "")
    initial = json.loads(os.environ.get("EVOSIM_VIEW_INITIAL", "{}") or "{}")
    return make_page(run_dir, initial)


page = Page
