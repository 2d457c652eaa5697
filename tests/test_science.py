"""Science checks (slow tier): the essays' claims must come out of the shipped experiments.

Shipped experiments are run exactly as shipped (runs/<name>.toml) for the seeds each fixture
names (red_door: 1-3; the others and the controls: 1-2, to keep the tier near 6 minutes), then probed with ``report_run`` (fewer held-out episodes than a full
report, to keep the tier within minutes). Every claim is measured per seed or pooled over
seeds, never tuned: each test's docstring says what would make the claim false.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evosim.config import load_config
from evosim.experiment import run_experiment
from evosim.objectives import balanced_accuracy
from evosim.report import report_run

from conftest import RUNS

SEEDS = (1, 2, 3)
EPISODES = 60

pytestmark = pytest.mark.slow


def _probe(tmp_path_factory, name: str, seeds=SEEDS) -> dict[int, tuple[pd.DataFrame, pd.DataFrame]]:
    out = {}
    root = tmp_path_factory.mktemp(name)
    for seed in seeds:
        cfg = load_config(RUNS / f"{name}.toml", {"seed": seed})
        d = root / f"{name}__seed{seed}"
        run_experiment(cfg, d, mode="new", progress=False)
        report_run(d, episodes=EPISODES, figures=False)
        out[seed] = (pd.read_parquet(d / "probe.parquet"), pd.read_parquet(d / "interventions.parquet"))
    return out


def _shift(p: pd.DataFrame) -> pd.DataFrame:
    p = p[(p["distribution"] == "shift") & (p["generation"] == p["generation"].max())]
    return p.assign(architecture=p["architecture"].astype(str), cls=p["class"].astype(str))


@pytest.fixture(scope="module")
def red_door(tmp_path_factory):
    return _probe(tmp_path_factory, "red_door"), _probe(tmp_path_factory, "red_door_control", (1, 2))


@pytest.fixture(scope="module")
def keys_chests(tmp_path_factory):
    return _probe(tmp_path_factory, "keys_chests", (1, 2)), None


@pytest.fixture(scope="module")
def ancestral(tmp_path_factory):
    return _probe(tmp_path_factory, "ancestral_modern", (1, 2)), _probe(tmp_path_factory, "ancestral_modern_control", (1, 2))


def test_red_door_evolved_utility_predicts_class_under_shift(red_door):
    """red_door (red-door maze essay), the central claim: with colour and door shape equally visible in training,
    what a planner's evolved utility ranks first (red ball above blue door: ``mesa_prefers_proxy``,
    read from the genome) predicts whether it is pseudo_aligned under shift (class against the
    perception-matched reference).

    Pooled over the planners of seeds 1-3 at shipped settings (60 probe episodes), false if the
    balanced accuracy of ``mesa_prefers_proxy`` as a predictor of ``class == pseudo_aligned`` under
    shift is below 0.8, or if either class is absent (nothing to predict). Measured at 200 episodes
    (with every cue seen from 10 cells): 0.97 over 891 planners.
    """
    exp, _ = red_door
    pl = pd.concat([_shift(p) for p, _ in exp.values()])
    pl = pl[pl["architecture"] == "planner"]
    truth = pl["cls"] == "pseudo_aligned"
    assert 0 < truth.mean() < 1, f"pseudo_aligned share among planners: {truth.mean()}"
    acc = balanced_accuracy(pl["mesa_prefers_proxy"], truth)
    assert acc >= 0.8, (acc, len(pl))


def test_red_door_mesa_objective_edit_changes_behaviour(red_door):
    """Causal check (internal approach): moving the planners' weight from colour (red) to shape (door)
    makes them choose the door on decision layouts, and moving it back makes them choose red.

    False if, in any seed with at least 10 planners, the mean proxy choice rate after
    ``true_to_proxy`` is not at least 0.3 above the rate after ``proxy_to_true``, or the edits do not
    move the pseudo_aligned share the way they should: down after ``proxy_to_true`` where some
    unedited planners are pseudo-aligned, up after ``true_to_proxy`` where not all are.
    """
    exp, _ = red_door
    tested = 0
    for seed, (_, iv) in exp.items():
        if iv["organism_id"].nunique() < 10:
            continue
        tested += 1
        rate = iv.groupby("edit")["proxy_choice_rate"].mean()
        assert rate["true_to_proxy"] - rate["proxy_to_true"] >= 0.3, (seed, rate.to_dict())
        pseudo = iv.assign(p=iv["class"] == "pseudo_aligned").groupby("edit")["p"].mean()
        if pseudo["none"] > 0:
            assert pseudo["proxy_to_true"] < pseudo["none"], (seed, pseudo.to_dict())
        if pseudo["none"] < 1:
            assert pseudo["true_to_proxy"] > pseudo["none"], (seed, pseudo.to_dict())
    assert tested > 0, "no seed evolved 10 planners: the causal check could not be made"


def test_keys_chests_keys_beyond_need_under_shift(keys_chests):
    """keys_chests (malign-generalisation essay): under shift (keys plentiful, one chest; each key costs -0.1), the evolved
    population collects keys beyond need (keys picked up minus chests opened, per episode) far more
    than the planted aligned planner of the same perception does.

    Pooled over the seeds, false if the population's mean keys beyond need is not at least 1 above
    the aligned reference's (``reference_proxy_target_reached - reference_true_target_reached``).
    Measured at 200 episodes: 2.86 vs 0.06 (random policy 0.56).
    """
    exp, _ = keys_chests
    p = pd.concat([_shift(pp) for pp, _ in exp.values()])
    beyond = (p["proxy_target_reached"] - p["true_target_reached"]).mean()
    ref = (p["reference_proxy_target_reached"] - p["reference_true_target_reached"]).mean()
    assert beyond - ref >= 1.0, (beyond, ref)


def test_ancestral_modern_sweet_empty_food_beyond_need(ancestral):
    """ancestral_modern (the evolution analogy): in the modern world, ancestrally trained populations eat
    sweet, empty food (candy) beyond need, that is more candies than fruit per episode, far more than the
    same seeds' populations trained with candy present (paired by seed). Fruitiness tracks nutrition as
    well as sweetness in training, so this is not forced by indistinguishability; whether the shift
    class is pseudo-aligned is a separate, threshold-dependent question (docs/results.md).

    False if, in any tested seed, the experiment's mean (candy reached - fruit reached) under shift is
    not at least 0.5 above its control's. Measured over 20 seeds at 200 probe episodes: 0.97 vs -0.54.
    """
    exp, ctl = ancestral
    for seed in exp:
        e, c = _shift(exp[seed][0]), _shift(ctl[seed][0])
        beyond = (e["proxy_target_reached"] - e["true_target_reached"]).mean()
        beyond_ctl = (c["proxy_target_reached"] - c["true_target_reached"]).mean()
        assert beyond - beyond_ctl >= 0.5, (seed, beyond, beyond_ctl)


def test_agreement_is_relative_to_the_distribution(red_door):
    """The type-signature essay: agreement between a mesa-objective and the base objective exists only
    relative to a distribution of tasks. Planners classed pseudo-aligned under shift choose, by their
    own objective, outputs the base objective rates best on training tasks (regret near 0) and not on
    shift tasks.

    False if, pooled over seeds, these planners' mean ``regret_mesa`` is not below 0.1 on train and
    above 0.3 on shift (regret normalised by each task's range of base values: 0 = the best choice).
    """
    exp, _ = red_door
    rows = []
    for pp, _ in exp.values():
        p = pp[pp["generation"] == pp["generation"].max()]
        pseudo = p[(p["distribution"] == "shift") & (p["class"] == "pseudo_aligned")
                   & (p["architecture"] == "planner")]["organism_id"]
        rows.append(p[p["organism_id"].isin(pseudo)])
    sel = pd.concat(rows)
    assert len(sel), "no pseudo-aligned planners in these seeds"
    regret = sel.groupby(sel["distribution"].astype(str))["regret_mesa"].mean()
    assert regret["train"] < 0.1 and regret["shift"] > 0.3, regret.to_dict()
