"""Integer codes shared by worlds, kernels and tables (one place, as in Minigrid's constants.py)."""
from __future__ import annotations

from enum import IntEnum

import numpy as np


class Action(IntEnum):
    """Moves on the grid. Moving into a wall or off the grid leaves the organism where it is."""

    NORTH = 0
    EAST = 1
    SOUTH = 2
    WEST = 3


N_ACTIONS = 4
#: row / column displacement of each action, indexed by ``Action``
DY = np.array([-1, 0, 1, 0], dtype=np.int64)
DX = np.array([0, 1, 0, -1], dtype=np.int64)
#: the action that undoes each action
OPPOSITE = np.array([2, 3, 0, 1], dtype=np.int64)


class Cell(IntEnum):
    """Cell types of the ``walls`` array."""

    EMPTY = 0
    WALL = 1


class Interaction(IntEnum):
    """What happens when an organism steps onto an object of a kind."""

    CONSUMED = 0  # reward given, object removed
    ENDS_EPISODE = 1  # reward given, episode over (exit doors, traps)
    PICKED_UP = 2  # object removed into the inventory (keys); reward given (usually 0)
    OPENED_WITH_KEY = 3  # if inventory > 0: one key spent, reward given, object removed; else nothing


#: ``Interaction`` codes as plain ints, for the kernels (numba freezes module-level ints as constants)
I_CONSUMED = int(Interaction.CONSUMED)
I_ENDS = int(Interaction.ENDS_EPISODE)
I_PICKED = int(Interaction.PICKED_UP)
I_OPENED = int(Interaction.OPENED_WITH_KEY)


class Arch(IntEnum):
    """Organism architectures."""

    HEURISTIC = 0  # reactive policy, no search, no explicit objective ("optimised, not optimising")
    PLANNER = 1  # searches over plans with an evolved utility (a mesa-optimiser)
    MEMORISER = 2  # an open-loop plan: one action per step, no perception, no objective (a lookup table)
    NETWORK = 3  # a recurrent convolutional controller with a heritable number of internal iterations


#: code -> name (the registry, ``evosim.architectures``, is the source; it checks this agrees)
ARCH_NAMES = {Arch.HEURISTIC: "heuristic", Arch.PLANNER: "planner", Arch.MEMORISER: "memoriser",
              Arch.NETWORK: "network"}

#: what a heuristic senses (``organisms.heuristic_signal``; the kernels take the int code):
#:   path    per channel and move, the sum over perceived objects for which that move goes down the
#:           object's BFS distance map of feature / path distance (the distances the planner uses)
#:   compass per channel and move, the sum over perceived objects strictly on that side of
#:           feature / Manhattan distance (the original signal, kept as a named alternative)
HEURISTIC_SIGNALS = ("path", "compass")
SIGNAL_PATH = 0
SIGNAL_COMPASS = 1

#: feature channels per world are padded to this many in the kernels
MAX_FEATURES = 4
#: genes of the memoriser's open-loop plan: step t plays the action coded by gene t mod MEMO_STEPS
MEMO_STEPS = 64
#: the planner enumerates ordered visits to at most this many objects
MAX_DEPTH = 3
#: the planner considers, and a choice event offers, at most this many perceived objects (nearest first)
MAX_PERCEIVED = 8
#: objects per layout are padded to at most this many
MAX_OBJECTS = 16
#: kind code of an empty object slot
NO_KIND = -1
#: BFS distance of an unreachable cell (int16)
UNREACHABLE = 32767
#: episode step limit supported by the int16 trace and distance arrays
MAX_STEPS_LIMIT = 1000
#: largest grid side supported
MAX_SIZE = 101

#: RNG stream tags: the same (seed, generation, organism, episode) never reuses a stream across purposes
STREAM_TRAIN = 1
STREAM_LAYOUT = 2
STREAM_PROBE = 3
STREAM_GA = 4
#: the memoriser block's own GA stream (initial values, mutation, crossover, flips of the genes at the
#: end of the genome): the draws of STREAM_GA keep their shapes whether or not memorisers take part
STREAM_GA_MEMO = 5
#: the network block's own GA stream (as STREAM_GA_MEMO for the memoriser block): runs without networks
#: make no draw from it
STREAM_GA_NET = 6

#: the network (``kernels/network.py``): hidden channels its genome holds (``organisms.network_channels``
#: uses the first ones), input channels (walls, then one per feature channel), the largest iteration count
#: a setting may allow, and its activations (``organisms.network_activation``; the kernels take the index)
NET_MAX_CHANNELS = 8
NET_INPUTS = 1 + MAX_FEATURES
NET_MAX_ITERATIONS = 64
NETWORK_ACTIVATIONS = ("tanh", "relu")


class Purpose(IntEnum):
    """What a probe rollout is for: its ``generation`` argument of the counter-based RNG under
    ``STREAM_PROBE`` (so train, shift, control, decision and random-baseline episodes of the same
    organism never share random numbers). The layout distributions' values also seed their held-out
    layouts (``evosim.probe.sets``), so adding a distribution leaves the others' layouts as they were."""

    TRAIN = 0
    SHIFT = 1
    CONTROL = 2
    DECISION = 3
    SHIFT_BALANCED = 4  # the balanced shift: as many proxy as true targets, paired at equal path distance
    RANDOM = 8
    REFERENCE = 9  # the perception-matched aligned reference planner
    PROXY_REFERENCE = 10  # the same planner with the proxy as its utility


#: probe purpose name -> ``generation`` argument under STREAM_PROBE (plain ints)
PROBE_PURPOSE = {p.name.lower(): int(p) for p in Purpose}
