"""Validate the behavioural objective on planners with planted utilities (numbers for the write-up).

    python analysis/irl_validation.py [--n 200] [--episodes 150] [--out analysis/out]

For each shipped world, as shipped and with every feature perceived from the same
distance, and for planted utilities on the whole sphere and on its non-negative orthant:
the share of planners whose fitted behavioural utility has cosine >= 0.9 with the planted
one, and the median cosine. Writes ``irl_validation.csv`` and prints it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from evosim import worlds
from evosim.config import load_config
from evosim.probe import planted_validation

ROOT = Path(__file__).resolve().parents[1]
SETUPS = [("red_door", {}), ("red_door", {"world.radius": {"red": 10, "green": 10, "door": 10}}),
          ("keys_chests", {}), ("ancestral_modern", {}), ("ancestral_modern", {"world.radius": {"sweet": 8, "ripe": 8}})]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--episodes", type=int, default=150)
    ap.add_argument("--out", type=Path, default=ROOT / "analysis" / "out")
    args = ap.parse_args(argv)
    rows = []
    for name, over in SETUPS:
        cfg = load_config(ROOT / "runs" / f"{name}.toml", over)
        w = worlds.make(cfg.world)
        for positive in (True, False):
            df = planted_validation(cfg, w, n=args.n, episodes=args.episodes, seed=0, positive=positive)
            rows.append({"world": name, "radii": "equal" if over else "shipped",
                         "planted": "non-negative" if positive else "sphere", "planners": len(df),
                         "share_cos_ge_0.9": (df["cosine"] >= 0.9).mean(), "median_cos": df["cosine"].median(),
                         "depth1_share": (df.loc[df["depth"] == 1, "cosine"] >= 0.9).mean()})
    tab = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    tab.to_csv(args.out / "irl_validation.csv", index=False)
    print(tab.round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
