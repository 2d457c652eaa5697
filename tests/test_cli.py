"""`evosim run` end to end, as a user runs it (subprocesses: the real console script)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import evosim

ROOT = Path(__file__).resolve().parents[1]


def evosim_cli(*args, env=None, cwd=ROOT):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "evosim.cli", *map(str, args)], capture_output=True, text=True,
                          env=e, cwd=cwd, timeout=600)


def test_run_writes_a_loadable_run_directory(tmp_path):
    out = tmp_path / "x"
    p = evosim_cli("run", "runs/quickstart.toml", "--seed", 7, "--out", out, "--generations", 3, "--quiet",
                   "--set", "evolution.population=40")
    assert p.returncode == 0, p.stderr
    assert "quickstart seed 7" in p.stdout and str(out) in p.stdout
    for f in ("config.toml", "manifest.json", "generations.parquet", "organisms.parquet", "genomes.parquet"):
        assert (out / f).exists(), f
    run = evosim.load_run(out)
    assert run.config.seed == 7 and run.config.evolution.generations == 3
    assert run.generations.generation.tolist() == [0, 1, 2]
    assert len(run.organisms) == 3 * 40
    assert len(run.genomes) == 40 and (run.genomes.generation == 2).all()
    assert run.manifest["status"] == "complete" and run.manifest["seed"] == 7
    assert "wall_times_s" in run.manifest and "run" in run.manifest["wall_times_s"]
    assert not any("time" in c for c in run.generations.columns)  # wall times only in the manifest


def test_tables_identical_at_1_and_2_threads(tmp_path):
    """Byte-identical tables whatever the thread count (counter-based RNG, no shared state)."""
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}"
        p = evosim_cli("run", "runs/quickstart.toml", "--seed", 4, "--out", out, "--generations", 4, "--quiet",
                       env={"NUMBA_NUM_THREADS": str(threads)})
        assert p.returncode == 0, p.stderr
        outs.append(out)
    for f in ("generations.parquet", "organisms.parquet", "genomes.parquet"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f


def test_bad_config_exits_2_with_message_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[evolution]\npopulaton = 10\n')
    out = tmp_path / "never"
    p = evosim_cli("run", bad, "--out", out, "--quiet")
    assert p.returncode == 2
    assert "evolution.populaton" in p.stderr and "population" in p.stderr
    assert "Traceback" not in p.stderr
    assert not out.exists()
    p = evosim_cli("run", tmp_path / "missing.toml", "--quiet")
    assert p.returncode == 2 and "missing.toml" in p.stderr


def test_existing_run_dir_is_not_overwritten_silently(tmp_path):
    out = tmp_path / "r"
    args = ("run", "runs/quickstart.toml", "--out", out, "--generations", 1, "--quiet", "--set", "evolution.population=20")
    assert evosim_cli(*args).returncode == 0
    before = (out / "generations.parquet").read_bytes()
    p = evosim_cli(*args)
    assert p.returncode == 2 and "--resume" in p.stderr and "--overwrite" in p.stderr
    assert (out / "generations.parquet").read_bytes() == before
    assert evosim_cli(*args, "--overwrite").returncode == 0
