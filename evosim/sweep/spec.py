"""The sweep file and the plan: what a sweep is, checked strictly, and the runs it makes.

Owns ``SweepError``, the checking and reading of a sweep TOML (``load_sweep`` -> ``Sweep``;
``setting_paths`` lists the settings a sweep may vary) and the planning of its runs
(``plan_runs`` -> one ``RunSpec`` per (cell, seed), named by ``config_hash``). Nothing here
writes a file or runs anything (``evosim.sweep.execute`` does).
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from evosim.config import SECTIONS, Config, ConfigError, from_dict, load_config, read_input, to_dict, validate_overrides
from evosim.errors import UserError

_FILE_KEYS = ("base", "name", "out", "description", "seeds", "grid", "cells")
_SEED_MAX = 2**63 - 1


class SweepError(UserError):
    """A user error in a sweep file or sweep invocation: the message names file, key, value and what is allowed."""


def _suggest(key: str, allowed) -> str:
    import difflib

    near = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


# -- the sweep file --------------------------------------------------------------------------
def setting_paths() -> list[str]:
    """Every dotted setting a sweep may vary (``world.radius.<channel>`` for every world's channels)."""
    from evosim.worlds import WORLDS

    paths = []
    for sec, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            if f.name == "radius":
                chans = sorted({c for w in WORLDS.values() for c in w.features})
                paths += [f"{sec}.radius.{c}" for c in chans]
            else:
                paths.append(f"{sec}.{f.name}")
    return paths


def _flatten(table: dict, prefix: str = "") -> dict:
    """``{"world": {"size": [..]}}`` and ``{"world.size": [..]}`` both -> ``{"world.size": [..]}``."""
    out = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def _check_key(src: str, where: str, key: str, allowed: list[str]) -> None:
    if key in ("seed", "name"):
        raise SweepError(f"{src}: {where}.{key}: cannot be swept; list the seeds in `seeds = [...]` "
                         f"(the run name comes from the sweep)")
    if key not in allowed:
        raise SweepError(f"{src}: {where}: unknown setting {key!r}{_suggest(key, allowed)}; "
                         f"allowed: section.field, e.g. world.train_pool, organisms.planning_cost, world.size")


def _scalar(v) -> bool:
    return isinstance(v, (bool, int, float, str))


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file: base experiment, swept keys, cells (override dicts) and seeds."""

    path: Path
    name: str
    base_path: Path
    base: dict
    """the base experiment as read from its TOML (overrides are applied to this dict)"""
    keys: tuple[str, ...]
    """swept settings in file order (grid keys first, then keys that only [[cells]] set)"""
    grid_keys: tuple[str, ...]
    cells: tuple[dict, ...]
    seeds: tuple[int, ...]
    out: Path
    description: str = ""
    raw: bytes = field(default=b"", repr=False)


def load_sweep(path: str | Path, out: str | Path | None = None) -> Sweep:
    """Read and strictly validate a sweep file (nothing is written). Raises ``SweepError``."""
    path = Path(path)
    src = str(path)
    raw = read_input(path, SweepError, "a sweep TOML file", "runs/conditions.toml")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise SweepError(f"{src}: not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{src}: invalid TOML: {e}") from None
    for k in data:
        if k not in _FILE_KEYS:
            raise SweepError(f"{src}: {k}: unknown key{_suggest(k, _FILE_KEYS)}; allowed: {', '.join(_FILE_KEYS)}")
    # base
    if "base" not in data:
        raise SweepError(f"{src}: base: missing; name the base experiment, e.g. base = \"red_door.toml\"")
    if not isinstance(data["base"], str) or not data["base"]:
        raise SweepError(f"{src}: base = {data['base']!r}: expected a path to an experiment TOML file")
    base_path = (path.parent / data["base"]).resolve()
    try:
        base = tomllib.loads(base_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{src}: base = {data['base']!r}: no such file ({base_path})") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SweepError(f"{src}: base = {data['base']!r}: cannot read it: {e}") from None
    try:
        load_config(base_path)
    except ConfigError as e:
        raise SweepError(f"{src}: base = {data['base']!r} is not a valid experiment: {e}") from None
    # name, description, out
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name or any(c in name for c in "/\\\0") or name.startswith("."):
        raise SweepError(f"{src}: name = {name!r}: expected a non-empty string usable as a directory name")
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise SweepError(f"{src}: description = {desc!r}: expected a string")
    if out is None:
        out = data.get("out", f"runs/out/{name}")
        if not isinstance(out, str) or not out:
            raise SweepError(f"{src}: out = {out!r}: expected a directory path")
    # seeds
    if "seeds" not in data:
        raise SweepError(f"{src}: seeds: missing; expected a list of distinct non-negative integers, e.g. seeds = [1, 2, 3]")
    seeds = data["seeds"]
    if not isinstance(seeds, list) or not seeds:
        raise SweepError(f"{src}: seeds = {seeds!r}: expected a non-empty list of distinct non-negative integers")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= _SEED_MAX:
            raise SweepError(f"{src}: seeds: {s!r} is not allowed; expected integers with 0 <= seed <= {_SEED_MAX}")
    if len(set(seeds)) != len(seeds):
        dup = sorted({s for s in seeds if seeds.count(s) > 1})
        raise SweepError(f"{src}: seeds: {dup} repeated; each seed may appear once")
    # grid and cells
    allowed = setting_paths()
    grid_raw = data.get("grid", {})
    if not isinstance(grid_raw, dict):
        raise SweepError(f"{src}: grid = {grid_raw!r}: expected a table of setting = [values]")
    grid = _flatten(grid_raw)
    for key, values in grid.items():
        _check_key(src, "grid", key, allowed)
        if not isinstance(values, list):
            raise SweepError(f"{src}: grid.{key} = {values!r}: expected a list of values, e.g. [{values!r}]")
        if not values:
            raise SweepError(f"{src}: grid.{key} = []: empty list; give at least one value")
        for v in values:
            if not _scalar(v):
                raise SweepError(f"{src}: grid.{key}: value {v!r} is not allowed; expected numbers, strings or booleans")
        for i, v in enumerate(values):
            if any(_same(v, w) for w in values[:i]):
                raise SweepError(f"{src}: grid.{key}: value {v!r} repeated; each value may appear once")
    cells_raw = data.get("cells", None)
    if cells_raw is not None:
        if not isinstance(cells_raw, list) or not all(isinstance(c, dict) for c in cells_raw):
            raise SweepError(f"{src}: cells: expected an array of tables ([[cells]] sections)")
        if not cells_raw:
            raise SweepError(f"{src}: cells = []: empty; give at least one [[cells]] table or remove the key")
    cell_list = [_flatten(c) for c in (cells_raw or [])]
    for i, c in enumerate(cell_list):
        for key, v in c.items():
            _check_key(src, f"cells[{i}]", key, allowed)
            if key in grid:
                raise SweepError(f"{src}: cells[{i}].{key}: also a grid key; set it in one place only")
            if not _scalar(v):
                raise SweepError(f"{src}: cells[{i}].{key} = {v!r}: expected one number, string or boolean")
    if not grid and not cell_list:
        raise SweepError(f"{src}: empty grid: give [grid] with at least one setting = [values] or [[cells]] tables")
    combos = [dict(zip(grid, vals)) for vals in itertools.product(*grid.values())] if grid else [{}]
    cells = [{**c, **g} for c in (cell_list or [{}]) for g in combos]
    keys = list(grid) + [k for c in cell_list for k in c if k not in grid]
    keys = tuple(dict.fromkeys(keys))
    return Sweep(path=path.resolve(), name=name, base_path=base_path, base=base, keys=keys, grid_keys=tuple(grid),
                 cells=tuple(cells), seeds=tuple(seeds), out=Path(out), description=desc, raw=raw)


# -- planning: one RunSpec per (cell, seed) --------------------------------------------------
def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(cfg: Config) -> str:
    """Identity of a run: SHA-256 of its resolved config (seed included) as canonical JSON, 16 hex digits."""
    return hashlib.sha256(_canonical(to_dict(cfg)).encode()).hexdigest()[:16]


def _lookup(d: dict, dotted: str):
    cur = d
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: plain data, sent to a worker."""

    cell: int
    seed: int
    values: dict
    """the cell's value of every swept key (base value where the cell leaves it)"""
    cell_hash: str
    run_dir: str
    config: dict | None
    """the resolved config as a dict (None if the overrides were rejected)"""
    error: str = ""


def plan_runs(sweep: Sweep, out: Path | None = None) -> list[RunSpec]:
    """Resolve and validate every (cell, seed) config, in (cell, seed) order."""
    out = Path(out if out is not None else sweep.out).resolve()
    base_cfg = from_dict(sweep.base, str(sweep.base_path))
    base_values = to_dict(base_cfg)
    specs = []
    for i, cell in enumerate(sweep.cells):
        values = {k: cell.get(k, _lookup(base_values, k)) for k in sweep.keys}
        for seed in sweep.seeds:
            src = f"{sweep.path.name} cell {i}"
            try:
                cfg = validate_overrides({**cell, "seed": seed}, src, base=sweep.base)
            except ConfigError as e:
                h = hashlib.sha256(_canonical({"base": sweep.base, "overrides": cell, "seed": seed}).encode()).hexdigest()[:16]
                specs.append(RunSpec(i, seed, values, h, "", None, str(e)))
                continue
            h = config_hash(cfg)
            specs.append(RunSpec(i, seed, values, h, str(out / "cells" / h), to_dict(cfg)))
    return specs


__all__ = ["SweepError", "Sweep", "RunSpec", "load_sweep", "plan_runs", "config_hash", "setting_paths"]
