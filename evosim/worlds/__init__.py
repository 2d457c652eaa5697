"""The world registry: ``WORLDS`` maps each world's name to its class, the one list of worlds.

``make(cfg.world)`` builds one from its settings; ``config.WorldConfig.name`` takes its allowed
names from ``WORLDS``. This package imports ``evosim.constants`` only (never ``evosim.config``).
"""
from __future__ import annotations

from evosim.worlds.ancestral_modern import AncestralModern
from evosim.worlds.base import Kind, KindTable, Layouts, World
from evosim.worlds.keys_chests import KeysChests
from evosim.worlds.red_door import RedDoor

WORLDS: dict[str, type[World]] = {w.name: w for w in (RedDoor, KeysChests, AncestralModern)}


def make(world_cfg) -> World:
    """The world named by ``world_cfg.name``, configured by ``world_cfg``."""
    return WORLDS[world_cfg.name](world_cfg)


__all__ = ["WORLDS", "Kind", "KindTable", "Layouts", "World", "make"]
