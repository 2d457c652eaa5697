"""Reference implementations: slow, plainly written, obviously correct; the yardsticks of the fast code.

- ``evosim.reference.naive``: a pure-Python twin of every numba kernel (RNG, BFS, heuristic and
  planner policies, episodes, rollouts). The kernel tests compare against it trajectory by
  trajectory, ``evosim bench`` times against it (``*_speedup_vs_naive``), and it is the one
  pure-Python splitmix64 / ``episode_key`` / ``uniform`` in the package.
- ``evosim.reference.naive_probe``: brute-force twins of the probe kernels (oracle, choice
  extraction, the scipy fit of the choice model).
- ``evosim.reference.mesa_model``: the heuristic organism's episode as Mesa agents on a
  MultiGrid (``heuristic_speedup_vs_mesa``).

They are fixed references: a change to a kernel is checked against them, not the other way round.
The tests import them from here.
Nothing here is imported by ``import evosim``; the submodules are imported on demand.
"""
