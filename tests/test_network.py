"""The network architecture beyond what ``tests/test_architectures.py`` checks for every architecture: its kernel
against its twin under every network setting (channels, activation, a window that clips the state), zero
iterations as a plain feed-forward readout, the same trajectories whatever the thread count, and a
network-only run end to end."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evosim import genome as gn
from evosim.config import WorldConfig, load_config, replace
from evosim.constants import DX, DY, OPPOSITE
from evosim.kernels import EpisodeSpec, rollout
from evosim.reference import naive
from evosim.worlds import WORLDS

FIELDS = ("ret", "proxy", "steps", "plans", "work", "reach", "trace")


def _networks(rng, n, iterations, sigma=1.5):
    g = gn.random_population(rng, n, 0.5, sigma=sigma, rng_net=rng, network_share=1.0)
    g[:, gn.N_ITER] = np.asarray(iterations, dtype=np.float64) + rng.uniform(-0.45, 0.45, n)
    assert (gn.architecture(g) == 3).all()
    return g


def _spec(world, **network):
    return EpisodeSpec.from_config(load_config("runs/red_door.toml"), world, max_steps=30).replace(**network)


@pytest.mark.parametrize("network", [
    {"network_channels": 1}, {"network_channels": 8, "network_max_iterations": 3},
    {"network_activation": "relu"}, {"network_min_iterations": 2, "network_max_iterations": 3},
], ids=["1 channel", "8 channels", "relu", "iterations 2..3"])
def test_kernel_equals_twin_under_each_network_setting(network):
    """Kernel vs twin, every field of every episode, on keys_chests (keys in the inventory move the key bias)."""
    rng = np.random.default_rng(4)
    world = WORLDS["keys_chests"](WorldConfig(name="keys_chests"))
    lay = world.sample(rng, "train", 2)
    g = _networks(rng, 6, np.arange(6) % 5)
    args = (g, lay, np.array([0, 1, 0]), 3, 1, 0, np.arange(6), _spec(world, **network))
    k, t = rollout(*args, record=True), naive.rollout(*args, record=True)
    for f in FIELDS:
        assert np.array_equal(getattr(k, f), getattr(t, f)), f
    assert k.steps.sum() > 0


def test_a_window_clips_the_state_as_the_twin_says():
    """With perception radius 2 and a window of 2, networks of up to 6 iterations have their state cut at the
    window: kernel and twin agree, and the trajectories differ from those on the whole grid (the window is not
    a no-op), while a window of 7 (beyond what 6 iterations reach) changes nothing."""
    rng = np.random.default_rng(5)
    world = WORLDS["red_door"](WorldConfig(name="red_door", size=13, radius={"red": 2, "green": 2, "door": 2}))
    lay = world.sample(rng, "train", 3)
    g = _networks(rng, 8, 3 + np.arange(8) % 4, sigma=2.0)
    base = (g, lay, np.array([0, 1, 2]), 3, 1, 0, np.arange(8))
    clipped = _spec(world, network_window=2)
    k, t = rollout(*base, clipped, record=True), naive.rollout(*base, clipped, record=True)
    for f in FIELDS:
        assert np.array_equal(getattr(k, f), getattr(t, f)), f
    whole = rollout(*base, _spec(world), record=True)
    assert not np.array_equal(whole.trace, k.trace) and (whole.work > k.work).any()
    wide = rollout(*base, _spec(world, network_window=7), record=True)
    assert np.array_equal(wide.trace, whole.trace) and np.array_equal(wide.work, whole.work)


def test_zero_iterations_is_a_feed_forward_readout():
    """A network of 0 iterations moves by argmax over the four moves of the readout of the input planes at the
    cell each move enters (wall bit, perceived features) plus momentum / back, first maximum winning: the same
    trajectories as this plain loop on red_door (every object ends the episode), and no work."""
    rng = np.random.default_rng(6)
    world = WORLDS["red_door"](WorldConfig(name="red_door"))
    lay = world.sample(rng, "train", 4)
    g = _networks(rng, 10, np.zeros(10))
    spec = _spec(world)
    rec = rollout(g, lay, np.arange(4), 3, 1, 0, np.arange(10), spec, record=True)
    assert (rec.work == 0).all()
    feat, radius, nf = world.table.features.astype(np.float64), world.radius, len(world.features)
    for i in range(len(g)):
        rx = g[i, gn.N_READ_X].astype(np.float64)
        for e in range(4):
            walls, pos, kind = lay.walls[e], lay.obj_pos[e], lay.obj_kind[e]
            h, w = walls.shape
            y, x = lay.start[e]
            prev, trace = -1, [y * w + x]
            for _ in range(spec.max_steps):
                scores = []
                for a in range(4):
                    ny, nx = y + DY[a], x + DX[a]
                    inside = 0 <= ny < h and 0 <= nx < w
                    xin = np.zeros(1 + nf)
                    xin[0] = 1.0 if not inside or walls[ny, nx] else 0.0
                    for o in np.flatnonzero((kind >= 0) & (pos[:, 0] == ny) & (pos[:, 1] == nx)):
                        xin[1:] += np.where(radius[:nf] >= 1, feat[kind[o], :nf], 0.0)
                    s = float(rx[:1 + nf] @ xin)
                    s += g[i, gn.N_MOMENTUM] if a == prev else (g[i, gn.N_BACK] if prev >= 0 and a == OPPOSITE[prev] else 0.0)
                    scores.append(s)
                a = int(np.argmax(scores))
                if not xin_blocked(walls, y, x, a):
                    y, x = y + DY[a], x + DX[a]
                prev = a
                trace.append(y * w + x)
                if ((kind >= 0) & (pos[:, 0] == y) & (pos[:, 1] == x)).any():
                    break
            got = rec.trace[i, e]
            assert list(got[: len(trace)]) == trace and (got[len(trace):] == -1).all(), (i, e)


def xin_blocked(walls, y, x, a):
    h, w = walls.shape
    ny, nx = y + DY[a], x + DX[a]
    return not (0 <= ny < h and 0 <= nx < w) or walls[ny, nx] != 0


def test_same_trajectories_whatever_the_thread_count():
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread only")
    rng = np.random.default_rng(7)
    world = WORLDS["ancestral_modern"](WorldConfig(name="ancestral_modern"))
    lay = world.sample(rng, "train", 3)
    g = _networks(rng, 24, np.arange(24) % 9)
    args = (g, lay, np.array([0, 1, 2, 1]), 3, 1, 0, np.arange(24), _spec(world))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = rollout(*args, record=True)
        numba.set_num_threads(2)
        two = rollout(*args, record=True)
    finally:
        numba.set_num_threads(before)
    for f in FIELDS:
        assert np.array_equal(getattr(one, f), getattr(two, f)), f


def test_genomes_from_before_the_network_block_load_without_networks():
    rng = np.random.default_rng(8)
    old = gn.random_population(rng, 6, 0.5, rng_memo=rng, memoriser_share=0.5)[:, :gn.N_ARCH]
    new = gn.upgrade(old)
    assert new.shape == (6, gn.N_GENES) and np.array_equal(new[:, :gn.N_ARCH], old)
    assert (new[:, gn.N_ARCH] == -1.0).all() and (new[:, gn.NETWORK_WEIGHTS] == 0.0).all()
    assert np.array_equal(gn.architecture(new), gn.architecture(old))


@pytest.mark.slow
def test_network_only_run_end_to_end(tmp_path):
    """A network-only population on red_door (no flips) evolves, reports, and every table lists networks only;
    the generations carry the network columns and the genomes the network block."""
    from evosim.experiment import run_experiment
    from evosim.report import report_run

    cfg = replace(load_config("runs/red_door.toml"), **{
        "organisms.initial_shares": {"network": 1.0}, "evolution.arch_flip_rate": 0.0,
        "evolution.population": 16, "evolution.generations": 3, "evolution.episodes": 2,
        "evolution.checkpoint_every": 1, "probe.episodes": 6, "probe.decision_episodes": 3,
        "probe.random_rollouts": 2, "seed": 3})
    run_experiment(cfg, tmp_path / "run", mode="new", progress=False)
    report_run(tmp_path / "run", figures=False)
    d = tmp_path / "run"
    gens = pd.read_parquet(d / "generations.parquet")
    assert (gens["network_share"] == 1.0).all() and gens["iterations_mean"].between(0, 8).all()
    org = pd.read_parquet(d / "organisms.parquet")
    assert set(org["architecture"].astype(str)) == {"network"} and org["iterations"].between(0, 8).all()
    genomes = pd.read_parquet(d / "genomes.parquet")
    assert set(genomes["architecture"].astype(str)) == {"network"} and (genomes["n_arch"] > 0).all()
    probe = pd.read_parquet(d / "probe.parquet")
    assert len(probe) and set(probe["architecture"].astype(str)) == {"network"}
    assert (org["work_mean"] >= 0).all() and (org.loc[org["iterations"] > 0, "work_mean"] > 0).all()


@pytest.mark.slow
def test_network_run_resumed_is_byte_identical(tmp_path):
    """A run with networks beside heuristics (network genes flipping), interrupted after generation 3 and resumed,
    writes the uninterrupted run's tables byte for byte: the network block's random numbers, like the others',
    derive from (seed, stream, generation)."""
    from conftest import Faults

    from evosim.experiment import run_experiment

    cfg = replace(load_config("runs/red_door.toml"), **{
        "organisms.initial_shares": {"heuristic": 0.5, "network": 0.5}, "evolution.arch_flip_rate": 0.05,
        "evolution.population": 16, "evolution.generations": 6, "evolution.episodes": 2,
        "evolution.checkpoint_every": 2, "seed": 4})
    run_experiment(cfg, tmp_path / "whole", progress=False, log=lambda m: None)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, tmp_path / "cut", progress=False, log=lambda m: None, faults=Faults("generation@4:keyboard"))
    run_experiment(cfg, tmp_path / "cut", mode="resume", progress=False, log=lambda m: None)
    for t in ("generations", "organisms", "genomes"):
        assert (tmp_path / "whole" / f"{t}.parquet").read_bytes() == (tmp_path / "cut" / f"{t}.parquet").read_bytes(), t
    gens = pd.read_parquet(tmp_path / "whole" / "generations.parquet")
    assert gens["network_share"].iloc[0] == 0.5 and "n_iterations" in pd.read_parquet(tmp_path / "whole" / "genomes.parquet")
