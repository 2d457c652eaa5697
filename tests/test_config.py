"""The one config validator: every bad input gives a one-line ``ConfigError`` naming file, key, value and what is allowed.

The property tests feed random and mutated TOML documents to the validator: it must return a
valid ``Config`` or raise ``ConfigError``, never anything else (a crash, a RecursionError, a
TypeError from a comparison would make them fail).
"""
from __future__ import annotations

import math
import tomllib

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evosim.memory import estimate_memory, format_bytes
from evosim.config import (Config, ConfigError, from_dict, load_config, parse_config,
                           replace, setting_paths, to_dict, validate_overrides, validate_setting)
from evosim.constants import MAX_DEPTH
from evosim.errors import UserError

from conftest import RUNS

QUICK = (RUNS / "quickstart.toml").read_text()
SRC = "runs/x.toml"


def _err(text, src=SRC, **kw) -> str:
    with pytest.raises(ConfigError) as ei:
        parse_config(text, src, **kw)
    msg = str(ei.value)
    assert "\n" not in msg, f"message is not one line: {msg!r}"
    assert isinstance(ei.value, UserError)
    return msg


def _sub(old: str, new: str) -> str:
    assert old in QUICK
    return QUICK.replace(old, new, 1)


# (document, substrings the message must contain: file, key path, bad value, what is allowed)
BAD = {
    "unknown key": (_sub("population = 200", "populaton = 200"),
                    [SRC, "evolution.populaton", "unknown key", "did you mean 'population'"]),
    "unknown section": (_sub("[organisms]", "[organism]"), [SRC, "organism", "did you mean 'organisms'"]),
    "bool for int": (_sub("population = 200", "population = true"), ["evolution.population = true", "integer", "boolean"]),
    "float for int": (_sub("population = 200", "population = 200.5"), ["evolution.population = 200.5", "integer", "float"]),
    "string for number": (_sub("planning_cost = 0.0002", 'planning_cost = "0.1"'),
                          ["organisms.planning_cost = '0.1'", "a number", "string"]),
    "nan": (_sub("planning_cost = 0.0002", "planning_cost = nan"), ["organisms.planning_cost = nan", "finite", "0.0 <= value <= 1.0"]),
    "inf": (_sub("planning_cost = 0.0002", "planning_cost = inf"), ["organisms.planning_cost = inf", "finite"]),
    "negative size": (_sub("size = 11", "size = -1"), ["world.size = -1", "out of range", "5 <= value <= 101"]),
    "zero episodes": (_sub("episodes = 8", "episodes = 0"), ["evolution.episodes = 0", "1 <= value"]),
    "probability > 1": (_sub("initial_planner_share = 0.5", "initial_planner_share = 1.5"),
                        ["organisms.initial_planner_share = 1.5", "0.0 <= value <= 1.0"]),
    "radius beyond grid": (_sub("max_steps = 40", "max_steps = 40\nradius = { red = 50 }"),
                           ["world.radius.red = 50", "larger than the grid", "0 <= radius <= 20"]),
    "unknown channel": (_sub("max_steps = 40", "max_steps = 40\nradius = { rde = 5 }"),
                        ["world.radius.rde", "did you mean 'red'", "red, green, door"]),
    "negative radius": (_sub("max_steps = 40", "max_steps = 40\nradius = { red = -2 }"), ["world.radius.red = -2", "non-negative"]),
    "depth beyond max": (_sub("planning_cost = 0.0002", f"planning_cost = 0.0002\nmax_depth = {MAX_DEPTH + 1}"),
                         [f"organisms.max_depth = {MAX_DEPTH + 1}", f"1 <= value <= {MAX_DEPTH}"]),
    "unknown heuristic signal": (_sub("planning_cost = 0.0002", 'planning_cost = 0.0002\nheuristic_signal = "smell"'),
                                 ["organisms.heuristic_signal = 'smell'", "one of 'path', 'compass'"]),
    "heuristic signal not a string": (_sub("planning_cost = 0.0002", "planning_cost = 0.0002\nheuristic_signal = 1"),
                                      ["organisms.heuristic_signal = 1"]),
    "unknown world": (_sub('name = "red_door"', 'name = "red_dor"'), ["world.name = 'red_dor'", "did you mean 'red_door'"]),
    "elitism >= population": (_sub("episodes = 8", "episodes = 8\nelitism = 200"),
                              ["evolution.elitism = 200", "smaller than evolution.population = 200"]),
    "tournament > population": (_sub("episodes = 8", "episodes = 8\ntournament_size = 500"),
                                ["evolution.tournament_size = 500", "at most evolution.population"]),
    "grid too small": (_sub("n_distractors = 2", "n_distractors = 8").replace("size = 11", "size = 6"),
                       ["world.size = 6", "world.n_distractors = 8", "size >= 9"]),
    "duplicate key": (_sub("size = 11", "size = 11\nsize = 12"), [f"{SRC}:8", "duplicate key", "size = 12"]),
    "duplicate table": (QUICK + "\n[world]\nsize = 9\n", ["duplicate key or table", "[world]"]),
    "truncated mid-key": (QUICK[: QUICK.index("population") + 6], ["invalid TOML", "truncated"]),
    "truncated mid-string": (QUICK[: QUICK.index('"red_door"') + 4], ["Unterminated string", "truncated"]),
    "section not a table": ("world = 5\n", ["world = 5", "expected a table [world]"]),
    "bad name": ('name = "a/b"\n', ["name = 'a/b'", "directory name"]),
    "seed negative": ("seed = -1\n", ["seed = -1", "0 <= value"]),
    "array for int": (_sub("population = 200", "population = [1, 2]"), ["evolution.population = [1, 2]", "an array"]),
    "deep nesting": ("x = " + "[" * 3000 + "]" * 3000 + "\n", ["nested too deeply"]),
    "quoted key with newline": ('"a\\nb" = 1\n', ['"a\\nb"', "unknown key"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_document_message(case):
    text, needles = BAD[case]
    msg = _err(text)
    for n in needles:
        assert n in msg, f"{case}: {n!r} not in {msg!r}"


def test_population_that_cannot_fit_is_refused_with_estimate():
    msg = _err(_sub("population = 200", "population = 1000000000000"))
    assert "evolution.population = 1000000000000" in msg and "needs ~" in msg and "PiB" in msg
    cfg = load_config(RUNS / "quickstart.toml")
    assert estimate_memory(cfg) < 2**30  # the shipped quickstart needs well under 1 GiB
    assert format_bytes(3 * 2**40) == "3.0 TiB"


def test_not_utf8_and_nul():
    msg = _err(b'name = "caf\xe9"\n')
    assert "not UTF-8" in msg and "0xe9" in msg and SRC in msg
    assert "NUL" in _err(b"seed = 1\x00\n")


def test_missing_directory_and_empty_files(tmp_path):
    for path, needle in [(tmp_path / "nope.toml", "no such file"), (tmp_path, "is a directory")]:
        with pytest.raises(ConfigError, match=needle) as ei:
            load_config(path)
        assert str(path) in str(ei.value)
    (tmp_path / "empty.toml").write_text("  \n")
    with pytest.raises(ConfigError, match="is empty"):
        load_config(tmp_path / "empty.toml")


def test_overrides_are_checked_and_named_by_their_source():
    with pytest.raises(ConfigError, match=r"^command line: evolution.population = 0: out of range"):
        load_config(RUNS / "quickstart.toml", {"evolution.population": 0}, overrides_source="command line")
    with pytest.raises(ConfigError, match="did you mean 'evolution.population'"):
        validate_overrides({"evolution.populaton": 5}, "sweep.toml")
    with pytest.raises(ConfigError, match="is a table"):
        validate_setting("evolution", 3, "sweep.toml")
    with pytest.raises(ConfigError, match=r"sweep.toml: evolution.elitism = 500: must be smaller"):
        validate_overrides({"evolution.elitism": 500}, "sweep.toml")
    with pytest.raises(ConfigError, match="non-negative"):
        validate_setting("world.radius.red", -1)
    cfg = validate_overrides({"evolution.population": 50, "world.radius.red": 3, "seed": 9},
                             base=load_config(RUNS / "quickstart.toml"))
    assert (cfg.evolution.population, cfg.world.radius, cfg.seed, cfg.world.size) == (50, {"red": 3}, 9, 11)
    assert validate_setting("organisms.planning_cost", 1) == 1.0 and isinstance(validate_setting("organisms.planning_cost", 1), float)
    assert replace(cfg, **{"evolution.generations": 3}).evolution.generations == 3


def test_every_shipped_experiment_is_valid():
    files = [f for f in sorted(RUNS.glob("*.toml")) if "base" not in tomllib.loads(f.read_text())]  # not sweeps
    assert files
    for f in files:
        assert isinstance(load_config(f), Config)


# -- properties ----------------------------------------------------------------------------
def _check_valid(cfg: Config) -> None:
    """A returned config is really valid: it round-trips and meets the cross-field rules."""
    assert from_dict(to_dict(cfg)) == cfg
    assert cfg.evolution.elitism < cfg.evolution.population
    assert cfg.evolution.tournament_size <= cfg.evolution.population
    for section in ("world", "organisms", "evolution", "probe"):
        for v in to_dict(cfg)[section].values():
            assert not (isinstance(v, float) and not math.isfinite(v))


def _parse(doc) -> None:
    try:
        cfg = parse_config(doc, "fuzz.toml")
    except ConfigError as e:
        assert "\n" not in str(e)
        return
    _check_valid(cfg)


_scalars = st.one_of(st.booleans(), st.integers(-10**20, 10**20), st.integers(-3, 300),
                     st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1), st.text(max_size=12),
                     st.sampled_from(["red_door", "keys_chests", "ancestral_modern", "train", "control"]))
_values = st.recursive(_scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
                       max_leaves=6)
_paths = sorted(setting_paths())


@st.composite
def _documents(draw):
    doc: dict = {}
    for path in draw(st.lists(st.sampled_from(_paths + ["world.radius.red", "world.radius.door", "world.radius.x",
                                                        "evolution.populaton", "bogus"]), max_size=8)):
        value = draw(_values)
        parts = path.split(".")
        node = doc
        for p in parts[:-1]:
            node = node.setdefault(p, {}) if isinstance(node.get(p, {}), dict) else {}
        node[parts[-1]] = value
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents())
def test_random_documents_give_config_or_config_error(doc):
    """False if a random document crashes the validator with anything but ConfigError."""
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        text = None
    if text is not None:
        _parse(text)
    try:
        cfg = from_dict(doc, "fuzz")
    except ConfigError:
        return
    _check_valid(cfg)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"]),
                          st.integers(0, len(QUICK.encode())), st.integers(0, 40), st.binary(max_size=6)),
                min_size=1, max_size=4))
def test_mutated_documents_give_config_or_config_error(mutations):
    """False if a byte-level mutation of a shipped TOML file crashes the validator with anything but ConfigError."""
    raw = bytearray(QUICK.encode())
    for op, i, n, blob in mutations:
        i = min(i, len(raw))
        if op == "delete":
            del raw[i:i + n]
        elif op == "insert":
            raw[i:i] = blob
        elif op == "replace":
            raw[i:i + len(blob)] = blob
        elif op == "truncate":
            del raw[i:]
        else:
            lines = bytes(raw).splitlines(keepends=True)
            if lines:
                k = i % len(lines)
                lines.insert(k, lines[k])
            raw = bytearray(b"".join(lines))
    _parse(bytes(raw))


def test_valid_random_overrides_round_trip():
    """A TOML file written from a validated config reads back to the same config."""
    cfg = validate_overrides({"evolution.population": 64, "world.name": "keys_chests", "organisms.max_depth": 2})
    assert parse_config(tomli_w.dumps(to_dict(cfg)), "rt.toml") == cfg
    assert tomllib.loads(tomli_w.dumps(to_dict(cfg)))["evolution"]["population"] == 64


def test_world_names_come_from_the_registry(monkeypatch):
    """world.name's allowed values are exactly evosim.worlds.WORLDS, read at check time: a world registered
    later is accepted, and an unknown one is refused with the registered names as the allowed set."""
    from evosim.config import choices_of
    from evosim.worlds import WORLDS, World

    field = setting_paths()["world.name"]
    assert set(choices_of(field)) == set(WORLDS)

    class Fake(World):
        name = "fake_world"
        features = ("shiny",)

    monkeypatch.setitem(WORLDS, "fake_world", Fake)
    assert "fake_world" in choices_of(field)
    assert validate_setting("world.name", "fake_world") == "fake_world"
    with pytest.raises(ConfigError, match="fake_world"):
        validate_setting("world.name", "no_such_world")
    monkeypatch.delitem(WORLDS, "fake_world")
    with pytest.raises(ConfigError):
        validate_setting("world.name", "fake_world")


def test_heuristic_signal_setting():
    """``organisms.heuristic_signal``: "path" by default, "compass" accepted, anything else one clear line."""
    cfg = parse_config(QUICK, SRC)
    assert cfg.organisms.heuristic_signal == "path"
    assert parse_config(_sub("planning_cost = 0.0002", 'planning_cost = 0.0002\nheuristic_signal = "compass"'),
                        SRC).organisms.heuristic_signal == "compass"
    assert validate_setting("organisms.heuristic_signal", "compass") == "compass"
    with pytest.raises(ConfigError) as ei:
        validate_setting("organisms.heuristic_signal", "Path")
    msg = str(ei.value)
    assert "\n" not in msg and "organisms.heuristic_signal = 'Path'" in msg and "'path', 'compass'" in msg


def test_config_does_not_import_the_kernels():
    """False if importing and validating a config (with its world checks) pulls in the kernels, the GA or
    the model: config sits below them (fresh interpreter, sys.modules inspected)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = ("import sys, evosim.config as c; c.load_config(sys.argv[1]); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('evosim'))))")
    out = subprocess.run([sys.executable, "-c", code, str(root / "runs" / "quickstart.toml")], capture_output=True,
                         text=True, check=True, cwd=root).stdout.split()
    assert "evosim.config" in out and "evosim.architectures" in out
    assert not [m for m in out if m.startswith(("evosim.kernels", "evosim.ga", "evosim.model", "evosim.experiment"))], out
