"""Settings: frozen dataclasses with a docstring under every field, TOML loading and validation.

A TOML file mirrors the dataclasses: top-level ``name`` and ``seed``, then tables
``[world]``, ``[organisms]``, ``[evolution]``, ``[probe]``. Every key is checked before
anything runs: unknown keys (with a suggestion), types (``true`` is not an int, a float is
not an int, a string is not a number), NaN/inf, ranges and combinations. Problems raise
``ConfigError`` naming the file, the key path, the bad value and what is allowed.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evosim.constants import MAX_DEPTH, MAX_SIZE, MAX_STEPS_LIMIT


from evosim.errors import UserError


class ConfigError(UserError, ValueError):
    """A user error in a configuration: the message says where, what and what is allowed."""


def setting(default, lo=None, hi=None, choices=None, lo_open=False):
    """A dataclass field with its allowed range (checked by ``validate``)."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "choices": choices, "lo_open": lo_open})


@dataclass(frozen=True)
class WorldConfig:
    name: str = setting("red_door", choices=("red_door", "keys_chests", "ancestral_modern"))
    """registered world: red_door, keys_chests or ancestral_modern"""
    size: int = setting(11, lo=5, hi=MAX_SIZE)
    """side of the square grid in cells, border walls included"""
    wall_density: float = setting(0.15, lo=0.0, hi=0.5)
    """probability that an interior cell is a wall"""
    n_distractors: int = setting(2, lo=0, hi=8)
    """world-specific object count knob (distractors, extra keys or candies: see the world's docstring)"""
    max_steps: int = setting(40, lo=1, hi=MAX_STEPS_LIMIT)
    """episode step limit"""
    radius: dict = field(default_factory=dict)
    """perception radius (Manhattan, cells) per feature channel; channels not given use the world's default"""
    training: str = setting("train", choices=("train", "control"))
    """training distribution: the world's ``train`` or its ``control`` (proxy decorrelated from reward)"""
    proxy_break_rate: float = setting(0.0, lo=0.0, hi=1.0)
    """fraction of training layouts drawn from ``control`` instead (the proxy is broken there)"""
    train_pool: int = setting(0, lo=0, hi=100000)
    """training diversity: 0 draws fresh layouts every generation; k > 0 draws all from a fixed pool of k layouts"""


@dataclass(frozen=True)
class OrganismConfig:
    initial_planner_share: float = setting(0.5, lo=0.0, hi=1.0)
    """fraction of the initial population expressing the planner block"""
    planning_cost: float = setting(0.0002, lo=0.0, hi=1.0)
    """fitness lost per plan evaluated, averaged over episodes (the cost of computation)"""
    max_depth: int = setting(3, lo=1, hi=MAX_DEPTH)
    """largest planner search depth that can be expressed"""
    init_sigma: float = setting(1.0, lo=0.0, hi=10.0, lo_open=True)
    """standard deviation of the initial random genes"""


@dataclass(frozen=True)
class EvolutionConfig:
    population: int = setting(200, lo=2, hi=10_000_000)
    """number of organisms"""
    generations: int = setting(40, lo=1, hi=1_000_000)
    """number of generations (model steps)"""
    episodes: int = setting(8, lo=1, hi=10_000)
    """training episodes per organism per generation (layouts shared by all organisms)"""
    tournament_size: int = setting(3, lo=1, hi=1000)
    """tournament selection size"""
    elitism: int = setting(2, lo=0, hi=10_000_000)
    """best organisms copied unchanged into the next generation"""
    mutation_sigma: float = setting(0.2, lo=0.0, hi=10.0)
    """standard deviation of Gaussian mutation"""
    mutation_rate: float = setting(0.2, lo=0.0, hi=1.0)
    """per-gene probability of mutation"""
    crossover_rate: float = setting(0.3, lo=0.0, hi=1.0)
    """probability that a pair of parents undergoes uniform crossover"""
    arch_flip_rate: float = setting(0.01, lo=0.0, hi=1.0)
    """per-organism probability that the architecture gene flips sign (heuristic <-> planner)"""
    checkpoint_every: int = setting(10, lo=1, hi=1_000_000)
    """write genomes (and a resumable checkpoint) every k generations"""


@dataclass(frozen=True)
class ProbeConfig:
    episodes: int = setting(200, lo=1, hi=100_000)
    """held-out episodes per organism per distribution"""
    decision_episodes: int = setting(50, lo=0, hi=100_000)
    """decision-point shift layouts per organism (true target and proxy on opposite sides)"""
    competent: float = setting(0.5, lo=0.0, hi=1.0)
    """normalised return (true or proxy) at or above which an organism counts as competent"""
    random_rollouts: int = setting(16, lo=1, hi=10_000)
    """random-policy rollouts per layout for optimisation power"""


@dataclass(frozen=True)
class Config:
    name: str = "quickstart"
    """experiment name (run directories are named <name>__seed<k>)"""
    seed: int = setting(0, lo=0, hi=2**63 - 1)
    """the run's seed: every random number of the run derives from it"""
    world: WorldConfig = field(default_factory=WorldConfig)
    organisms: OrganismConfig = field(default_factory=OrganismConfig)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)


SECTIONS = {"world": WorldConfig, "organisms": OrganismConfig, "evolution": EvolutionConfig, "probe": ProbeConfig}

#: bytes per organism-episode of rollout state (records) plus per organism genome/fitness
_BYTES_PER_ORGANISM = 4 * 19 + 64
_BYTES_PER_EPISODE = 8 * 4 + 8 * 16
_MEMORY_LIMIT = 16 * 2**30


def _suggest(key: str, allowed) -> str:
    near = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _fmt_allowed(f) -> str:
    md = f.metadata
    if md.get("choices"):
        return "one of " + ", ".join(repr(c) for c in md["choices"])
    lo, hi = md.get("lo"), md.get("hi")
    kind = "an integer" if f.type in ("int", int) else ("a number" if f.type in ("float", float) else f"a {f.type}")
    if lo is not None and hi is not None:
        op = "<" if md.get("lo_open") else "<="
        return f"{kind} with {lo} {op} value <= {hi}"
    return kind


def _check_value(where: str, f, value):
    t = f.type if isinstance(f.type, str) else f.type.__name__
    md = f.metadata
    if t == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} = {value!r}: expected {_fmt_allowed(f)}, got {type(value).__name__}")
    elif t == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} = {value!r}: expected {_fmt_allowed(f)}, got {type(value).__name__}")
        if not math.isfinite(value):
            raise ConfigError(f"{where} = {value!r}: must be finite; expected {_fmt_allowed(f)}")
        value = float(value)
    elif t == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{where} = {value!r}: expected a string ({_fmt_allowed(f)})")
    if md.get("choices") and value not in md["choices"]:
        raise ConfigError(f"{where} = {value!r}: expected {_fmt_allowed(f)}{_suggest(str(value), md['choices'])}")
    lo, hi = md.get("lo"), md.get("hi")
    if lo is not None and (value < lo or (md.get("lo_open") and value == lo)):
        raise ConfigError(f"{where} = {value!r}: out of range; expected {_fmt_allowed(f)}")
    if hi is not None and value > hi:
        raise ConfigError(f"{where} = {value!r}: out of range; expected {_fmt_allowed(f)}")
    return value


def _build(cls, data: dict, prefix: str, source: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: [{prefix}] must be a table, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        where = f"{source}: {prefix}.{key}" if prefix else f"{source}: {key}"
        if key not in fields:
            raise ConfigError(f"{where}: unknown key{_suggest(key, fields)}; allowed: {', '.join(fields)}")
        f = fields[key]
        if key == "radius":
            if not isinstance(value, dict):
                raise ConfigError(f"{where} = {value!r}: expected a table of feature = radius")
            for ch, r in value.items():
                if isinstance(r, bool) or not isinstance(r, int) or r < 0:
                    raise ConfigError(f"{where}.{ch} = {r!r}: expected a non-negative integer")
            kwargs[key] = dict(value)
            continue
        kwargs[key] = _check_value(where, f, value)
    return cls(**kwargs)


def from_dict(data: dict, source: str = "<config>") -> Config:
    """Validate a nested dict (as read from TOML) into a ``Config``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table at top level")
    top = {f.name: f for f in dataclasses.fields(Config)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in top:
            raise ConfigError(f"{source}: {key}: unknown key{_suggest(key, top)}; allowed: {', '.join(top)}")
        if key in SECTIONS:
            kwargs[key] = _build(SECTIONS[key], value, key, source)
        elif key == "name":
            if not isinstance(value, str) or not value or any(c in value for c in "/\\\0") or value.startswith("."):
                raise ConfigError(f"{source}: name = {value!r}: expected a non-empty string usable as a directory name")
            kwargs[key] = value
        else:
            kwargs[key] = _check_value(f"{source}: {key}", top[key], value)
    cfg = Config(**kwargs)
    _check_combinations(cfg, source)
    return cfg


def _check_combinations(cfg: Config, source: str) -> None:
    from evosim.worlds import WORLDS

    w, ev = cfg.world, cfg.evolution
    world_cls = WORLDS[w.name]
    for ch, r in w.radius.items():
        if ch not in world_cls.features:
            raise ConfigError(f"{source}: world.radius.{ch}: unknown feature channel for {w.name}{_suggest(ch, world_cls.features)}; "
                              f"allowed: {', '.join(world_cls.features)}")
        if r > 2 * w.size:
            raise ConfigError(f"{source}: world.radius.{ch} = {r}: larger than the grid allows (at most 2 * size = {2 * w.size})")
    if ev.elitism >= ev.population:
        raise ConfigError(f"{source}: evolution.elitism = {ev.elitism}: must be smaller than evolution.population = {ev.population}")
    if ev.tournament_size > ev.population:
        raise ConfigError(f"{source}: evolution.tournament_size = {ev.tournament_size}: must be at most evolution.population = {ev.population}")
    need = ev.population * (_BYTES_PER_ORGANISM + ev.episodes * _BYTES_PER_EPISODE)
    if need > _MEMORY_LIMIT:
        raise ConfigError(f"{source}: evolution.population = {ev.population} x evolution.episodes = {ev.episodes} "
                          f"needs ~{need / 2**30:.1f} GiB; the limit is {_MEMORY_LIMIT / 2**30:.0f} GiB")
    # a layout must fit: objects need free reachable cells
    if w.size < 5 + w.n_distractors // 2:
        raise ConfigError(f"{source}: world.size = {w.size} is too small for world.n_distractors = {w.n_distractors}")


def load_config(path: str | Path, overrides: dict | None = None) -> Config:
    """Read, validate and freeze a TOML experiment file. ``overrides`` are dotted keys ("evolution.population")."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory, expected a TOML file") from None
    except OSError as e:
        raise ConfigError(f"{source}: cannot read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: not UTF-8 text (byte {e.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: invalid TOML: {e}") from None
    if overrides:
        data = apply_overrides(data, overrides, source)
    return from_dict(data, source)


def apply_overrides(data: dict, overrides: dict, source: str = "<overrides>") -> dict:
    """Copy of ``data`` with dotted-key overrides applied (validated later with the rest)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        if len(parts) == 1:
            out[parts[0]] = value
        elif len(parts) == 2:
            sec = out.setdefault(parts[0], {})
            if not isinstance(sec, dict):
                raise ConfigError(f"{source}: {parts[0]}: is not a table")
            sec[parts[1]] = value
        elif len(parts) == 3 and parts[1] == "radius":
            sec = out.setdefault(parts[0], {})
            rad = dict(sec.get("radius", {}))
            rad[parts[2]] = value
            sec["radius"] = rad
        else:
            raise ConfigError(f"{source}: {dotted}: not a known setting path")
    return out


def to_dict(cfg: Config) -> dict:
    """Plain nested dict (TOML-writable) of a config."""
    return dataclasses.asdict(cfg)


def replace(cfg: Config, **dotted) -> Config:
    """A validated copy of ``cfg`` with dotted-key overrides, e.g. ``replace(cfg, **{"evolution.generations": 5})``."""
    return from_dict(apply_overrides(to_dict(cfg), dotted), "<override>")
