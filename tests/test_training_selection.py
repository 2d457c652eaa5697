"""Regret-based training selection (``world.training_selection = "regret"``): what it plays, what it never
reads, determinism, resume, and bad values."""
from __future__ import annotations

import numpy as np
import pytest

from evosim import ga, worlds
from evosim.cli import main
from evosim.config import load_config, replace, to_dict
from evosim.experiment import run_experiment
from evosim.probe.sets import oracle_returns, reference_genomes
from evosim.worlds.base import World

from conftest import RUNS

SMALL = {"evolution.population": 24, "evolution.generations": 5, "evolution.episodes": 4,
         "evolution.checkpoint_every": 2}


def _cfg(**extra):
    return load_config(RUNS / "quickstart.toml", {**SMALL, **extra})


def test_uniform_default_writes_the_config_as_before():
    """At the default (uniform) the new settings are not written: config.toml, the resume check and sweep
    cell hashes of every existing experiment are unchanged; under regret both are written."""
    d = to_dict(_cfg())
    assert "training_selection" not in d["world"] and "regret_pool" not in d["world"]
    r = to_dict(_cfg(**{"world.training_selection": "regret", "world.regret_pool": 3}))
    assert r["world"]["training_selection"] == "regret" and r["world"]["regret_pool"] == 3


def test_regret_never_samples_shift_layouts(monkeypatch):
    """Every layout a regret-selecting run draws (candidates included) comes from the training distribution
    or, at the break rate, from control: the world's sampler is instrumented by distribution. Fails if the
    selection ever drew (or scored) a shift, balanced-shift or probe layout."""
    from evosim.model import EvolutionModel

    seen = []
    orig = World.sample

    def spy(self, rng, distribution, n, decision=False):
        seen.append((distribution, n, decision))
        return orig(self, rng, distribution, n, decision)

    monkeypatch.setattr(World, "sample", spy)
    cfg = _cfg(**{"world.training_selection": "regret", "world.regret_pool": 3, "world.proxy_break_rate": 0.3})
    m = EvolutionModel(cfg)
    for _ in range(3):
        m.step()
    dists = {d for d, _n, _dec in seen}
    assert dists == {"train", "control"}, dists  # both drawn at break rate 0.3 over 3 x 12 candidates
    assert not any(dec for _d, _n, dec in seen)
    assert sum(n for _d, n, _dec in seen) == 3 * 3 * 4  # regret_pool x episodes per generation, nothing else


def test_regret_keeps_the_highest_regret_episodes():
    """The kept episodes are those where the exact oracle's return minus the population's mean return is
    highest; the records and fitness are the full candidate rollout's restricted to them."""
    cfg = _cfg(**{"world.training_selection": "regret", "world.regret_pool": 4, "world.proxy_break_rate": 0.5})
    w = worlds.make(cfg.world)
    state = ga.initial_state(cfg)
    ev = ga.evaluate(cfg, w, state)
    lay, idx = ga.training_layouts(cfg, w, 0)
    assert len(idx) == 16 and ev.records.ret.shape == (24, 4)
    uniform = replace(cfg, **{"world.training_selection": "uniform", "evolution.episodes": 16})
    full = ga.evaluate(uniform, w, state)  # the same 16 candidate episodes, all kept
    assert np.array_equal(ga.training_layouts(uniform, w, 0)[0].walls, lay.walls)
    oracle, _ = oracle_returns(lay.take(idx), w.table, cfg.world.max_steps)
    regret = oracle - full.records.ret.mean(axis=0)
    np.testing.assert_array_equal(ev.regret, regret)
    keep = ev.selected
    assert len(keep) == 4 and np.all(np.diff(keep) > 0)
    assert regret[keep].min() >= np.delete(regret, keep).max()
    np.testing.assert_array_equal(ev.records.ret, full.records.ret[:, keep])
    np.testing.assert_array_equal(ev.fitness, full.records.ret[:, keep].mean(axis=1)
                                  - cfg.organisms.planning_cost * full.records.work[:, keep].mean(axis=1))


def test_regret_picks_the_layouts_where_the_proxy_is_broken():
    """A population that pursues red (the proxy reference planner) fails where the proxy is broken (a blue
    door, or red balls beside the door): regret selection over-samples those layouts, and its regret is
    higher there. Fails if the score ignored the population's return or the oracle (then the kept episodes
    would be the candidates' first, or drawn without regard to what the population does)."""
    cfg = load_config(RUNS / "red_door.toml", {"evolution.population": 8, "evolution.episodes": 6,
                                               "world.training_selection": "regret", "world.regret_pool": 10,
                                               "world.proxy_break_rate": 0.2})
    w = worlds.make(cfg.world)
    g = np.repeat(reference_genomes(w, cfg.organisms.max_depth)[1:], 8, axis=0)
    state = ga.GAState(g, np.full((8, 2), -1), None, 0)
    lay, idx = ga.training_layouts(cfg, w, 0)
    kinds = lay.take(idx).obj_kind
    broken = ((kinds == w.kind_index("blue_door")) | (kinds == w.kind_index("red_ball"))).any(axis=1)
    ev = ga.evaluate(cfg, w, state)
    assert 0 < broken.sum() < 20  # both kinds among the 60 candidates
    assert ev.regret[broken].mean() > ev.regret[~broken].mean() + 0.3
    assert broken[ev.selected].mean() > 2 * broken.mean(), (broken[ev.selected], broken.mean())


@pytest.mark.parametrize("bad, needles", [
    ("world.training_selection=regrett", ["world.training_selection = 'regrett'", "'uniform', 'regret'",
                                          "did you mean 'regret'"]),
    ("world.regret_pool=1", ["world.regret_pool = 1", "out of range", "2 <= value <= 1000"]),
    ("world.regret_pool=2.5", ["world.regret_pool = 2.5", "expected an integer"]),
])
def test_bad_values_exit_2_with_one_line(bad, needles, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["run", str(RUNS / "quickstart.toml"), "--quiet", "--out", str(out), "--set", bad])
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evosim: error: "), err
    for n in needles:
        assert n in err, f"{n!r} not in {err!r}"
    assert not out.exists()


def test_regret_run_is_deterministic_and_resumes_byte_identical(tmp_path, faults):
    """A regret-selecting run interrupted after its generation-2 checkpoint and resumed equals the
    uninterrupted run byte for byte (regret selection keeps no state beyond the population); it differs
    from the uniform run of the same seed."""
    cfg = _cfg(**{"world.training_selection": "regret", "world.regret_pool": 3, "world.proxy_break_rate": 0.2})
    a, b = tmp_path / "a", tmp_path / "b"
    run_experiment(cfg, a, progress=False, log=lambda m: None)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, b, progress=False, log=lambda m: None, faults=faults("generation@4:keyboard"))
    assert not (b / "generations.parquet").exists()
    run_experiment(cfg, b, mode="resume", progress=False, log=lambda m: None)
    for t in ("generations", "organisms", "genomes"):
        assert (a / f"{t}.parquet").read_bytes() == (b / f"{t}.parquet").read_bytes(), t
    uni = _cfg(**{"world.proxy_break_rate": 0.2})
    c = tmp_path / "c"
    run_experiment(uni, c, progress=False, log=lambda m: None)
    assert (a / "generations.parquet").read_bytes() != (c / "generations.parquet").read_bytes()
