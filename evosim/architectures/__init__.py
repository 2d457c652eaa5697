"""The architecture registry: ``ARCHITECTURES`` lists every organism architecture in code order, the one
list of architectures (as ``evosim.worlds.WORLDS`` is the one list of worlds).

Each architecture is one module of this package declaring an ``Architecture``: its code (an
``evosim.constants.Arch`` value: the kernels read codes as plain ints) and name, its genome block and
initialiser, its description length (genes expressed), its episode loop in the kernels and its naive
twin, the generation statistics it adds, its colour and label. Config (the names ``initial_shares``
allows), schema (architecture categories), genome, model, store, figures, viewer and bench read them
from here instead of restating them. ``docs/architectures.md`` says how to add one.

This package imports ``evosim.constants`` and ``evosim.genome`` only (never the kernels: entries name
their episode loop as "module:function", imported on use), so ``evosim.config`` can import it.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Architecture:
    """One organism architecture (see the package docstring)."""

    code: int
    """``evosim.constants.Arch`` code: the genome decodes to it (``genome.architecture``), tables store it as
    the category at this index, the kernels dispatch on it"""
    name: str
    """name in configs (``organisms.initial_shares``) and tables (``architecture`` columns)"""
    label: str
    """legend label in figures and the viewer"""
    colour: str
    """colour in every figure and viewer panel (hex)"""
    description: str
    """one line: what it is"""
    block: slice
    """its genome columns (``evosim.genome`` layout): the genes it expresses, beside its switch gene"""
    init: str
    """"module:function" drawing its block's initial values (``evosim.genome``)"""
    expressed: Callable[[int, int], int]
    """description length: genes expressed, as a function of (n_features, max_steps)"""
    kernel: str
    """"module:function" of its episode loop (``evosim.kernels.<name>``)"""
    twin: str
    """"module:function" of its decision's naive twin (``evosim.reference.naive``, one plain episode loop for
    every architecture)"""
    express: Callable
    """``express(genomes)``: copies of ``genomes`` whose switch genes make them express this architecture
    (the rest of each genome unchanged)"""
    stats: tuple[str, ...]
    """columns of ``generations.parquet`` it adds (beside the per-architecture share and fitness mean)"""

    def episode_loop(self):
        """Its compiled episode loop (imports the kernels)."""
        return _resolve(self.kernel)

    def naive_twin(self):
        """Its episode loop's plain-Python twin."""
        return _resolve(self.twin)

    def initialiser(self):
        return _resolve(self.init)


def _resolve(ref: str):
    mod, fn = ref.split(":")
    return getattr(importlib.import_module(mod), fn)


from evosim.architectures.heuristic import ARCHITECTURE as HEURISTIC  # noqa: E402
from evosim.architectures.memoriser import ARCHITECTURE as MEMORISER  # noqa: E402
from evosim.architectures.network import ARCHITECTURE as NETWORK  # noqa: E402
from evosim.architectures.planner import ARCHITECTURE as PLANNER  # noqa: E402

#: every architecture, in code order (``ARCHITECTURES[a.code] is a``)
ARCHITECTURES: tuple[Architecture, ...] = tuple(sorted((HEURISTIC, PLANNER, MEMORISER, NETWORK), key=lambda a: a.code))
assert [a.code for a in ARCHITECTURES] == list(range(len(ARCHITECTURES))), "architecture codes must be 0, 1, 2, ..."
#: architecture names in code order
NAMES: tuple[str, ...] = tuple(a.name for a in ARCHITECTURES)
#: name -> colour (hex), for figures and the viewer
COLOURS: dict[str, str] = {a.name: a.colour for a in ARCHITECTURES}
#: name -> legend label
LABELS: dict[str, str] = {a.name: a.label for a in ARCHITECTURES}


def get(name: str) -> Architecture:
    """The architecture named ``name`` (KeyError naming the registered ones otherwise)."""
    for a in ARCHITECTURES:
        if a.name == name:
            return a
    raise KeyError(f"unknown architecture {name!r}: expected one of {', '.join(NAMES)}")


def by_code(code: int) -> Architecture:
    return ARCHITECTURES[int(code)]


__all__ = ["ARCHITECTURES", "Architecture", "COLOURS", "HEURISTIC", "LABELS", "MEMORISER", "NAMES", "NETWORK", "PLANNER",
           "by_code", "get"]


def _check_constants() -> None:
    """The kernels' plain-int codes (``evosim.constants.Arch``, ``ARCH_NAMES``) agree with the registry."""
    from evosim.constants import ARCH_NAMES, Arch

    assert {int(a): n for a, n in ARCH_NAMES.items()} == {a.code: a.name for a in ARCHITECTURES}
    assert [int(a) for a in Arch] == [a.code for a in ARCHITECTURES]


_check_constants()
