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
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evosim import architectures as _architectures
from evosim.constants import (
    HEURISTIC_SIGNALS, MAX_DEPTH, MAX_SIZE, MAX_STEPS_LIMIT, NET_MAX_CHANNELS, NET_MAX_ITERATIONS, NETWORK_ACTIVATIONS,
)
from evosim.errors import UserError
from evosim.memory import estimate_memory, format_bytes, memory_limit


class ConfigError(UserError, ValueError):
    """A user error in a configuration: the message says where, what and what is allowed."""


def setting(default, lo=None, hi=None, choices=None, lo_open=False):
    """A dataclass field with its allowed range (checked by ``validate``).

    ``choices`` is a tuple of allowed values or a function returning one, read each time a value
    is checked (so that choices kept in a registry, such as world names, have one source).
    """
    return field(default=default, metadata={"lo": lo, "hi": hi, "choices": choices, "lo_open": lo_open})


def choices_of(f) -> tuple | None:
    """The allowed values of setting field ``f`` (None: any value in range)."""
    c = f.metadata.get("choices")
    return tuple(c()) if callable(c) else c


def world_names() -> tuple[str, ...]:
    """Names of the registered worlds (``evosim.worlds.WORLDS``, imported lazily: worlds never import config)."""
    from evosim.worlds import WORLDS

    return tuple(WORLDS)


@dataclass(frozen=True)
class WorldConfig:
    name: str = setting("red_door", choices=world_names)
    """registered world: a name in ``evosim.worlds.WORLDS`` (shipped: red_door, keys_chests, ancestral_modern)"""
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
    training_selection: str = setting("uniform", choices=("uniform", "regret"))
    """which training layouts a generation plays: uniform = the layouts drawn (``evolution.episodes`` of them);
    regret = draw ``regret_pool`` x ``evolution.episodes`` candidates from the same training distribution (same
    ``proxy_break_rate``, same pool), roll the population out on all of them and keep, as its fitness, the
    ``evolution.episodes`` candidates where the population's regret (the exact oracle's return minus the
    population's mean return on that layout) is highest, as prioritised level replay does. Never sees shift
    layouts; costs ``regret_pool`` times the training rollouts"""
    regret_pool: int = setting(4, lo=2, hi=1000)
    """candidate training layouts per training episode under ``training_selection = "regret"`` (ignored under uniform)"""


#: architectures ``organisms.initial_shares`` may name: the registered ones (``evosim.architectures``)
ARCHITECTURE_NAMES = _architectures.NAMES


@dataclass(frozen=True)
class OrganismConfig:
    initial_planner_share: float = setting(0.5, lo=0.0, hi=1.0)
    """fraction of the initial population expressing the planner block (the rest: heuristics); shorthand for
    ``initial_shares = { heuristic = 1 - share, planner = share }``; give one of the two, not both"""
    initial_shares: dict = field(default_factory=dict)
    """initial share of each architecture, e.g. ``{ heuristic = 0.45, planner = 0.1, memoriser = 0.45 }``
    (names: heuristic, planner, memoriser, network; non-negative, summing to 1; architectures left out start at 0).
    Empty: ``initial_planner_share`` decides. ``memoriser = 0`` (or left out) means memorisers are not part
    of the experiment: the memoriser gene starts negative and never mutates or flips (unless
    ``memoriser_flips``), and tables list only heuristic and planner as architectures"""
    memoriser_flips: bool = setting(False)
    """let the memoriser gene mutate and flip (at ``evolution.arch_flip_rate``) even when no memoriser starts
    (memorisers can then arise by mutation); always on when ``initial_shares.memoriser`` > 0"""
    min_depth: int = setting(1, lo=0, hi=MAX_DEPTH)
    """smallest planner search depth that can be expressed: 1 (the original expression) or 0 (a planner
    of depth 0 does no search: it moves along the path gradient of its utility over what it perceives)"""
    description_cost: float = setting(0.0, lo=0.0, hi=1.0)
    """fitness lost per expressed gene (a description-length, simplicity pressure): heuristic 2 x features + 4,
    planner features + 2, memoriser min(64, world.max_steps), network 9 C^2 + 9 C (1 + features) + 3 C + features + 4
    with C = network_channels (``evosim.genome.expressed_genes``)"""
    planning_cost: float = setting(0.0002, lo=0.0, hi=1.0)
    """fitness lost per unit of search work (per episode, averaged over episodes; the cost of computation): for
    planners objects scored + plans evaluated, for networks hidden-state cells updated (the cells the readout
    depends on, summed over iterations)"""
    heuristic_signal: str = setting("path", choices=HEURISTIC_SIGNALS)
    """what the heuristic senses: path = BFS-gradient toward perceived objects, the same distances the planner uses; compass = Manhattan-direction sums, the old signal"""
    max_depth: int = setting(3, lo=1, hi=MAX_DEPTH)
    """largest planner search depth that can be expressed"""
    init_sigma: float = setting(1.0, lo=0.0, hi=10.0, lo_open=True)
    """standard deviation of the initial random genes"""
    init_bias: float = setting(0.0, lo=-10.0, hi=10.0)
    """shift of the generation-0 mean of the cue genes: + init_bias on the world's proxy cue channel and
    - init_bias on its true cue channel (``world.proxy_feature``, ``world.true_feature``), for planner
    utilities and heuristic attraction weights alike; added after the draws (0: today's populations exactly);
    mutation is unchanged"""
    network_flips: bool = setting(False)
    """let the network gene mutate and flip (at ``evolution.arch_flip_rate``) even when no network starts
    (networks can then arise by mutation); always on when ``initial_shares.network`` > 0. Without either, the
    network block never changes and no network exists"""
    network_channels: int = setting(4, lo=1, hi=NET_MAX_CHANNELS)
    """hidden channels of a network's recurrent state (the genome holds 8; the first ones are used)"""
    network_min_iterations: int = setting(0, lo=0, hi=NET_MAX_ITERATIONS)
    """fewest recurrent iterations per step a network can express (0: a reactive network, whose readout
    sees only the cells next to it)"""
    network_max_iterations: int = setting(8, lo=0, hi=NET_MAX_ITERATIONS)
    """most recurrent iterations per step a network can express (the ``n_iterations`` gene is clipped to
    min..max)"""
    network_activation: str = setting("tanh", choices=NETWORK_ACTIVATIONS)
    """the network's nonlinearity after each convolution: tanh or relu"""
    network_window: int = setting(0, lo=0, hi=MAX_SIZE)
    """half-width of the square window around the organism that holds a network's hidden state (cells of
    Chebyshev distance <= window; the state is 0 outside it); 0: the whole grid. A window must hold
    everything perceivable: at least the world's largest perception radius"""


@dataclass(frozen=True)
class EvolutionConfig:
    population: int = setting(200, lo=2, hi=2**62)
    """number of organisms"""
    generations: int = setting(40, lo=1, hi=1_000_000)
    """number of generations (model steps)"""
    episodes: int = setting(8, lo=1, hi=10_000)
    """training episodes per organism per generation (layouts shared by all organisms)"""
    tournament_size: int = setting(3, lo=1, hi=1000)
    """tournament selection size"""
    elitism: int = setting(2, lo=0, hi=2**62)
    """best organisms copied unchanged into the next generation"""
    mutation_sigma: float = setting(0.2, lo=0.0, hi=10.0)
    """standard deviation of Gaussian mutation"""
    mutation_rate: float = setting(0.2, lo=0.0, hi=1.0)
    """per-gene probability of mutation"""
    crossover_rate: float = setting(0.3, lo=0.0, hi=1.0)
    """probability that a pair of parents undergoes uniform crossover"""
    arch_flip_rate: float = setting(0.01, lo=0.0, hi=1.0)
    """per-organism probability that the architecture gene flips sign (heuristic <-> planner); at 0 the
    architecture genes (ARCH, the memoriser gene) are also left out of mutation, so a child's architecture is
    one parent's and a single-architecture population stays so"""
    neutral: bool = setting(False)
    """fitness-blind reproduction (a drift control): each parent is the first contestant of its tournament
    (the same draws as tournament selection, uniformly random), and there are no elites (every organism is bred)"""
    checkpoint_every: int = setting(10, lo=1, hi=1_000_000)
    """write genomes (and a resumable checkpoint) every k generations"""
    keep_all_genomes: bool = setting(False)
    """also write every generation's genomes (genomes_<g>.parquet parts; for lineage analysis,
    ``analysis/lineages.py``); checkpoints stay every ``checkpoint_every`` generations"""


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
    intervention_planners: int = setting(100, lo=0, hi=100_000)
    """planners of the final population whose mesa-objective the causal check edits (the first ones)"""


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

# -- messages --------------------------------------------------------------------------------
def _suggest(key: str, allowed) -> str:
    near = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _key(k) -> str:
    """A key as it would be written in TOML (quoted if it is not a bare key)."""
    k = str(k)
    return k if k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k) else json.dumps(k)


def _val(v) -> str:
    """A value for a one-line message (long values shortened)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    try:
        r = repr(v)
    except Exception:  # noqa: BLE001 - a value whose repr fails must still give a message
        r = f"<{type(v).__name__}>"
    return r if len(r) <= 60 else r[:57] + "..."


def _tname(v) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array",
            dict: "a table"}.get(type(v), type(v).__name__)


def _fmt_allowed(f) -> str:
    md = f.metadata
    choices = choices_of(f)
    if choices:
        return "one of " + ", ".join(repr(c) for c in choices)
    lo, hi = md.get("lo"), md.get("hi")
    kind = "an integer" if f.type in ("int", int) else ("a number" if f.type in ("float", float) else f"a {f.type}")
    if lo is not None and hi is not None:
        op = "<" if md.get("lo_open") else "<="
        if hi >= 2**62:  # bounded by memory and 64-bit ids, not by a fixed number
            return f"{kind} >= {lo}" if hi == 2**62 else f"{kind} with {lo} {op} value < 2**63"
        return f"{kind} with {lo} {op} value <= {hi}"
    return kind


def _check_value(where: str, f, value):
    t = f.type if isinstance(f.type, str) else f.type.__name__
    md = f.metadata
    if t == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} = {_val(value)}: expected true or false, got {_tname(value)}")
        return value
    if t == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} = {_val(value)}: expected {_fmt_allowed(f)}, got {_tname(value)}")
    elif t == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} = {_val(value)}: expected {_fmt_allowed(f)}, got {_tname(value)}")
        if not math.isfinite(value):
            raise ConfigError(f"{where} = {_val(value)}: must be a finite number; expected {_fmt_allowed(f)}")
        value = float(value)
    elif t == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{where} = {_val(value)}: expected a string ({_fmt_allowed(f)}), got {_tname(value)}")
    choices = choices_of(f)
    if choices and value not in choices:
        raise ConfigError(f"{where} = {_val(value)}: expected {_fmt_allowed(f)}{_suggest(value, choices)}")
    lo, hi = md.get("lo"), md.get("hi")
    if lo is not None and (value < lo or (md.get("lo_open") and value == lo)):
        raise ConfigError(f"{where} = {_val(value)}: out of range; expected {_fmt_allowed(f)}")
    if hi is not None and value > hi:
        raise ConfigError(f"{where} = {_val(value)}: out of range; expected {_fmt_allowed(f)}")
    return value


def _check_shares(where: str, value) -> dict:
    """``organisms.initial_shares``: a table of architecture = share, shares >= 0 summing to 1."""
    allowed = ", ".join(ARCHITECTURE_NAMES)
    if not isinstance(value, dict):
        raise ConfigError(f"{where} = {_val(value)}: expected a table of architecture = share, e.g. "
                          f"initial_shares = {{ heuristic = 0.45, planner = 0.1, memoriser = 0.45 }}")
    out = {}
    for a, v in value.items():
        if a not in ARCHITECTURE_NAMES:
            raise ConfigError(f"{where}.{_key(a)}: unknown architecture{_suggest(a, ARCHITECTURE_NAMES)}; "
                              f"allowed: {allowed}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or v > 1:
            raise ConfigError(f"{where}.{_key(a)} = {_val(v)}: expected a share, a number with 0 <= value <= 1")
        out[a] = float(v)
    if out and abs(sum(out.values()) - 1.0) > 1e-9:
        raise ConfigError(f"{where} = {_val(value)}: shares sum to {sum(out.values()):.6g}; allowed: "
                          f"non-negative shares of {allowed} summing to 1")
    return out


def _check_radius(where: str, value) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} = {_val(value)}: expected a table of feature = radius, e.g. radius = {{ red = 8 }}")
    for ch, r in value.items():
        if isinstance(r, bool) or not isinstance(r, int) or r < 0:
            raise ConfigError(f"{where}.{_key(ch)} = {_val(r)}: expected a non-negative integer (cells)")
    return dict(value)


def _build(cls, data, prefix: str, source: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix} = {_val(data)}: expected a table [{prefix}], got {_tname(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        where = f"{source}: {prefix}.{_key(key)}"
        if key not in fields:
            raise ConfigError(f"{where}: unknown key{_suggest(key, fields)}; allowed in [{prefix}]: {', '.join(fields)}")
        if key == "radius":
            kwargs[key] = _check_radius(where, value)
            continue
        if key == "initial_shares":
            kwargs[key] = _check_shares(where, value)
            continue
        kwargs[key] = _check_value(where, fields[key], value)
    return cls(**kwargs)


def _check_name(where: str, value) -> str:
    if (not isinstance(value, str) or not value or value.startswith(".") or len(value) > 200
            or any(c in value for c in "/\\") or not value.isprintable()):
        raise ConfigError(f"{where} = {_val(value)}: expected a non-empty string usable as a directory name "
                          f"(printable, no '/' or '\\', not starting with '.', at most 200 characters)")
    return value


def from_dict(data: dict, source: str = "<config>") -> Config:
    """Validate a nested dict (as read from TOML) into a ``Config``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table at top level, got {_tname(data)}")
    top = {f.name: f for f in dataclasses.fields(Config)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in top:
            raise ConfigError(f"{source}: {_key(key)}: unknown key{_suggest(key, top)}; allowed at top level: {', '.join(top)}")
        if key in SECTIONS:
            if (key == "organisms" and isinstance(value, dict) and "initial_planner_share" in value
                    and value.get("initial_shares")):
                raise ConfigError(f"{source}: organisms.initial_shares and organisms.initial_planner_share are both "
                                  f"given; allowed: one of them (initial_planner_share is the shorthand for "
                                  f"heuristic and planner only)")
            kwargs[key] = _build(SECTIONS[key], value, key, source)
        elif key == "name":
            kwargs[key] = _check_name(f"{source}: name", value)
        else:
            kwargs[key] = _check_value(f"{source}: {key}", top[key], value)
    cfg = Config(**kwargs)
    _check_combinations(cfg, source)
    return cfg


def _check_combinations(cfg: Config, source: str) -> None:
    from evosim.worlds import WORLDS

    w, ev, org = cfg.world, cfg.evolution, cfg.organisms
    world_cls = WORLDS[w.name]
    if org.network_min_iterations > org.network_max_iterations:
        raise ConfigError(f"{source}: organisms.network_min_iterations = {org.network_min_iterations}: larger than "
                          f"organisms.network_max_iterations = {org.network_max_iterations}; allowed: "
                          f"0 <= network_min_iterations <= network_max_iterations <= {NET_MAX_ITERATIONS}")
    if org.network_window > 0:
        radius = dict(world_cls.default_radius)
        radius.update({k: v for k, v in w.radius.items() if k in world_cls.features})
        widest = max(radius.values())
        if org.network_window < widest:
            raise ConfigError(f"{source}: organisms.network_window = {org.network_window}: smaller than the largest "
                              f"perception radius of world {w.name!r} ({widest}); allowed: 0 (the whole grid) or a "
                              f"window >= {widest}")
    if org.min_depth > org.max_depth:
        raise ConfigError(f"{source}: organisms.min_depth = {org.min_depth}: larger than organisms.max_depth = "
                          f"{org.max_depth}; allowed: 0 <= min_depth <= max_depth")
    far = 2 * (w.size - 1)
    for ch, r in w.radius.items():
        if ch not in world_cls.features:
            raise ConfigError(f"{source}: world.radius.{_key(ch)}: unknown feature channel for world {w.name!r}"
                              f"{_suggest(ch, world_cls.features)}; allowed: {', '.join(world_cls.features)}")
        if r > far:
            raise ConfigError(f"{source}: world.radius.{_key(ch)} = {r}: larger than the grid; with world.size = {w.size} "
                              f"no two cells are more than {far} apart (allowed: 0 <= radius <= {far})")
    if ev.elitism >= ev.population:
        raise ConfigError(f"{source}: evolution.elitism = {ev.elitism}: must be smaller than evolution.population = {ev.population}")
    if ev.tournament_size > ev.population:
        raise ConfigError(f"{source}: evolution.tournament_size = {ev.tournament_size}: must be at most "
                          f"evolution.population = {ev.population}")
    need, have = estimate_memory(cfg), memory_limit()
    if need > have:
        raise ConfigError(f"{source}: evolution.population = {ev.population} (with evolution.episodes = {ev.episodes}, "
                          f"world.size = {w.size}) needs ~{format_bytes(need)} of memory; this machine has "
                          f"{format_bytes(have)}: use a smaller population or fewer episodes")
    if ev.generations * ev.population >= 2**62:
        raise ConfigError(f"{source}: evolution.generations x evolution.population = {ev.generations * ev.population}: "
                          f"organism ids would overflow 64 bits; allowed: a product below 2**62")
    # a layout must fit: objects need free reachable cells
    if w.size < 5 + w.n_distractors // 2:
        raise ConfigError(f"{source}: world.size = {w.size} is too small for world.n_distractors = {w.n_distractors}; "
                          f"allowed: size >= {5 + w.n_distractors // 2}")


# -- reading ---------------------------------------------------------------------------------
def _toml_error(source: str, text: str, e: Exception) -> ConfigError:
    msg = str(e)
    m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
    what = msg[: m.start()].strip() if m else msg
    if what.startswith("Cannot overwrite a value") or (what.startswith("Cannot declare") and "twice" in what):
        what = f"duplicate key or table ({what}); each key may be given once"
    if m:
        line = int(m.group(1))
        lines = text.splitlines()
        shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        return ConfigError(f"{source}:{line}: invalid TOML: {what}: {_val(shown)}")
    if "end of document" in msg:
        return ConfigError(f"{source}: invalid TOML: {what} (is the file truncated?)")
    return ConfigError(f"{source}: invalid TOML: {what}")


def parse_config(raw: bytes | str, source: str = "<config>", overrides: dict | None = None,
                 overrides_source: str = "overrides") -> Config:
    """Validate the bytes (or text) of a TOML experiment file, plus dotted-key ``overrides``."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise ConfigError(f"{source}:{line}: not UTF-8 text (byte {e.start} is {raw[e.start]:#04x}); "
                              f"save the file as UTF-8") from None
    else:
        text = raw
    if "\0" in text:
        raise ConfigError(f"{source}: contains NUL bytes; expected a UTF-8 TOML text file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _toml_error(source, text, e) from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid TOML: arrays or tables nested too deeply") from None
    if overrides:
        data = apply_overrides(data, validate_settings(overrides, overrides_source), overrides_source)
        source = f"{source} with {overrides_source}"
    return from_dict(data, source)


def read_input(path: Path, error: type[Exception], expected: str, example: str) -> bytes:
    """The bytes of an input file, or ``error`` saying why not (missing, a directory, unreadable)."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: no such file; expected {expected} such as {example}") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, expected {expected}") from None
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror}") from None


def load_config(path: str | Path, overrides: dict | None = None, overrides_source: str = "overrides") -> Config:
    """Read, validate and freeze a TOML experiment file. ``overrides`` are dotted keys ("evolution.population")."""
    path = Path(path)
    source = str(path)
    raw = read_input(path, ConfigError, "a TOML experiment file", "runs/quickstart.toml")
    if not raw.strip():
        raise ConfigError(f"{source}: is empty; expected a TOML experiment file (see runs/quickstart.toml)")
    return parse_config(raw, source, overrides, overrides_source)


# -- overrides (command line, sweeps, keyword parameters) -------------------------------------
def setting_paths() -> dict[str, Any]:
    """Every dotted setting path and its dataclass field (``world.radius`` takes ``world.radius.<feature>``)."""
    out = {f.name: f for f in dataclasses.fields(Config) if f.name not in SECTIONS}
    for sec, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            out[f"{sec}.{f.name}"] = f
    return out


def validate_setting(dotted: str, value, source: str = "overrides"):
    """Check one dotted setting and its value on its own (type, range, choices); returns the value to use.

    Combinations (elitism < population, radius within the grid, memory) need the whole
    config: ``validate_overrides`` checks those too.
    """
    paths = setting_paths()
    if not isinstance(dotted, str):
        raise ConfigError(f"{source}: {_val(dotted)}: a setting path must be a string like 'evolution.population'")
    where = f"{source}: {dotted}"
    parts = dotted.split(".")
    if len(parts) == 3 and parts[:2] == ["world", "radius"]:
        return _check_radius(f"{source}: world.radius", {parts[2]: value})[parts[2]]
    if len(parts) == 3 and parts[:2] == ["organisms", "initial_shares"]:
        sh = {parts[2]: value}
        if parts[2] not in ARCHITECTURE_NAMES or isinstance(value, bool) or not isinstance(value, (int, float)):
            return _check_shares(f"{source}: organisms.initial_shares", sh)[parts[2]]
        return value  # the sum is checked with the whole table
    if dotted in SECTIONS:
        raise ConfigError(f"{where}: is a table; set its keys one by one, e.g. '{dotted}.<key>'")
    if dotted not in paths:
        raise ConfigError(f"{where}: unknown setting{_suggest(dotted, paths)}; settings look like "
                          f"'evolution.population' or 'world.radius.red'")
    f = paths[dotted]
    if dotted == "name":
        return _check_name(where, value)
    if dotted == "world.radius":
        return _check_radius(where, value)
    if dotted == "organisms.initial_shares":
        return _check_shares(where, value)
    return _check_value(where, f, value)


def validate_settings(overrides: dict, source: str = "overrides") -> dict:
    """Check every dotted setting of ``overrides`` on its own; returns the checked dict."""
    if not isinstance(overrides, dict):
        raise ConfigError(f"{source}: expected a table of setting = value, got {_tname(overrides)}")
    return {k: validate_setting(k, v, source) for k, v in overrides.items()}


def validate_overrides(overrides: dict, source: str = "overrides", base: Config | dict | None = None) -> Config:
    """The validated ``Config`` of ``base`` (default: the defaults) with dotted-key ``overrides`` applied.

    The one entry point for sweeps and reports: each setting is checked on its own (message
    names ``source`` and the setting), then the whole config is checked (combinations, memory).
    """
    checked = validate_settings(overrides, source)
    data = to_dict(base) if isinstance(base, Config) else dict(base or {})
    # initial_shares and initial_planner_share are alternatives: setting one replaces the base's other
    touched_ps = "organisms.initial_planner_share" in checked
    touched_sh = any(str(k).startswith("organisms.initial_shares") for k in checked)
    org = data.get("organisms")
    if isinstance(org, dict) and touched_ps != touched_sh:
        org = dict(org)
        org.pop("initial_shares" if touched_ps else "initial_planner_share", None)
        data["organisms"] = org
    return from_dict(apply_overrides(data, checked, source), source)


def apply_overrides(data: dict, overrides: dict, source: str = "overrides") -> dict:
    """Copy of ``data`` with dotted-key overrides applied (validated later with the rest)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for dotted, value in overrides.items():
        parts = str(dotted).split(".")
        if len(parts) == 1:
            out[parts[0]] = value
        elif len(parts) == 2:
            sec = out.get(parts[0])
            sec = dict(sec) if isinstance(sec, dict) else ({} if sec is None else sec)
            if not isinstance(sec, dict):
                raise ConfigError(f"{source}: {parts[0]}: is not a table")
            sec[parts[1]] = value
            out[parts[0]] = sec
        elif len(parts) == 3 and parts[1] in ("radius", "initial_shares"):
            sec = out.get(parts[0])
            sec = dict(sec) if isinstance(sec, dict) else {}
            rad = sec.get(parts[1], {})
            rad = dict(rad) if isinstance(rad, dict) else {}
            rad[parts[2]] = value
            sec[parts[1]] = rad
            out[parts[0]] = sec
        else:
            raise ConfigError(f"{source}: {dotted}: not a known setting path{_suggest(dotted, setting_paths())}")
    return out


def to_dict(cfg: Config) -> dict:
    """Plain nested dict (TOML-writable) of a config. With ``organisms.initial_shares`` given, the
    shorthand ``initial_planner_share`` is left out (the two are alternatives; reading both is an error)."""
    d = dataclasses.asdict(cfg)
    if d["organisms"].get("initial_shares"):
        d["organisms"].pop("initial_planner_share", None)
    # the architecture-competition settings (shares, memorisers, depths, costs) and the training selection are written only when set, so that a
    # config using none of them is written (config.toml, the resume check, sweep cell hashes) exactly as before they existed
    for sec, defaults in QUIET_DEFAULTS.items():
        for k, v in defaults.items():
            if k in d[sec] and d[sec][k] == v and type(d[sec][k]) is type(v):
                del d[sec][k]
    return d


#: settings ``to_dict`` leaves out at their default value (see there)
QUIET_DEFAULTS = {
    "world": {"training_selection": "uniform", "regret_pool": 4},
    "organisms": {"initial_shares": {}, "memoriser_flips": False, "min_depth": 1, "description_cost": 0.0,
                  "init_bias": 0.0, "network_flips": False, "network_channels": 4, "network_min_iterations": 0,
                  "network_max_iterations": 8, "network_activation": "tanh", "network_window": 0},
    "evolution": {"keep_all_genomes": False, "neutral": False},
}


def resolved_shares(org: OrganismConfig) -> dict[str, float]:
    """Initial share of every architecture (``ARCHITECTURE_NAMES`` order): ``initial_shares`` if given
    (architectures left out: 0), else heuristic 1 - initial_planner_share, planner initial_planner_share."""
    if org.initial_shares:
        return {a: float(org.initial_shares.get(a, 0.0)) for a in ARCHITECTURE_NAMES}
    two = {"heuristic": 1.0 - org.initial_planner_share, "planner": org.initial_planner_share}
    return {a: two.get(a, 0.0) for a in ARCHITECTURE_NAMES}


def memorisers_enabled(org: OrganismConfig) -> bool:
    """Whether memorisers are part of the experiment: a positive initial memoriser share or
    ``memoriser_flips``. If not, the memoriser gene never changes and no memoriser can exist."""
    return resolved_shares(org)["memoriser"] > 0 or bool(org.memoriser_flips)


def networks_enabled(org: OrganismConfig) -> bool:
    """Whether networks are part of the experiment: a positive initial network share or ``network_flips``.
    If not, the network block never changes, no network can exist and no table lists them."""
    return resolved_shares(org)["network"] > 0 or bool(org.network_flips)


def replace(cfg: Config, **dotted) -> Config:
    """A validated copy of ``cfg`` with dotted-key overrides, e.g. ``replace(cfg, **{"evolution.generations": 5})``."""
    return validate_overrides(dotted, "<override>", base=cfg)
