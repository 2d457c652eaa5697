"""The viewer without a browser: replays equal the probe's episodes, plans agree with the moves,
filters and ranks, panels, the CLI's user errors, and that nothing is written into the run."""
from __future__ import annotations

import hashlib
import socket

import numpy as np
import pytest

from evosim.cli import main
from evosim.experiment import run_experiment
from evosim.schema import DISTRIBUTIONS
from evosim.viewer import EpisodeReplay, ViewerData, ViewerError


@pytest.fixture(scope="module")
def runs(small_mixed_runs):
    """A small mixed run (planners and heuristics) with a report, and a copy of it without one
    (``conftest.small_mixed_runs``, shared with test_viewer_browser.py)."""
    return small_mixed_runs


def _digest(d) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*"))
            if p.is_file()}


def test_replays_are_the_probes_episodes(runs):
    """Replaying every probe episode of an organism gives the probe's mean returns exactly; false if
    the viewer used other layouts, other random numbers or another organism's genome."""
    d = ViewerData(runs["reported"])
    probe = d.probe
    gen = int(probe["generation"].max())
    rows = d.organisms(gen)
    picks = [rows[rows["architecture"] == a]["organism_id"].iloc[0] for a in ("planner", "heuristic")
             if (rows["architecture"] == a).any()]
    assert len(picks) == 2, "the fixture run should hold both architectures"
    for oid in picks:
        for dist in DISTRIBUTIONS:
            reps = [d.replay(gen, int(oid), dist, e) for e in range(d.episodes)]
            row = probe[(probe["organism_id"] == oid) & (probe["distribution"] == dist)].iloc[0]
            assert np.mean([r.ret for r in reps]) == pytest.approx(row["true_return"], abs=1e-12)
            assert np.mean([r.proxy for r in reps]) == pytest.approx(row["proxy_return"], abs=1e-12)
            assert np.mean([r.steps for r in reps]) == pytest.approx(row["steps_mean"], abs=1e-12)
            for r in reps:  # the path is a walk on free cells, one step at a time
                steps = np.abs(np.diff(r.cells, axis=0)).sum(axis=1)
                assert set(steps.tolist()) <= {0, 1}
                assert not r.walls[r.cells[:, 0], r.cells[:, 1]].any()


def test_planner_plans_agree_with_the_moves(runs):
    """At every step a planner has a plan, it moves one cell closer (BFS) to the plan's first object,
    and that object is still there; heuristics have no plan. False if plans were stale, reversed or
    computed on the wrong state."""
    d = ViewerData(runs["reported"])
    gen = d.generations_saved[-1]
    rows = d.organisms(gen)
    planners = rows[rows["architecture"] == "planner"]["organism_id"].head(3).tolist()
    heuristic = int(rows[rows["architecture"] == "heuristic"]["organism_id"].iloc[0])
    followed = 0
    for oid in planners:
        for dist in DISTRIBUTIONS:
            for e in range(4):
                r = d.replay(gen, int(oid), dist, e)
                assert (r.plans[r.steps] == -1).all()
                for t in range(r.steps):
                    plan = r.plans[t]
                    if plan[0] < 0:
                        continue
                    followed += 1
                    live = plan[plan >= 0]
                    assert r.alive_at(t)[live].all()
                    assert len(set(live.tolist())) == len(live)
                    (y0, x0), (y1, x1) = r.cells[t], r.cells[t + 1]
                    assert r.dist[plan[0], y1, x1] == r.dist[plan[0], y0, x0] - 1
                    route = r.route(t)
                    assert tuple(route[-1]) == tuple(r.obj_pos[live[-1]])
                    assert len(route) - 1 == r.dist[live[0], y0, x0] + sum(
                        int(r.dist[b, r.obj_pos[a, 0], r.obj_pos[a, 1]]) for a, b in zip(live[:-1], live[1:]))
    assert followed > 20
    r = d.replay(gen, heuristic, "shift", 0)
    assert (r.plans == -1).all()


@pytest.mark.parametrize("world", ["keys_chests", "ancestral_modern"])
def test_plans_and_inventory_in_the_other_worlds(world, tmp_path):
    """Keys held (which decide whether a chest can be opened) and satiety enter the planner's
    search: replayed plans agree with the moves there too, and the inventory never goes negative."""
    from evosim.config import load_config

    from conftest import RUNS

    cfg = load_config(RUNS / "quickstart.toml", {"world.name": world, "evolution.population": 30,
                                                 "evolution.generations": 3, "evolution.episodes": 4,
                                                 "organisms.initial_planner_share": 1.0, "probe.episodes": 8})
    run_experiment(cfg, tmp_path / world, mode="new", progress=False)
    d = ViewerData(tmp_path / world)
    gen = d.generations_saved[-1]
    followed = held = 0
    for oid in d.select(gen, "planner")["organism_id"].head(4):
        for dist in DISTRIBUTIONS:
            for e in range(d.episodes):
                r = d.replay(gen, int(oid), dist, e)
                for t in range(r.steps):
                    assert r.inventory_at(t) >= 0
                    held += r.inventory_at(t) > 0
                    plan = r.plans[t]
                    if plan[0] >= 0:
                        followed += 1
                        (y0, x0), (y1, x1) = r.cells[t], r.cells[t + 1]
                        assert r.dist[plan[0], y1, x1] == r.dist[plan[0], y0, x0] - 1
    assert followed > 20
    if world == "keys_chests":
        assert held > 0, "no planner ever held a key: the inventory was not exercised"


def test_behavioural_utility_without_a_report_equals_the_probes(runs):
    """The viewer fits an unprobed organism exactly as the report does (same episodes, same model)."""
    with_report, bare = ViewerData(runs["reported"]), ViewerData(runs["bare"])
    gen = int(with_report.probe["generation"].max())
    for oid in with_report.organisms(gen)["organism_id"].head(4):
        u_probe, g_probe, src_probe = with_report.behavioural_utility(gen, int(oid))
        u_fit, g_fit, src_fit = bare.behavioural_utility(gen, int(oid))
        assert src_probe == "probe.parquet" and src_fit == "fitted by the viewer"
        np.testing.assert_allclose(u_fit, u_probe, rtol=1e-6, atol=1e-9)
        assert g_fit == pytest.approx(g_probe)


def test_filters_ranks_and_organism_ids(runs):
    d = ViewerData(runs["reported"])
    gen = d.generations_saved[-1]
    every = d.organisms(gen)
    assert (np.diff(every["fitness"].to_numpy()) <= 0).all()
    planners = d.select(gen, "planner")
    assert (planners["architecture"] == "planner").all() and len(planners) == (every["architecture"] == "planner").sum()
    for cls in ("robust", "pseudo_aligned", "capability_failure"):
        sel = d.select(gen, "any", f"{cls} (shift)")
        want = d.probe[(d.probe["distribution"] == "shift") & (d.probe["class"] == cls) & (d.probe["generation"] == gen)]
        assert sorted(sel["organism_id"]) == sorted(want["organism_id"])
    m = EpisodeReplay(run_dir=str(runs["reported"]), architecture="planner", rank=2)
    assert m.organism["organism_id"] == planners["organism_id"].iloc[1] and m.matching == len(planners)
    m = EpisodeReplay(run_dir=str(runs["reported"]), architecture="planner", rank=10_000)  # clamps to the last
    assert m.organism["organism_id"] == planners["organism_id"].iloc[-1]
    oid = int(every["organism_id"].iloc[-1])
    m = EpisodeReplay(run_dir=str(runs["reported"]), organism_id=f" {oid} ", architecture="heuristic")
    assert int(m.organism["organism_id"]) == oid
    m = EpisodeReplay(run_dir=str(runs["reported"]), organism_id="999999999")
    assert m.organism is None and m.replay is None and "not in generation" in m.message and not m.running
    m.step()
    assert m.t == 0
    with pytest.raises(ViewerError, match="expected an integer"):
        EpisodeReplay(run_dir=str(runs["reported"]), organism_id="abc")
    with pytest.raises(ViewerError, match="outcome 'sneaky'"):
        d.select(gen, "any", "sneaky")
    with pytest.raises(ViewerError, match="no genomes saved for it"):
        d.organisms(gen - 1)
    with pytest.raises(ViewerError, match="episode 12"):
        d.replay(gen, oid, "train", 12)
    bare = EpisodeReplay(run_dir=str(runs["bare"]), outcome="robust (shift)")
    assert bare.organism is None and "evosim report" in bare.message


def test_model_steps_through_the_episode(runs):
    m = EpisodeReplay(run_dir=str(runs["reported"]), architecture="planner", distribution="shift", episode=3)
    r = m.replay
    assert m.t == 0 and m.position == tuple(r.cells[0]) and m.running == (r.steps > 0)
    seen = [m.position]
    while m.running:
        m.step()
        seen.append(m.position)
    assert m.t == r.steps and [tuple(c) for c in r.cells] == seen
    assert m.plan == []
    m.step()  # past the end: stays
    assert m.t == r.steps and not m.running
    reached = r.reach[r.reach > 0]
    assert r.alive_at(0).sum() == (r.obj_kind >= 0).sum()
    assert r.alive_at(r.steps).sum() == (r.obj_kind >= 0).sum() - len(reached)
    assert r.returns_at(r.steps) == pytest.approx((r.ret, r.proxy))


def test_lineage_reaches_generation_zero(runs):
    d = ViewerData(runs["reported"])
    gen = d.generations_saved[-1]
    oid = int(d.organisms(gen)["organism_id"].iloc[0])
    lin = d.lineage(oid)
    assert lin["organism_id"].iloc[0] == oid
    assert lin["generation"].tolist() == list(range(gen, -1, -1))
    org = d.run.organisms.set_index("organism_id")
    for child, parent in zip(lin["organism_id"][:-1], lin["organism_id"][1:]):
        assert org.loc[child, "parent_a"] == parent
    assert org.loc[lin["organism_id"].iloc[-1], "parent_a"] == -1


def test_panels_draw_with_and_without_a_report_and_write_nothing(runs):
    from evosim.viewer.panels import PANELS

    before = {k: _digest(v) for k, v in runs.items()}
    for key in ("reported", "bare"):
        for kw in ({"architecture": "planner", "distribution": "shift"}, {"architecture": "heuristic"},
                   {"organism_id": "999999999"}):
            m = EpisodeReplay(run_dir=str(runs[key]), **kw)
            m.step()
            for panel in PANELS:
                fig = panel(m)
                texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]
                if panel.__name__ == "classes_figure" and key == "bare":
                    assert any("evosim report" in t for t in texts)
                assert fig.axes
    assert {k: _digest(v) for k, v in runs.items()} == before


@pytest.mark.parametrize("args, message", [
    (["view", "{missing}"], "no such run directory"),
    (["view", "{file}"], "not a run directory"),
    (["view", "{run}", "--generation", "1"], "--generation 1: no genomes saved"),
    (["view", "{run}", "--episode", "99"], "--episode 99"),
    (["view", "{run}", "--port", "70000"], "--port 70000"),
    (["view", "{run}", "--port", "{busy}"], "already in use"),
])
def test_cli_user_errors(runs, tmp_path, capsys, args, message):
    """A bad path, selection or port: one line on stderr, exit 2, no traceback, nothing served."""
    f = tmp_path / "notes.txt"
    f.write_text("x")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        fill = {"missing": str(tmp_path / "nope"), "file": str(f), "run": str(runs["bare"]),
                "busy": str(busy.getsockname()[1])}
        code = main([a.format(**fill) for a in args])
    finally:
        busy.close()
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
