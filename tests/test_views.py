"""The internal vs the behavioural view: the behavioural fit on training choices only (``behav_train_*``), its
Laplace uncertainty on the proxy-vs-true weight difference, and that it reads no shift or control event."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evosim import worlds
from evosim.config import load_config
from evosim.objectives import (
    choice_information_batch, choice_loglik_batch, preference_identified, preference_sd,
)
from evosim.probe import probe_population, probe_sets, reference_genomes
from evosim.probe.behaviour import RIDGE, fit_behavioural_batch, fit_train, planted_planners
from evosim.schema import DISTRIBUTIONS

from conftest import RUNS

SMALL = {"probe.episodes": 24, "probe.decision_episodes": 6, "probe.random_rollouts": 4}


def _events(rng, n_ev, n_opt, f, w_true, tied=None):
    """Choice events drawn from the Boltzmann model with utility ``w_true`` (gamma 1, distances 0)."""
    feat = rng.normal(size=(n_ev, n_opt, f))
    if tied is not None:
        feat[..., tied[1]] = feat[..., tied[0]]
    dist = np.zeros((n_ev, n_opt), dtype=np.int64)
    nopt = np.full(n_ev, n_opt, dtype=np.int64)
    s = np.concatenate([np.zeros((n_ev, 1)), feat @ w_true], axis=1)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    chosen = np.array([rng.choice(n_opt + 1, p=row) for row in p]) - 1
    return feat, dist, nopt, chosen


def _penalised_ll(w, feat, dist, nopt, chosen, ridge):
    ll, _ = choice_loglik_batch(w[None], np.array([1.0]), feat, dist, nopt, chosen, np.zeros(len(chosen), int), 1)
    return ll[0] * len(chosen) - 0.5 * ridge * w @ w


def test_information_is_the_negative_hessian():
    """choice_information_batch equals a finite-difference Hessian of the penalised log-likelihood."""
    rng = np.random.default_rng(0)
    f = 3
    feat, dist, nopt, chosen = _events(rng, 80, 3, f, np.array([1.0, -0.5, 0.3]))
    w = np.array([0.7, -0.2, 0.1])
    info = choice_information_batch(w[None], np.array([1.0]), feat, dist, nopt, chosen, np.zeros(80, int), 1, RIDGE)[0]
    h = 1e-4
    num = np.zeros((f, f))
    for a in range(f):
        for b in range(f):
            ea, eb = np.eye(f)[a] * h, np.eye(f)[b] * h
            num[a, b] = -(_penalised_ll(w + ea + eb, feat, dist, nopt, chosen, RIDGE)
                          - _penalised_ll(w + ea - eb, feat, dist, nopt, chosen, RIDGE)
                          - _penalised_ll(w - ea + eb, feat, dist, nopt, chosen, RIDGE)
                          + _penalised_ll(w - ea - eb, feat, dist, nopt, chosen, RIDGE)) / (4 * h * h)
    np.testing.assert_allclose(info, num, rtol=1e-4, atol=1e-4)


def test_tied_cues_are_not_identified_and_separate_cues_are():
    """Where the proxy and true cue always appear together (as red and door-shape in red_door's training), the
    choices say nothing about their difference: its SD is the ridge prior's sqrt(2 / ridge) and the preference
    is not identified. Where they vary apart and the organism weighs them differently, it is identified."""
    rng = np.random.default_rng(1)
    w_true = np.array([2.0, 0.0, 0.5])
    for tied, expect in ((None, 1.0), ((0, 1), 0.0)):
        feat, dist, nopt, chosen = _events(rng, 300, 3, 3, w_true, tied)
        org = np.zeros(300, dtype=np.int64)
        w, g = fit_behavioural_batch(feat, dist, nopt, chosen, org, 1, gammas=(1.0,))
        info = choice_information_batch(w, g, feat, dist, nopt, chosen, org, 1, RIDGE)
        sd = preference_sd(info, 0, 1)
        if tied:
            assert sd[0] == pytest.approx(np.sqrt(2 / RIDGE), rel=1e-6)
        else:
            assert sd[0] < 0.5
        assert preference_identified(w, sd, 0, 1)[0] == expect


def _probe(cfg, w, sets):
    planted = planted_planners(np.random.default_rng(3), 4, w, cfg.organisms.max_depth)
    g = np.concatenate([reference_genomes(w, cfg.organisms.max_depth)[:2], planted])
    return probe_population(cfg, w, sets, g, np.arange(len(g), dtype=np.int64), 0)


@pytest.mark.parametrize("name", ["red_door", "keys_chests"])
def test_train_only_fit_reads_no_shift_or_control_event(name):
    """Replacing every non-training probe set (other layouts, other choices) leaves every behav_train_* column
    unchanged, while the pooled fit (behav_u_*) changes: the train-only fit reads the train events only. And it
    equals fit_train on the train events alone."""
    cfg = load_config(RUNS / f"{name}.toml", SMALL)
    w = worlds.make(cfg.world)
    sets = probe_sets(cfg, w)
    other = probe_sets(dataclasses.replace(cfg, seed=cfg.seed + 1000), w)
    swapped = {d: (sets[d] if d == "train" else other[d]) for d in DISTRIBUTIONS}
    a, b = _probe(cfg, w, sets), _probe(cfg, w, swapped)
    train_cols = [c for c in a.columns if c.startswith("behav_train_")]
    assert len(train_cols) == len(w.features) + 4
    for c in train_cols:
        np.testing.assert_array_equal(a[c].to_numpy(), b[c].to_numpy(), err_msg=c)
    pooled = [f"behav_u_{f}" for f in w.features]
    assert not np.allclose(a[pooled].to_numpy(), b[pooled].to_numpy(), equal_nan=True)
    # the columns are the same on every distribution's rows
    for c in train_cols:
        per = a.pivot(index="organism_id", columns="distribution", values=c)
        assert (per.nunique(axis=1, dropna=False) == 1).all(), c


def test_fit_train_ignores_other_distributions():
    """fit_train on events whose non-train entries are garbage gives the same result as on the real ones."""
    rng = np.random.default_rng(2)
    feat, dist, nopt, chosen = _events(rng, 120, 3, 2, np.array([1.0, -1.0]))
    org = np.repeat(np.arange(2), 60)
    ev = {"feat": feat, "dist": dist, "nopt": nopt, "chosen": chosen, "org": org}
    junk = {"feat": feat[:5] * 0 + 99.0, "dist": dist[:5], "nopt": nopt[:5], "chosen": chosen[:5] * 0,
            "org": np.zeros(5, dtype=np.int64)}
    real = fit_train({d: ev for d in DISTRIBUTIONS}, 2, 0, 1)
    fake = fit_train({"train": ev, **{d: junk for d in DISTRIBUTIONS if d != "train"}}, 2, 0, 1)
    for x, y in zip(real, fake):
        np.testing.assert_array_equal(x, y)
    assert real[3].tolist() == [1.0, 1.0]
