"""Every registered architecture (``evosim.architectures.ARCHITECTURES``), checked from the registry alone:
a fifth architecture added to the registry is covered here without new test code.

For each: its genomes decode to its code; its episode loop in the kernels equals its naive twin trajectory
by trajectory on random states in every world; the config accepts it in ``initial_shares``; a run's tables
carry its share and mean fitness columns and its category; it has a colour and a label of its own; the
viewer lists it (architecture filter) and draws its ancestors in the lineage panel.
"""
from __future__ import annotations

import re
from types import SimpleNamespace

from evosim.reference import naive
import numpy as np
import pandas as pd
import pytest

from evosim import architectures as registry
from evosim import genome as gn
from evosim.config import ARCHITECTURE_NAMES, WorldConfig, load_config, replace
from evosim.constants import MAX_DEPTH
from evosim.kernels import EpisodeSpec, rollout
from evosim.schema import ARCHITECTURES as SCHEMA_ARCHITECTURES
from evosim.schema import CLASS_COLOURS, architectures
from evosim.worlds import WORLDS

ARCHS = registry.ARCHITECTURES
IDS = [a.name for a in ARCHS]
FIELDS = ("ret", "proxy", "steps", "plans", "work", "reach", "trace")


def _genomes(arch, rng, n):
    """``n`` random genomes expressing ``arch``, depth genes cycling through every depth, iteration genes through
    0..4 (the default bounds are 0..8), wide genes."""
    g = gn.random_population(rng, n, 0.5, sigma=2.0, min_depth=0, rng_memo=rng, memoriser_share=0.5, rng_net=rng,
                             network_share=0.5)
    g[:, gn.P_DEPTH] = np.arange(n) % (MAX_DEPTH + 1) + rng.uniform(-0.45, 0.45, n)
    g[:, gn.N_ITER] = np.arange(n) % 5 + rng.uniform(-0.45, 0.45, n)
    return arch.express(g)


def test_registry_is_in_code_order_and_agrees_with_its_readers():
    assert [a.code for a in ARCHS] == list(range(len(ARCHS)))
    assert registry.NAMES == tuple(IDS) == ARCHITECTURE_NAMES == SCHEMA_ARCHITECTURES
    for a in ARCHS:
        assert registry.get(a.name) is a and registry.by_code(a.code) is a
    with pytest.raises(KeyError, match="unknown architecture 'netwrok'"):
        registry.get("netwrok")


@pytest.mark.parametrize("arch", ARCHS, ids=IDS)
def test_genomes_express_it_and_its_description_length(arch):
    rng = np.random.default_rng(arch.code)
    g = _genomes(arch, rng, 20)
    assert (gn.architecture(g) == arch.code).all()
    for nf, steps in ((2, 30), (4, 200)):
        assert (gn.expressed_genes(g, nf, steps) == arch.expressed(nf, steps)).all()
    assert callable(arch.episode_loop()) and callable(arch.naive_twin()) and callable(arch.initialiser())
    assert arch.block.stop <= gn.N_GENES


@pytest.mark.parametrize("world_name", sorted(WORLDS))
@pytest.mark.parametrize("arch", ARCHS, ids=IDS)
def test_kernel_equals_naive_twin(arch, world_name):
    """Kernel vs naive twin, every field of every episode, for genomes of this architecture on random
    layouts of every world (both heuristic signals, both minimum depths)."""
    rng = np.random.default_rng([arch.code, len(world_name)])
    world = WORLDS[world_name](WorldConfig(name=world_name))
    lay = world.sample(rng, "train", 3)
    g = _genomes(arch, rng, 8)
    for signal, min_depth in (("path", 0), ("compass", 1)):
        spec = EpisodeSpec.from_config(replace(load_config("runs/red_door.toml"), **{
            "organisms.heuristic_signal": signal, "organisms.min_depth": min_depth}), world, max_steps=40)
        args = (g, lay, np.array([0, 1, 2, 0]), 7, 1, 2, np.arange(10, 18), spec)
        k, t = rollout(*args, record=True), naive.rollout(*args, record=True)
        for f in FIELDS:
            assert np.array_equal(getattr(k, f), getattr(t, f)), f"{arch.name} on {world_name} ({signal}): {f}"
        assert k.steps.sum() > 0


def test_episode_spec_from_config():
    cfg = load_config("runs/keys_chests.toml")
    world = WORLDS[cfg.world.name](cfg.world)
    spec = EpisodeSpec.from_config(cfg, world)
    assert (spec.table is world.table and spec.n_features == len(world.features)
            and spec.max_depth == cfg.organisms.max_depth and spec.max_steps == cfg.world.max_steps
            and spec.heuristic_signal == cfg.organisms.heuristic_signal and spec.min_depth == cfg.organisms.min_depth)
    assert np.array_equal(spec.radius, world.radius)
    assert EpisodeSpec.from_config(cfg, world, max_steps=7).max_steps == 7


def test_run_tables_carry_every_architecture():
    """A run starting with every architecture: each one's category, share and mean fitness columns."""
    from evosim.model import EvolutionModel

    shares = {a.name: 1.0 / len(ARCHS) for a in ARCHS}
    shares[ARCHS[0].name] += 1.0 - sum(shares.values())
    cfg = replace(load_config("runs/red_door.toml"), **{
        "evolution.population": 3 * len(ARCHS) * 2, "evolution.generations": 2, "evolution.episodes": 2,
        "organisms.initial_shares": shares})
    m = EvolutionModel(cfg, rng=1)
    m.step()
    gens, org = m.generations_table(), m.organisms_table()
    assert list(org["architecture"].cat.categories) == list(architectures(True)) == IDS
    present = set(org["architecture"].astype(str))
    for a in ARCHS:
        assert a.name in present
        for col in (f"{a.name}_share", f"{a.name}_fitness_mean", *a.stats):
            assert col in gens.columns, col
    assert np.isclose(sum(gens[f"{a.name}_share"].iloc[0] for a in ARCHS), 1.0)


def test_colours_and_labels():
    hexcol = re.compile(r"^#[0-9a-f]{6}$")
    colours = [a.colour for a in ARCHS]
    assert all(hexcol.match(c) for c in colours) and len(set(colours)) == len(colours)
    assert not set(colours) & set(CLASS_COLOURS.values())
    assert all(a.label and a.description for a in ARCHS)
    from evosim import figures

    assert figures.ARCH_COLORS == registry.COLOURS and figures.CLASS_COLORS == CLASS_COLOURS


def test_viewer_lists_and_draws_every_architecture():
    from evosim.viewer import panels
    from evosim.viewer.data import ARCH_FILTERS

    assert set(IDS) <= set(ARCH_FILTERS)
    lin = pd.DataFrame({"generation": np.arange(len(ARCHS))[::-1], "organism_id": np.arange(len(ARCHS)),
                        "architecture": IDS, "fitness": np.linspace(0, 1, len(ARCHS)),
                        "parent_b": -np.ones(len(ARCHS), dtype=np.int64)})
    model = SimpleNamespace(organism={"organism_id": 0}, message="", data=SimpleNamespace(lineage=lambda oid: lin))
    fig = panels.lineage_figure(model)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == sorted(a.label for a in ARCHS)
    drawn = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in ax.collections}
    from matplotlib.colors import to_rgb

    assert {tuple(np.round(to_rgb(a.colour), 3)) for a in ARCHS} <= drawn


def test_old_genomes_upgrade_in_one_place():
    """Genomes written before the memoriser block (CORE_GENES columns) load with it switched off, the same
    in the GA (checkpoints) as in the store (tables): memoriser gene -1, plan genes 0, core unchanged."""
    from evosim import ga

    rng = np.random.default_rng(5)
    old = gn.random_core(rng, 12, 0.5)
    new = gn.upgrade(old)
    assert new.shape == (12, gn.N_GENES) and np.array_equal(new[:, :gn.CORE_GENES], old)
    assert (new[:, gn.M_ARCH] == -1.0).all() and (new[:, gn.M_PLAN] == 0.0).all()
    assert np.array_equal(gn.architecture(new), gn.architecture(old))
    assert gn.upgrade(new) is new
    with pytest.raises(ValueError, match="genomes have 5 genes"):
        gn.upgrade(old[:, :5])
    cfg = replace(load_config("runs/red_door.toml"), **{"evolution.population": 12})
    state = ga.GAState(old, np.full((12, 2), -1, dtype=np.int64), None, 0)
    assert np.array_equal(ga.GA(cfg, state=state).state.genomes, new)
