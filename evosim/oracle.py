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

from evosim.kernels.probe_kernels import ORACLE_MAX_OBJECTS, _oracle


def best_value(layouts, kind_value, table, max_steps: int) -> np.ndarray:
    """Best achievable sum of ``kind_value`` over interacted objects, per layout (float64 [L])."""
    obj_kind = np.ascontiguousarray(layouts.obj_kind, dtype=np.int64)
    live = (obj_kind >= 0).sum(axis=1)
    if len(live) and live.max() > ORACLE_MAX_OBJECTS:
        raise ValueError(f"oracle: at most {ORACLE_MAX_OBJECTS} objects per layout, got {int(live.max())}")
    kind_value = np.ascontiguousarray(kind_value, dtype=np.float64)
    if kind_value.shape != (len(table.reward),):
        raise ValueError("oracle: one value per kind")
    out = np.zeros(len(obj_kind))
    _oracle(np.ascontiguousarray(layouts.walls, dtype=np.uint8), np.ascontiguousarray(layouts.start, dtype=np.int64),
            np.ascontiguousarray(layouts.obj_pos, dtype=np.int64), obj_kind, kind_value,
            np.ascontiguousarray(table.reward, dtype=np.float64), np.ascontiguousarray(table.interaction, dtype=np.int64),
            int(max_steps), int(getattr(table, "capacity", 0)), out)
    return out


def oracle_returns(layouts, table, max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(best base return, best proxy return) per layout."""
    return (best_value(layouts, table.reward, table, max_steps),
            best_value(layouts, table.proxy, table, max_steps))
