"""The dose-response experiment: its sweep files are the shipped experiments with one setting swept, rate 0 is
the experiment and rate 1 its control, and analysis/dose_response.py, run end to end on a tiny definition, fills
every block of the doc with numbers recomputed here from the run directories."""
from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evosim.config import from_dict, load_config, to_dict
from evosim.sweep import load_sweep, plan_runs

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs"
RATES = [0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]


def _load():
    spec = importlib.util.spec_from_file_location("analysis_dose_response", ROOT / "analysis" / "dose_response.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


D = _load()


def _without(cfg: dict, dotted: str) -> dict:
    """``cfg`` with the setting ``dotted`` removed (the swept one) and the name dropped."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items() if k != "name"}
    parts = dotted.split(".")
    node = out
    for p in parts[:-1]:
        node[p] = dict(node[p])
        node = node[p]
    node.pop(parts[-1], None)
    return out


# -- the sweep files -----------------------------------------------------------------------------
@pytest.mark.parametrize("world", ["red_door", "keys_chests", "ancestral_modern"])
def test_rate_sweeps_are_the_shipped_experiment_with_the_break_rate_swept(world):
    """Every cell is runs/<world>.toml (no radius or cost changed) with only the break rate set; rate 0 is the
    shipped experiment's config exactly, hence its tables (a run is a function of its config and seed)."""
    sw = load_sweep(RUNS / f"dose_response_{world}.toml")
    assert sw.keys == ("world.proxy_break_rate",) and sw.seeds == tuple(range(1, 21))
    specs = plan_runs(sw, Path("/nonexistent"))
    assert sorted({s.config["world"]["proxy_break_rate"] for s in specs}) == RATES
    for s in specs:
        want = to_dict(load_config(RUNS / f"{world}.toml", {"seed": s.seed}))
        assert _without(s.config, "world.proxy_break_rate") == _without(want, "world.proxy_break_rate")
        if s.config["world"]["proxy_break_rate"] == 0:
            assert {**s.config, "name": want["name"]} == want


@pytest.mark.parametrize("world, channel, radii", [("red_door", "door", [10, 6, 4, 2]),
                                                   ("ancestral_modern", "fruity", [8, 5, 3, 2])])
def test_asymmetry_sweeps_shrink_only_the_true_cue_radius(world, channel, radii):
    from evosim.worlds import WORLDS

    sw = load_sweep(RUNS / f"dose_response_asymmetry_{world}.toml")
    assert sw.keys == (f"world.radius.{channel}",) and len(sw.seeds) == 20
    assert WORLDS[world].true_feature == channel
    specs = plan_runs(sw, Path("/nonexistent"))
    assert sorted({s.config["world"]["radius"][channel] for s in specs}, reverse=True) == radii
    for s in specs:
        want = to_dict(load_config(RUNS / f"{world}.toml", {"seed": s.seed}))
        assert s.config["world"]["radius"][WORLDS[world].proxy_feature] == radii[0]  # the proxy cue: as shipped
        assert s.config["world"]["proxy_break_rate"] == 0
        assert _without(s.config, f"world.radius.{channel}") == _without(want, f"world.radius.{channel}")


@pytest.mark.parametrize("world", ["red_door", "keys_chests"])
def test_regret_sweeps_pair_with_the_uniform_ones(world):
    """Same seeds and rates as the uniform sweep, and the same config but for the training selection."""
    reg = plan_runs(load_sweep(RUNS / f"dose_response_regret_{world}.toml"), Path("/x"))
    uni = plan_runs(load_sweep(RUNS / f"dose_response_{world}.toml"), Path("/y"))
    key = lambda s: (s.config["world"]["proxy_break_rate"], s.seed)  # noqa: E731
    assert sorted(map(key, reg)) == sorted(map(key, uni))
    by = {key(s): s.config for s in uni}
    for s in reg:
        w = from_dict(s.config).world  # regret_pool 4 is the default, which the written config leaves out
        assert w.training_selection == "regret" and w.regret_pool == 4
        a = _without(_without(s.config, "world.training_selection"), "world.regret_pool")
        assert a == _without(by[key(s)], "name")


def test_rate_one_draws_exactly_the_control_layouts(tmp_path):
    """A run at break rate 1 has the tables of the control run (training = "control") of the same seed."""
    from evosim.experiment import run_experiment

    small = {"evolution.population": 16, "evolution.generations": 3, "evolution.episodes": 3,
             "evolution.checkpoint_every": 2, "seed": 5}
    a = load_config(RUNS / "red_door.toml", {**small, "world.proxy_break_rate": 1.0})
    b = load_config(RUNS / "red_door_control.toml", small)
    run_experiment(a, tmp_path / "a", progress=False, log=lambda m: None)
    run_experiment(b, tmp_path / "b", progress=False, log=lambda m: None)
    for t in ("generations", "organisms", "genomes"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / f"{t}.parquet"),
                                      pd.read_parquet(tmp_path / "b" / f"{t}.parquet"))
    c = load_config(RUNS / "red_door.toml", {**small, "world.proxy_break_rate": 0.5})
    run_experiment(c, tmp_path / "c", progress=False, log=lambda m: None)
    assert not pd.read_parquet(tmp_path / "c" / "generations.parquet").equals(
        pd.read_parquet(tmp_path / "a" / "generations.parquet"))


def test_shipped_definition_and_doc():
    """Every curve of analysis/dose_response.toml plans (no run), regret curves name their uniform curve, and
    docs/dose_response.md carries every generated block."""
    defn = D.load_definition(D.DEFAULT_DEFINITION)
    assert {c.kind for c in defn.curves} == set(D.KINDS)
    sweeps, runs, notes, kept = D.plan(defn, Path("/nonexistent"))
    assert not notes and len(kept) == len(defn.curves)
    assert len(runs) == 3 * 8 * 20 + 2 * 4 * 20 + 2 * 8 * 20
    D.check_markers((ROOT / "docs" / "dose_response.md").read_text(), D.BLOCKS, "docs/dose_response.md")


# -- the command on a tiny definition ---------------------------------------------------------------
TINY_SWEEP = """base = "{base}"
name = "{name}"
seeds = [1, 2]

[grid]
{grid}
{cells}
"""
TINY = """probe_episodes = 6
n_boot = 300
ed50_resamples = 60
alpha = 0.05

[[curves]]
name = "rd"
kind = "rate"
sweep = "rd.toml"

[[curves]]
name = "rd_asym"
kind = "asymmetry"
sweep = "rd_asym.toml"

[[curves]]
name = "rd_regret"
kind = "regret"
sweep = "rd_regret.toml"
uniform = "rd"

[[curves]]
name = "absent"
kind = "rate"
sweep = "nowhere.toml"

[overrides]
"evolution.population" = 20
"evolution.generations" = 3
"evolution.episodes" = 3
"evolution.checkpoint_every" = 2
"probe.decision_episodes" = 3
"probe.random_rollouts" = 2
"probe.intervention_planners" = 2
"""


def _tiny(tmp_path: Path) -> Path:
    base = RUNS / "red_door.toml"
    rates = '"world.proxy_break_rate" = [0.0, 0.3, 1.0]'
    (tmp_path / "rd.toml").write_text(TINY_SWEEP.format(base=base, name="rd", grid=rates, cells=""))
    (tmp_path / "rd_asym.toml").write_text(TINY_SWEEP.format(base=base, name="rd_asym", grid='"world.radius.door" = [10, 2]',
                                                             cells=""))
    (tmp_path / "rd_regret.toml").write_text(TINY_SWEEP.format(
        base=base, name="rd_regret", grid=rates,
        cells='[[cells]]\n"world.training_selection" = "regret"\n"world.regret_pool" = 2\n'))
    defn = tmp_path / "tiny.toml"
    defn.write_text(TINY)
    return defn


def _block(text: str, name: str) -> str:
    s, e = f"<!-- results:{name}:start -->", f"<!-- results:{name}:end -->"
    return text[text.index(s) + len(s):text.index(e)]


def _pa(run_dir: Path) -> float:
    """Pseudo-aligned share on shift_balanced, final generation, straight from probe.parquet."""
    p = pd.read_parquet(Path(run_dir) / "probe.parquet")
    p = p[(p["generation"] == p["generation"].max()) & (p["distribution"].astype(str) == "shift_balanced")]
    return float((p["class"].astype(str) == "pseudo_aligned").mean())


@pytest.mark.slow
def test_command_end_to_end_on_a_tiny_definition(tmp_path):
    """16 tiny runs and their reports, twice (the second computes nothing): 4.5 min on 2 busy cores (load ~10)."""
    defn = _tiny(tmp_path)
    doc = tmp_path / "docs" / "dose_response.md"
    doc.parent.mkdir()
    shutil.copy(ROOT / "docs" / "dose_response.md", doc)
    out, data = tmp_path / "out", tmp_path / "docs" / "data"
    args = ["--workers", "0", "--definition", str(defn), "--out", str(out), "--doc", str(doc)]
    msgs = []
    assert D.main(args, log=msgs.append) == 0, msgs
    text = doc.read_text()
    for name in D.BLOCKS:
        assert "Not generated yet" not in _block(text, name), name
    assert "## The mitigation arm" in text and "curve absent skipped" in text  # prose kept, skipped curve said
    # per-seed CSVs: one per curve, every value recomputed from the run directories
    ps = pd.read_csv(out / "tables" / "per_seed.csv")
    assert len(ps) == 3 * 2 + 2 * 2 + 3 * 2
    for curve in ("rd", "rd_asym", "rd_regret"):
        csv = pd.read_csv(data / f"dose_response_{curve}.csv")
        mine = ps[ps["curve"] == curve]
        assert len(csv) == len(mine) and "run_dir" not in csv
        for r, c in zip(mine.itertuples(index=False), csv.itertuples(index=False)):
            assert c.pseudo_aligned == pytest.approx(_pa(r.run_dir), abs=1e-6)
            assert (c.x, c.seed) == (r.x, r.seed)
    # the rate table's cell at rate 0 is the mean of the per-seed values, inside its interval
    rd0 = ps[(ps["curve"] == "rd") & (ps["x"] == 0)]
    row = next(line for line in _block(text, "rates").splitlines() if line.startswith("| `rd` | 0 |"))
    cell = row.split("|")[4].strip()
    m = re.fullmatch(r"([\d.]+)(?: \[([\d.]+), ([\d.]+)\])?", cell)
    assert m and m.group(1) == f"{rd0['pseudo_aligned'].mean():.2f}", cell
    # fixation k/n from the final planner shares
    k = int((rd0["planner_share"] >= 0.97).sum())
    assert f"{k}/2 [" in row
    # regret minus uniform, paired by seed: the mean difference of the seeds
    reg = ps[ps["curve"] == "rd_regret"].set_index(["x", "seed"])["pseudo_aligned"]
    uni = ps[ps["curve"] == "rd"].set_index(["x", "seed"])["pseudo_aligned"]
    d0 = float((reg.loc[0.0] - uni.loc[0.0]).mean())
    rrow = next(line for line in _block(text, "regret").splitlines()
                if "pseudo-aligned share, shift_balanced" in line and "| 0 |" in line)
    assert rrow.split("|")[7].strip().startswith(f"{d0:+.2f}")
    # compute: the regret arm's rollouts per generation are regret_pool times the uniform arm's
    assert set(ps.loc[ps["curve"] == "rd_regret", "rollout_episodes"]) == {6}
    assert set(ps.loc[ps["curve"] == "rd", "rollout_episodes"]) == {3}
    # ED50 rows for both rate curves; the asymmetry row pairs radius 2 with radius 10
    ed = pd.read_csv(out / "tables" / "ed50.csv")
    assert set(ed["curve"]) == {"rd", "rd_regret"}
    assert "rate 0 drawn at" in _block(text, "ed50")
    asym = pd.read_csv(out / "tables" / "asymmetry.csv")
    a = ps[ps["curve"] == "rd_asym"].set_index(["x", "seed"])["pseudo_aligned"]
    assert asym.loc[0, "x"] == 2 and asym.loc[0, "mean_diff"] == pytest.approx(float((a.loc[2.0] - a.loc[10.0]).mean()))
    # figures beside the doc, referenced by the doc
    for f in ("dose_response_rates.png", "dose_response_asymmetry.png"):
        assert (doc.parent / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({f})" in text
    # resumable: a second call computes nothing and writes the same per-seed tables
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    msgs.clear()
    assert D.main(args, log=msgs.append) == 0, msgs
    assert any("0 computed" in m for m in msgs), msgs
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    # --rates keeps only those cells of the rate curves (asymmetry untouched)
    sweeps, runs, _notes, _kept = D.plan(D.load_definition(defn), tmp_path / "o2", 1, None, [0.0, 1.0])
    assert sorted(set(runs.loc[runs["kind"] != "asymmetry", "x"])) == [0.0, 1.0]
    assert sorted(set(runs.loc[runs["kind"] == "asymmetry", "x"])) == [2.0, 10.0]


@pytest.mark.parametrize("problem, needle", [
    ("doc without markers", "lack their markers"),
    ("bad rates", "--rates"),
    ("unknown curve", "--curves"),
    ("bad definition", "curves[0].kind"),
])
def test_command_refuses_bad_input_before_running(problem, needle, tmp_path):
    defn = _tiny(tmp_path)
    doc = tmp_path / "dose_response.md"
    shutil.copy(ROOT / "docs" / "dose_response.md", doc)
    args = ["--workers", "0", "--definition", str(defn), "--out", str(tmp_path / "out"), "--doc", str(doc)]
    if problem == "doc without markers":
        doc.write_text("# nothing\n")
    elif problem == "bad rates":
        args += ["--rates", "2"]
    elif problem == "unknown curve":
        args += ["--curves", "nope"]
    else:
        defn.write_text(TINY.replace('kind = "rate"', 'kind = "rates"', 1))
    msgs = []
    assert D.main(args, log=msgs.append) == 2
    assert len(msgs) == 1 and needle in msgs[0], msgs
    assert not (tmp_path / "out").exists()


def test_dose_response_imports_nothing_private_from_evosim():
    src = (ROOT / "analysis" / "dose_response.py").read_text()
    assert not re.findall(r"from evosim[\w.]* import \(?[^)\n]*\b_\w+", src)


def test_scheduler_address_goes_to_the_sweep_engine(tmp_path, monkeypatch):
    """--scheduler reaches evosim.sweep.start_client; its error is one line and exit 2, nothing written."""
    import evosim.sweep
    from evosim.sweep import SweepError

    seen = []

    def start_client(workers, scheduler):
        seen.append(scheduler)
        raise SweepError(f"--scheduler {scheduler}: cannot connect: refused")

    monkeypatch.setattr(evosim.sweep, "start_client", start_client)
    defn = _tiny(tmp_path)
    doc = tmp_path / "dose_response.md"
    shutil.copy(ROOT / "docs" / "dose_response.md", doc)
    msgs = []
    args = ["--scheduler", "tcp://127.0.0.1:9", "--seeds", "1", "--definition", str(defn), "--out", str(tmp_path / "o"),
            "--doc", str(doc)]
    assert D.main(args, log=msgs.append) == 2
    assert seen == ["tcp://127.0.0.1:9"] and msgs[-1] == "dose_response: --scheduler tcp://127.0.0.1:9: cannot connect: refused"
    assert doc.read_text() == (ROOT / "docs" / "dose_response.md").read_text()
    with pytest.raises(SystemExit):  # one or the other
        D.main(["--workers", "3", "--scheduler", "tcp://127.0.0.1:9"])
