"""Selection against drift: the selection differential on the cue preference, the initial cue bias
(``organisms.init_bias``), fitness-blind reproduction (``evolution.neutral``) and single-architecture arms
(``arch_flip_rate = 0``)."""
from __future__ import annotations

import numpy as np
import pytest

from evosim import ga
from evosim import genome as gn
from evosim.config import load_config, replace, to_dict
from evosim.constants import STREAM_GA, STREAM_GA_MEMO, Arch
from evosim.model import SELECTION_COLUMNS, EvolutionModel, selection_stats

from conftest import RUNS

PROXY, TRUE = 0, 2  # red_door: features (red, green, door); proxy cue red, true cue door


def red_door(**over):
    base = {"evolution.population": 16, "evolution.generations": 3, "evolution.episodes": 2}
    return replace(load_config(RUNS / "red_door.toml"), **{**base, **over})


def _direct(z, w):
    """The standardized selection differential computed plainly: cov(z, (w - mean w) / sd w), ddof 0."""
    ws = (w - w.mean()) / w.std()
    return np.cov(z, ws, bias=True)[0, 1]


# -- the selection differential ------------------------------------------------------------------
def test_differential_equals_a_direct_covariance_on_a_hand_built_population():
    """Planners, heuristics and a memoriser with given genomes and (partly negative) fitness."""
    g = np.zeros((7, gn.N_GENES), dtype=np.float32)
    g[:, gn.M_ARCH] = -1.0
    arch = np.array([1, 1, 1, 1, -1, -1, -1], dtype=np.float32)
    g[:, gn.ARCH] = arch
    g[6, gn.M_ARCH] = 1.0  # a memoriser: no preference trait, left out
    u_proxy = np.array([0.5, -1.0, 2.0, 0.0, 9, 9, 9])
    u_true = np.array([1.0, 0.5, -0.5, 0.25, 9, 9, 9])
    h_proxy = np.array([7, 7, 7, 7, 1.5, -0.5, 100.0])
    h_true = np.array([7, 7, 7, 7, 0.0, 1.0, -100.0])
    g[:, gn.P_UTILITY.start + PROXY], g[:, gn.P_UTILITY.start + TRUE] = u_proxy, u_true
    g[:, gn.H_ATTRACT.start + PROXY], g[:, gn.H_ATTRACT.start + TRUE] = h_proxy, h_true
    fit = np.array([-0.3, 0.1, 0.9, -1.2, 0.4, -0.2, 50.0])
    s = selection_stats(g, gn.architecture(g), fit, PROXY, TRUE)
    z_p = (u_proxy - u_true)[:4]
    z_h = (h_proxy - h_true)[4:6]
    assert s["selection_differential_planner"] == pytest.approx(_direct(z_p, fit[:4]), rel=1e-12)
    assert s["selection_differential_heuristic"] == pytest.approx(_direct(z_h, fit[4:6]), rel=1e-12)
    assert s["selection_differential"] == s["selection_differential_planner"]
    assert s["trait_mean_planner"] == pytest.approx(z_p.mean())
    assert s["trait_mean_heuristic"] == pytest.approx(z_h.mean())
    # the trait that rises with fitness has a positive differential; a shift of fitness changes nothing
    assert s["selection_differential_planner"] > 0
    assert selection_stats(g, gn.architecture(g), fit - 10.0, PROXY, TRUE) == pytest.approx(s)
    # one planner: its differential is NaN and the overall one is the heuristics'
    g1 = g.copy()
    g1[1:4, gn.ARCH] = -1.0
    s1 = selection_stats(g1, gn.architecture(g1), fit, PROXY, TRUE)
    assert np.isnan(s1["selection_differential_planner"])
    assert s1["selection_differential"] == s1["selection_differential_heuristic"]
    # fitness that does not vary: nothing to select on
    s0 = selection_stats(g, gn.architecture(g), np.full(7, 0.5), PROXY, TRUE)
    assert s0["selection_differential_planner"] == 0.0 and s0["selection_differential_heuristic"] == 0.0


def test_model_columns_are_the_differential_of_each_generation():
    """The model's columns equal the direct covariance on its own genomes and fitness, with the world's cues."""
    m = EvolutionModel(red_door())
    for _ in range(2):
        m.step()
        g, fit, arch = np.asarray(m.genomes, dtype=np.float64), m.fitness, m.architecture
        pl, he = arch == int(Arch.PLANNER), arch == int(Arch.HEURISTIC)
        z_p = g[:, gn.P_UTILITY.start + PROXY] - g[:, gn.P_UTILITY.start + TRUE]
        z_h = g[:, gn.H_ATTRACT.start + PROXY] - g[:, gn.H_ATTRACT.start + TRUE]
        if pl.sum() >= 2 and fit[pl].std() > 0:
            assert m.stats["selection_differential_planner"] == pytest.approx(_direct(z_p[pl], fit[pl]))
        if he.sum() >= 2 and fit[he].std() > 0:
            assert m.stats["selection_differential_heuristic"] == pytest.approx(_direct(z_h[he], fit[he]))
        if pl.any():
            assert m.stats["trait_mean_planner"] == pytest.approx(z_p[pl].mean())
    gens = m.generations_table()
    assert set(SELECTION_COLUMNS) <= set(gens.columns)


# -- evolution.neutral -----------------------------------------------------------------------------
def _bred_parents(state, ev, seed):
    """Row of each parent (two per child) of the generation bred from ``state``."""
    child = ga.breed(state, ev, seed)
    ids = child.parents[child.parents >= 0]
    return ids - state.generation * state.population, child


def test_neutral_is_blind_to_fitness_and_keeps_no_elites():
    cfg = red_door(**{"evolution.neutral": True, "evolution.population": 30})
    st = ga.initial_state(cfg)
    rng = np.random.default_rng(5)
    fit = rng.normal(size=30)
    a = ga.breed(st.with_fitness(fit), cfg.evolution, cfg.seed)
    b = ga.breed(st.with_fitness(-fit), cfg.evolution, cfg.seed)  # opposite fitness, same children
    assert np.array_equal(a.genomes, b.genomes) and np.array_equal(a.parents, b.parents)
    assert (a.parents[:, 1] >= 0).all()  # no elite copies (an elite has parent_b = -1)
    # with selection the opposite fitness does change the children
    sel = replace(cfg, **{"evolution.neutral": False})
    assert not np.array_equal(ga.breed(st.with_fitness(fit), sel.evolution, cfg.seed).genomes,
                              ga.breed(st.with_fitness(-fit), sel.evolution, cfg.seed).genomes)


def test_neutral_parents_carry_no_selection_on_the_trait():
    """Realised selection: the mean trait of the chosen parents minus the population's, with fitness = the
    trait itself. Tournament selection raises it by far; neutral leaves it at 0 within 4 standard errors
    (the mean over 200 generations of 40 organisms: each difference has sd <= sd(z) / sqrt(40 pairs))."""
    cfg = red_door(**{"evolution.population": 40, "evolution.elitism": 0})
    neu = replace(cfg, **{"evolution.neutral": True})
    st = ga.initial_state(cfg)
    z = gn.preference_trait(st.genomes, PROXY, TRUE)[0]
    diffs = {"neutral": [], "tournament": []}
    for gen in range(200):
        s = ga.GAState(st.genomes, st.parents, z, gen)
        for name, c in (("neutral", neu), ("tournament", cfg)):
            rows, _ = _bred_parents(s, c.evolution, cfg.seed)
            diffs[name].append(z[rows].mean() - z.mean())
    d = np.array(diffs["neutral"])
    se = z.std() / np.sqrt(len(z)) / np.sqrt(len(d))
    assert abs(d.mean()) < 4 * se
    assert np.mean(diffs["tournament"]) > 0.5 * z.std()


def test_selection_differential_is_about_zero_under_neutral():
    """Under neutral reproduction in red_door training (red and door are one object, so fitness sees only
    u_red + u_door) the differential of 24 seeds x 3 generations of 16 organisms averages 0 within 4
    standard errors of the mean (the spread between runs)."""
    vals = []
    for seed in range(24):
        m = EvolutionModel(red_door(**{"evolution.neutral": True, "seed": seed}))
        for _ in range(3):
            m.step()
        vals.extend(m.generations_table()["selection_differential"].dropna().tolist())
    v = np.array(vals)
    assert len(v) >= 60
    assert abs(v.mean()) < 4 * v.std(ddof=1) / np.sqrt(len(v))


# -- organisms.init_bias ---------------------------------------------------------------------------
def test_init_bias_zero_changes_nothing():
    cfg = red_door(**{"evolution.population": 50})
    st = ga.initial_state(cfg)
    zero = ga.initial_state(replace(cfg, **{"organisms.init_bias": 0.0}))
    assert np.array_equal(st.genomes, zero.genomes)
    # generation 0 exactly as drawn before the setting existed
    org = cfg.organisms
    direct = gn.random_population(np.random.default_rng([cfg.seed, STREAM_GA, 2**32 - 1]), 50,
                                  org.initial_planner_share, org.init_sigma, org.min_depth,
                                  np.random.default_rng([cfg.seed, STREAM_GA_MEMO, 2**32 - 1]), 0.0)
    assert np.array_equal(st.genomes, direct)
    assert "init_bias" not in to_dict(cfg)["organisms"] and "neutral" not in to_dict(cfg)["evolution"]


@pytest.mark.parametrize("world", ["red_door", "keys_chests"])
def test_init_bias_shifts_the_generation_0_trait_by_two_b(world):
    from evosim.worlds import WORLDS

    w = WORLDS[world]
    proxy, true = w.features.index(w.proxy_feature), w.features.index(w.true_feature)
    b, n = 0.75, 4000
    cfg = replace(load_config(RUNS / f"{world}.toml"), **{"evolution.population": n})
    base = ga.initial_state(cfg).genomes
    biased = ga.initial_state(replace(cfg, **{"organisms.init_bias": b})).genomes
    # the same draws, shifted on the two cue channels only
    shift = np.zeros(gn.N_GENES)
    for block in (gn.P_UTILITY, gn.H_ATTRACT):
        shift[block.start + proxy], shift[block.start + true] = b, -b
    np.testing.assert_allclose(biased, base + shift, atol=1e-6)
    # trait means: 2b above the prior's 0, within 4 standard errors (sd of z = sqrt(2) * init_sigma)
    arch = gn.architecture(biased)
    for z, mine in zip(gn.preference_trait(biased, proxy, true), (arch == int(Arch.PLANNER), arch == int(Arch.HEURISTIC))):
        se = np.sqrt(2) * cfg.organisms.init_sigma / np.sqrt(mine.sum())
        assert abs(z[mine].mean() - 2 * b) < 4 * se


def test_init_bias_is_in_the_model_generation_0():
    m = EvolutionModel(red_door(**{"organisms.init_bias": 2.0, "evolution.population": 60}))
    m.step()
    assert m.stats["trait_mean_planner"] > 2.0 and m.stats["trait_mean_heuristic"] > 2.0


# -- architecture-fixed arms -----------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["heuristic", "planner", "memoriser"])
def test_fixed_arm_never_produces_another_architecture(arch):
    """One architecture at share 1 and arch_flip_rate 0: 60 generations bred on random fitness (mutation of the
    architecture genes would otherwise carry some organisms across 0), then a short evolved run."""
    cfg = replace(load_config(RUNS / "red_door.toml"), **{
        "organisms.initial_shares": {arch: 1.0}, "evolution.arch_flip_rate": 0.0, "evolution.population": 40,
        "evolution.mutation_rate": 1.0, "evolution.mutation_sigma": 0.5})
    code = int(getattr(Arch, arch.upper()))
    from evosim.config import memorisers_enabled

    st = ga.initial_state(cfg)
    rng = np.random.default_rng(0)
    for _ in range(60):
        assert (gn.architecture(st.genomes) == code).all()
        st = ga.breed(st.with_fitness(rng.normal(size=40)), cfg.evolution, cfg.seed,
                      memorisers_enabled(cfg.organisms))
    assert (gn.architecture(st.genomes) == code).all()
    m = EvolutionModel(replace(cfg, **{"evolution.population": 12, "evolution.generations": 3,
                                       "evolution.episodes": 2}))
    for _ in range(3):
        m.step()
    assert set(m.organisms_table()["architecture"].astype(str)) == {arch}


# -- runs written before the selection columns -----------------------------------------------------
def test_a_run_without_the_selection_columns_still_loads_and_reports(tmp_path):
    """A run directory whose generations.parquet lacks the columns (as every run written before them) loads
    with them NaN and reports."""
    import pandas as pd

    from evosim.experiment import run_experiment
    from evosim.report import report_run
    from evosim.schema import SELECTION_COLUMNS as COLS
    from evosim.store import load_run

    cfg = red_door(**{"evolution.population": 12, "evolution.generations": 2, "probe.episodes": 4,
                      "probe.decision_episodes": 2, "probe.random_rollouts": 2})
    run_experiment(cfg, tmp_path / "old", mode="new", progress=False)
    f = tmp_path / "old" / "generations.parquet"
    gens = pd.read_parquet(f)
    assert set(COLS) <= set(gens.columns)
    gens.drop(columns=list(COLS)).to_parquet(f, index=False)
    run = load_run(tmp_path / "old")
    assert list(run.generations.columns[-len(COLS):]) == list(COLS) and run.generations[list(COLS)].isna().all().all()
    report_run(tmp_path / "old", figures=False)
