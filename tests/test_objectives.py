"""Behavioural objective inference, agreement, outcome classes and optimisation power."""
from __future__ import annotations

import numpy as np
import pytest

from evosim import worlds
from evosim.config import load_config
from evosim.objectives import agreement, classify, cosine, power_bits
from evosim.probe import GAMMAS, RIDGE, fit_behavioural, fit_behavioural_batch, planted_validation
from evosim.reference.naive_probe import fit_choice_model_scipy

from conftest import RUNS


def _random_events(rng, n, f=3, k=4):
    feat = (rng.random((n, k, f)) < 0.5).astype(np.float64)
    dist = rng.integers(1, 12, size=(n, k))
    nopt = rng.integers(1, k + 1, size=n)
    chosen = np.array([rng.integers(-1, m) for m in nopt])
    return feat, dist, nopt, chosen


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_kernel_matches_scipy(seed):
    """The numba Newton fit finds the same optimum as SciPy's BFGS on the same penalised likelihood."""
    rng = np.random.default_rng(seed)
    feat, dist, nopt, chosen = _random_events(rng, 60)
    w, g, _, _ = fit_behavioural(feat, dist, nopt, chosen)
    w_ref, g_ref, _ = fit_choice_model_scipy(feat, dist, nopt, chosen, GAMMAS, RIDGE)
    assert g == g_ref
    np.testing.assert_allclose(w, w_ref, atol=2e-4)


def test_fit_batch_equals_single_fits():
    """Fitting organisms together equals fitting each alone; organisms without events get NaN."""
    rng = np.random.default_rng(4)
    parts = [_random_events(rng, n) for n in (30, 0, 45)]
    org = np.concatenate([np.full(len(p[3]), i) for i, p in enumerate(parts)])
    cat = [np.concatenate([p[j] for p in parts]) for j in range(4)]
    w, g = fit_behavioural_batch(*cat, org, 3)
    assert np.isnan(w[1]).all() and np.isnan(g[1])
    for i in (0, 2):
        wi, gi, _, _ = fit_behavioural(*parts[i])
        np.testing.assert_allclose(w[i], wi, atol=1e-9)


def test_fit_recovers_boltzmann_chooser():
    """Choices simulated from a Boltzmann model are recovered (cosine > 0.98 with 3000 events)."""
    rng = np.random.default_rng(9)
    feat, dist, nopt, _ = _random_events(rng, 3000)
    u = np.array([1.5, -1.0, 0.5])
    x = feat * (0.85 ** dist)[:, :, None]
    s = np.concatenate([np.zeros((len(x), 1)), x @ u], axis=1)
    s[:, 1:][np.arange(x.shape[1])[None] >= nopt[:, None]] = -np.inf
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    chosen = np.array([rng.choice(len(r), p=r) for r in p]) - 1
    w, g, ll, ll0 = fit_behavioural(feat, dist, nopt, chosen)
    assert cosine(u, w)[0] > 0.98
    assert ll > ll0


@pytest.mark.slow
def test_planted_planner_utilities_are_recovered():
    """IRL validation on 200 planners with planted random utilities: cosine >= 0.9 on >= 90%.

    World: red_door with every feature perceived from the same distance (10 cells), where
    each episode ends at the first object reached, so every planner's next choice is a
    trade-off between what it sees and how far it is. Utilities are uniform on the
    non-negative orthant: a weight below zero only ever shows as "never goes there", so its
    magnitude is not identifiable from choices by any method. False if fewer than 90% of
    the recovered behavioural utilities point within cos^-1(0.9) of the planted ones.
    (Measured limitations: with the shipped short-sighted door channel or with negative
    weights, recovery is weaker; see analysis/README.md.)
    """
    cfg = load_config(RUNS / "red_door.toml", {"world.radius": {"red": 10, "green": 10, "door": 10}})
    df = planted_validation(cfg, worlds.make(cfg.world), n=200, episodes=150, seed=0, positive=True)
    assert len(df) == 200
    share = (df["cosine"] >= 0.9).mean()
    assert share >= 0.9, f"only {share:.2f} of planted utilities recovered (median cosine {df['cosine'].median():.3f})"


def test_agreement_is_relative_to_distribution():
    """A red-lover agrees with the red-door reward on train (red doors, green balls) and disagrees
    on shift (blue doors, red balls); a door-lover agrees on both."""
    cfg = load_config(RUNS / "quickstart.toml")
    w = worlds.make(cfg.world)
    kf = w.table.features[:, :3].astype(np.float64)
    k = {kind.name: i for i, kind in enumerate(w.kinds)}
    train = np.zeros(len(w.kinds), dtype=np.int64)
    train[k["red_door"]], train[k["green_ball"]] = 100, 200
    shift = np.zeros(len(w.kinds), dtype=np.int64)
    shift[k["blue_door"]], shift[k["red_ball"]] = 100, 200
    u = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    a_train = agreement(u, kf, w.table.reward, train)
    a_shift = agreement(u, kf, w.table.reward, shift)
    assert a_train[0] == pytest.approx(1.0) and a_shift[0] == pytest.approx(-1.0)
    assert a_train[1] == pytest.approx(1.0) and a_shift[1] == pytest.approx(1.0)
    assert np.isnan(a_train[2])


def test_classify():
    cls = classify([0.9, 0.2, 0.1, 0.5], [0.9, 0.8, 0.1, 0.0], 0.5)
    assert cls.tolist() == ["robust", "pseudo_aligned", "capability_failure", "robust"]


def test_power_bits():
    """Beating every random outcome gives the maximum; matching all of them gives 0 bits."""
    rand = np.zeros((1, 15, 4))
    assert power_bits(np.ones((1, 4)), rand)[0] == pytest.approx(np.log2(61))
    assert power_bits(np.zeros((1, 4)), rand)[0] == pytest.approx(0.0)
    half = np.concatenate([np.zeros((1, 15, 2)), np.full((1, 15, 2), 2.0)], axis=2)
    assert power_bits(np.ones((1, 4)), half)[0] == pytest.approx(-np.log2(31 / 61))


# -- agreement on tasks (the type-signature essay: outputs, f and g relative to a distribution D) ---------------
def _red_door_tasks(dist, n=40):
    from evosim.probe import probe_layouts, task_values

    cfg = load_config(RUNS / "red_door.toml")
    w = worlds.make(cfg.world)
    lay = probe_layouts(cfg, w, dist, n)
    return cfg, w, lay, task_values(cfg, w, lay)


def _planted(u, depth=1, gamma=0.95):
    from evosim import kernels

    return np.atleast_2d(u).astype(np.float64), np.array([depth]), np.array([gamma])


@pytest.mark.parametrize("world", ["red_door", "keys_chests", "ancestral_modern"])
def test_objective_equal_to_the_base_value_agrees_on_every_distribution(world):
    """g = f (an organism valuing every output by its base value): regret 0 and rank correlation 1 on
    every task where they are defined, on train, shift and control. False if the regret or rank
    computation mis-orders outputs or mis-handles ties / missing outputs."""
    from evosim.objectives import task_agreement
    from evosim.probe import probe_layouts, task_values

    cfg = load_config(RUNS / f"{world}.toml")
    w = worlds.make(cfg.world)
    for dist in ("train", "shift", "control"):
        tv = task_values(cfg, w, probe_layouts(cfg, w, dist, 30))
        r = task_agreement(tv.f, tv.f[None], choice=np.nanargmax(tv.f, axis=1)[None])
        assert np.nanmax(r["regret"]) == 0.0
        rk = r["rankcorr"][np.isfinite(r["rankcorr"])]
        assert len(rk) > 0 and np.allclose(rk, 1.0)


def test_door_lover_agrees_everywhere_red_lover_only_on_train():
    """red_door, planners of depth 1 read through the kernel search: a door-lover (mesa = the reward's
    feature) has regret 0 and rank correlation 1 on train, shift and control; a red-lover has regret 0
    and rank correlation 1 on train layouts (red doors, green balls: proxy and reward coincide) and
    regret > 0 on shift (blue doors, red balls). False if f or g misreads the layouts."""
    from evosim import kernels
    from evosim.objectives import task_agreement

    for dist in ("train", "shift", "control"):
        cfg, w, lay, tv = _red_door_tasks(dist)
        g = kernels.mesa_values(np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]), [1, 1], [0.95, 0.95], tv, lay.obj_pos,
                                lay.obj_kind, lay.dist, w.table.interaction)
        r = task_agreement(tv.f, g)
        reg, rk = r["regret"], r["rankcorr"]
        assert np.isfinite(reg[0]).sum() >= 20
        assert np.nanmax(reg[0]) == 0.0 and np.allclose(rk[0][np.isfinite(rk[0])], 1.0)
        if dist == "train":
            assert np.nanmax(reg[1]) == 0.0 and np.allclose(rk[1][np.isfinite(rk[1])], 1.0)
        if dist == "shift":
            assert np.nanmean(reg[1]) > 0.5 and np.nanmean(rk[1]) < 0


def test_task_agreement_hand_built():
    """Three outputs (none, A, B) with f = (0, 1, 0.5): choosing B is regret 0.5; g reversing f is rank -1;
    a constant f is no task (NaN); bad shapes are ValueErrors."""
    from evosim.objectives import mesa_choice, mixture_means, task_agreement

    f = np.array([[0.0, 1.0, 0.5], [0.0, 0.0, 0.0]])
    g = np.array([[[0.0, 0.2, 0.9], [0.0, 1.0, 2.0]], [[0.0, 2.0, 1.0], [0.0, -1.0, -1.0]]])
    assert mesa_choice(g).tolist() == [[2, 2], [1, 0]]
    r = task_agreement(f, g)
    assert r["regret"][0, 0] == pytest.approx(0.5) and r["regret"][1, 0] == 0.0
    assert np.isnan(r["regret"][:, 1]).all()
    assert r["rankcorr"][0, 0] == pytest.approx(0.5) and r["rankcorr"][1, 0] == pytest.approx(1.0)
    assert r["rankcorr"][0, 0] == pytest.approx(np.corrcoef([1, 3, 2], [1, 2, 3])[0, 1])
    assert np.isnan(r["rankcorr"][:, 1]).all()
    with pytest.raises(ValueError):
        task_agreement(f, g[:, :1])
    with pytest.raises(ValueError):
        task_agreement(np.array([[np.nan, 1.0]]), np.zeros((1, 1, 2)))
    m = mixture_means(np.array([0.0, 0.0, np.nan]), np.array([1.0, 1.0]), [0.0, 0.5, 1.0])
    assert m.tolist() == [0.0, pytest.approx(0.5 / (0.5 * 2 / 3 + 0.5)), 1.0]
    with pytest.raises(ValueError):
        mixture_means([1.0], [1.0], [1.5])


# -- recovery per regime, as docs/objectives.md's table states it (analysis/objectives_validation.py) ---
#: regime -> (min median cosine, min share cos >= 0.9, min ranking accuracy), a few points below the table
RECOVERY = {
    "planner, equal radii 10, w >= 0": (0.95, 0.95, 0.95),
    "planner, equal radii 10, any sign": (0.88, 0.50, 0.85),
    "planner, radii red/green 10, door 2": (0.92, 0.60, 0.62),
    "planner, depth 1": (0.95, 0.95, 0.95),
    "planner, depth 3": (0.95, 0.95, 0.95),
    "planner, discount ~0.5": (0.93, 0.78, 0.95),
    "planner, discount ~0.99": (0.95, 0.93, 0.95),
    "planner, keys_chests (keys instrumental)": (0.69, 0.33, 0.77),
    "planner, ancestral_modern": (0.77, 0.25, 0.77),
    "heuristic, equal radii 10, w >= 0": (0.80, 0.24, 0.90),
    "heuristic, keys_chests": (0.55, 0.22, 0.90),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RECOVERY))
def test_recovery_per_regime(name):
    """Planted objectives are recovered at least as well as docs/objectives.md's table says, per regime
    (100 organisms, 90 held-out episodes each, the table's seeds). False if a change to the event
    extraction or the fit makes recovery drop more than a few points below the table in any regime."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ov", RUNS.parent / "analysis" / "objectives_validation.py")
    ov = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ov)
    r = next(x for x in ov.REGIMES if x[0] == name)
    row = ov.regime(*r, n=100, episodes=90)
    cmin, smin, rmin = RECOVERY[name]
    assert row["median_cos"] >= cmin and row["share_cos_ge_0.9"] >= smin and row["rank_accuracy"] >= rmin, row


