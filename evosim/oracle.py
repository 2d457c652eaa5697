"""The oracle: the best return any policy could collect on a layout, computed exactly.

``oracle_returns(layouts, table, max_steps)`` gives, per layout, the best achievable base
return and the best achievable proxy return within ``max_steps`` from the start, under the
episode's real rules (objects interact when stepped on, keys open chests, doors end the
episode, the episode stops when no base reward is left or the organism is sated). The DP behind it is described in
``evosim.kernels.probe_kernels``; ``tests/test_oracle.py`` checks it against a brute-force
search over the step dynamics.
"""
from __future__ import annotations

import numpy as np

from evosim.kernels import oracle_values


def best_value(layouts, kind_value, table, max_steps: int) -> np.ndarray:
    """Best achievable sum of ``kind_value`` over interacted objects, per layout (float64 [L])."""
    return oracle_values(layouts.walls, layouts.start, layouts.obj_pos, layouts.obj_kind, kind_value, table.reward,
                         table.interaction, int(max_steps), int(getattr(table, "capacity", 0)))


def oracle_returns(layouts, table, max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(best base return, best proxy return) per layout."""
    return (best_value(layouts, table.reward, table, max_steps),
            best_value(layouts, table.proxy, table, max_steps))
