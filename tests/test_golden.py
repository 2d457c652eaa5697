"""Golden runs: small runs of every shipped world (and of memorisers beside heuristics and planners),
evolved and reported, whose every table must keep its content hash. A refactoring that is meant to
change nothing must leave these hashes alone; a change that alters a number on purpose regenerates
them (``python tests/test_golden.py --write``) and says so in its commit.

The hash is over the table's content (column names, dtypes and values, via
``pandas.util.hash_pandas_object``), not over the Parquet bytes, so a different pyarrow version does
not break it; any changed value, row, column or dtype does."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden" / "tables.json"

#: (name, config file, overrides): small enough that the four runs and reports take well under a minute
RUNS = {
    "red_door": ("red_door.toml", {}),
    "keys_chests": ("keys_chests.toml", {}),
    "ancestral_modern": ("ancestral_modern.toml", {}),
    "mixed_memorisers": ("conditions_base.toml", {}),
}
SMALL = {"evolution.population": 24, "evolution.generations": 4, "evolution.episodes": 3,
         "evolution.checkpoint_every": 2, "probe.episodes": 8, "probe.decision_episodes": 4,
         "probe.random_rollouts": 3, "seed": 11}


def table_hash(df: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()


def golden_hashes(root: Path) -> dict[str, dict[str, str]]:
    from evosim.config import load_config
    from evosim.experiment import run_experiment
    from evosim.report import report_run

    out = {}
    for name, (toml, over) in RUNS.items():
        cfg = load_config(ROOT / "runs" / toml, {**SMALL, **over})
        d = root / name
        run_experiment(cfg, d, mode="new", progress=False)
        report_run(d, figures=False)
        out[name] = {p.name: table_hash(pd.read_parquet(p)) for p in sorted(d.glob("*.parquet"))}
    return out


@pytest.mark.slow
def test_golden_tables_unchanged(tmp_path):
    """Every table of every golden run (evolution and report) hashes as recorded. Fails when any
    number, row, column or dtype of any table changes."""
    want = json.loads(GOLDEN.read_text())
    got = golden_hashes(tmp_path)
    diff = {(run, t): (want.get(run, {}).get(t), h) for run, tabs in got.items() for t, h in tabs.items()
            if want.get(run, {}).get(t) != h}
    missing = {(run, t) for run, tabs in want.items() for t in tabs if t not in got.get(run, {})}
    assert not diff and not missing, f"changed: {sorted(diff)}; missing: {sorted(missing)}"


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        hashes = golden_hashes(Path(tmp))
    if "--write" in sys.argv:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    print(json.dumps(hashes, indent=1, sort_keys=True))
