"""``evosim run`` with bad input: one line naming file/key/value/allowed, exit code 2, no traceback, nothing on disk."""
from __future__ import annotations

import subprocess
import sys

import pytest

from evosim.cli import main

from conftest import ROOT, RUNS

QUICK = (RUNS / "quickstart.toml").read_text()

# name -> (file content or None for the shipped quickstart, extra args, substrings of the message)
CASES = {
    "missing file": (None, ["--config-missing"], ["no such file"]),
    "unknown key": (QUICK.replace("population", "populaton"), [], ["evolution.populaton", "did you mean 'population'"]),
    "nan": (QUICK.replace("planning_cost = 0.0002", "planning_cost = nan"), [], ["organisms.planning_cost = nan", "finite"]),
    "duplicate key": (QUICK.replace("size = 11", "size = 11\nsize = 13"), [], ["duplicate key", "size = 13"]),
    "truncated": (QUICK[: QUICK.index("[evolution]") + 5], [], ["invalid TOML", "truncated"]),
    "not utf-8": (QUICK.encode() + b"# \xff\xfe\n", [], ["not UTF-8"]),
    "huge population": (QUICK.replace("population = 200", "population = 1000000000000"), [],
                        ["evolution.population = 1000000000000", "needs ~", "PiB"]),
    "radius beyond grid": (QUICK.replace("max_steps = 40", "max_steps = 40\nradius = { door = 99 }"), [],
                           ["world.radius.door = 99", "larger than the grid"]),
    "bad --set value": (None, ["--set", "evolution.population=abc"],
                        ["command line: evolution.population = 'abc'", "expected an integer"]),
    "bad --set key": (None, ["--set", "evolution.mutaton_rate=0.1"], ["did you mean 'evolution.mutation_rate'"]),
    "--set without =": (None, ["--set", "evolution.population"], ["expected KEY=VALUE"]),
    "negative --seed": (None, ["--seed", "-1"], ["command line: seed = -1", "0 <= value"]),
    "zero --generations": (None, ["--generations", "0"], ["evolution.generations = 0", "out of range"]),
    "resume and overwrite": (None, ["--resume", "--overwrite"], ["--resume and --overwrite exclude each other"]),
    # architecture competition: architectures, shares, costs, depths
    "unknown architecture": (QUICK.replace("[organisms]", "[organisms]\ninitial_shares = { heuristic = 0.5, planer = 0.5 }")
                             .replace("initial_planner_share", "# initial_planner_share"), [],
                             ["organisms.initial_shares.planer", "unknown architecture", "did you mean 'planner'",
                              "allowed: heuristic, planner, memoriser"]),
    "shares not summing to 1": (QUICK.replace("[organisms]", "[organisms]\ninitial_shares = { heuristic = 0.5, "
                                              "memoriser = 0.6 }").replace("initial_planner_share", "# x"), [],
                                ["organisms.initial_shares", "sum to 1.1", "summing to 1"]),
    "shares and planner share": (QUICK.replace("[organisms]", "[organisms]\ninitial_shares = { heuristic = 1.0 }"), [],
                                 ["organisms.initial_shares and organisms.initial_planner_share are both given"]),
    "negative description cost": (None, ["--set", "organisms.description_cost=-0.1"],
                                  ["organisms.description_cost = -0.1", "out of range", "0.0 <= value"]),
    "negative planning cost": (None, ["--set", "organisms.planning_cost=-1"],
                               ["organisms.planning_cost = -1", "out of range"]),
    "min_depth beyond max_depth": (None, ["--set", "organisms.min_depth=3", "--set", "organisms.max_depth=2"],
                                   ["organisms.min_depth = 3", "larger than organisms.max_depth = 2",
                                    "0 <= min_depth <= max_depth"]),
    "memoriser_flips not a boolean": (None, ["--set", "organisms.memoriser_flips=1"],
                                      ["organisms.memoriser_flips = 1", "expected true or false"]),
    # selection against drift: the cue bias of the initial prior, fitness-blind reproduction
    "init_bias not a number": (None, ["--set", "organisms.init_bias=abc"],
                               ["command line: organisms.init_bias = 'abc'", "expected a number"]),
    "init_bias out of range": (None, ["--set", "organisms.init_bias=11"],
                               ["organisms.init_bias = 11", "out of range", "-10.0 <= value <= 10.0"]),
    "init_bias nan": (QUICK.replace("[organisms]", "[organisms]\ninit_bias = nan"), [],
                      ["organisms.init_bias = nan", "finite"]),
    "neutral not a boolean": (None, ["--set", "evolution.neutral=yes"],
                              ["evolution.neutral = 'yes'", "expected true or false"]),
    # the network: its window, iteration bounds, activation, its name in the shares
    "network window below the perception radius": (None, ["--set", "organisms.network_window=5"],
                                                   ["organisms.network_window = 5", "smaller than the largest "
                                                    "perception radius of world 'red_door' (10)", "window >= 10"]),
    "negative network_min_iterations": (None, ["--set", "organisms.network_min_iterations=-1"],
                                        ["organisms.network_min_iterations = -1", "out of range", "0 <= value <= 64"]),
    "negative network_max_iterations": (None, ["--set", "organisms.network_max_iterations=-3"],
                                        ["organisms.network_max_iterations = -3", "out of range"]),
    "network iteration bounds reversed": (None, ["--set", "organisms.network_min_iterations=5", "--set",
                                                 "organisms.network_max_iterations=3"],
                                          ["organisms.network_min_iterations = 5",
                                           "larger than organisms.network_max_iterations = 3"]),
    "unknown network activation": (None, ["--set", "organisms.network_activation=sigmoid"],
                                   ["organisms.network_activation = 'sigmoid'", "expected one of 'tanh', 'relu'"]),
    "network name typo in the shares": (QUICK.replace("[organisms]", "[organisms]\ninitial_shares = { heuristic = 0.5, "
                                                      "netwrok = 0.5 }").replace("initial_planner_share", "# x"), [],
                                        ["organisms.initial_shares.netwrok", "unknown architecture",
                                         "did you mean 'network'", "allowed: heuristic, planner, memoriser, network"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, tmp_path, capsys):
    content, extra, needles = CASES[case]
    if extra == ["--config-missing"]:
        cfg, extra = tmp_path / "missing.toml", []
    elif content is None:
        cfg = RUNS / "quickstart.toml"
    else:
        cfg = tmp_path / "bad.toml"
        cfg.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out"
    rc = main(["run", str(cfg), "--quiet", "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evosim: error: "), err
    for n in needles:
        assert n in err, f"{n!r} not in {err!r}"
    assert not out.exists(), "a run directory was created before validation passed"


def test_existing_run_refused_naming_both_flags(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.toml").write_text("seed = 0\n")
    rc = main(["run", str(RUNS / "quickstart.toml"), "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "--resume" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["config.toml"]


def test_real_process_exit_code_and_debug_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(QUICK.replace("episodes = 8", "episodes = true"))
    cmd = [sys.executable, "-m", "evosim.cli", "run", str(bad), "--out", str(tmp_path / "o")]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == (f"evosim: error: {bad}: evolution.episodes = true: expected an integer with "
                                f"1 <= value <= 10000, got a boolean")
    p = subprocess.run(cmd[:3] + ["--debug"] + cmd[3:], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode != 0 and "Traceback" in p.stderr and "ConfigError" in p.stderr
    assert not (tmp_path / "o").exists()
