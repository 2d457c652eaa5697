"""Kill ``evosim run`` (a real subprocess) at many points, resume, and get the uninterrupted run's bytes.

The kill points come from a test-only fault hook (``conftest.Faults``) that a ``python -c``
process running the CLI passes to ``run_experiment(faults=...)``: the process sends itself
SIGKILL (or SIGINT/SIGTERM) the n-th time it passes a named point. The tables
(generations, organisms, genomes Parquet files) of the resumed run must equal, byte for byte,
those of an uninterrupted run with the same seed; any difference makes these tests fail.
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evosim.config import load_config
from evosim.experiment import run_experiment
from evosim.store.reader import read_manifest

from conftest import ROOT, RUNS, cli_with_faults

TABLES = ("generations", "organisms", "genomes")
SETTINGS = {"evolution.population": 40, "evolution.generations": 7, "evolution.episodes": 4,
            "evolution.checkpoint_every": 2}
ARGS = [str(RUNS / "quickstart.toml"), "--quiet", "--generations", "7", "--set", "evolution.population=40",
        "--set", "evolution.episodes=4", "--set", "evolution.checkpoint_every=2"]


@pytest.fixture(scope="module")
def cfg():
    return load_config(RUNS / "quickstart.toml", SETTINGS)


@pytest.fixture(scope="module")
def reference(cfg, tmp_path_factory):
    d = tmp_path_factory.mktemp("ref") / "run"
    run_experiment(cfg, d, progress=False, log=lambda m: None)
    return {t: (d / f"{t}.parquet").read_bytes() for t in TABLES}


def _evosim(out: Path, fault: str | None, *extra: str) -> subprocess.CompletedProcess:
    cmd = (cli_with_faults(fault, ["run", *ARGS, "--out", str(out), *extra]) if fault
           else [sys.executable, "-m", "evosim.cli", "run", *ARGS, "--out", str(out), *extra])
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


def _no_truncated_tables(d: Path) -> None:
    """Every visible Parquet file left by a killed run is complete (footer readable)."""
    for p in d.rglob("*.parquet"):
        pq.read_metadata(p)


# point@n: where the SIGKILL lands (run of 7 generations, checkpoints after generations 0, 2, 4)
KILLS = {
    "generation@5": "after generation 4's step, before its parts and checkpoint",
    "checkpoint-file@4": "mid-checkpoint of generation 2: state.npz written, tables not",
    "checkpoint-rename@2": "checkpoint of generation 2 in place, manifest not yet updated",
    "part@3": "first part of generation 2 written, the second not",
    "atomic-write@1": "before config.toml exists",
    "atomic-write@2": "config.toml written, manifest.json not",
    "atomic-write@15": "mid final tables: generations.parquet renamed, organisms.parquet not",
}


@pytest.mark.parametrize("fault", list(KILLS))
def test_sigkill_then_resume_is_byte_identical(fault, cfg, reference, tmp_path):
    d = tmp_path / "run"
    p = _evosim(d, fault)
    assert p.returncode == -signal.SIGKILL, (fault, p.returncode, p.stderr)
    _no_truncated_tables(d)
    notes = []
    res = run_experiment(cfg, d, mode="resume", progress=False, log=notes.append)
    assert not res.interrupted
    if fault != "atomic-write@1":  # the lock is the first thing the killed run wrote
        assert any("took over a stale lock of dead process" in n for n in notes), notes
    for t in TABLES:
        assert (d / f"{t}.parquet").read_bytes() == reference[t], f"{fault}: {t}.parquet differs"
    assert read_manifest(d)["status"] == "complete" and not (d / ".lock").exists()


@pytest.mark.parametrize("sig", ["sigint", "sigterm"])
def test_signal_checkpoints_and_resume_from_cli(sig, reference, tmp_path):
    d = tmp_path / "run"
    p = _evosim(d, f"generation@4:{sig}")
    assert p.returncode == 130, p.stderr
    assert "interrupted at generation 3" in p.stdout and "continue with --resume" in p.stderr
    man = read_manifest(d)
    assert man["status"] == "interrupted" and "gen_0000003" in man["checkpoints"]
    assert "Traceback" not in p.stderr
    if sig == "sigint":  # through the CLI once; in-process otherwise (subprocesses are slow)
        p = _evosim(d, None, "--resume")
        assert p.returncode == 0, p.stderr
        assert "resuming after generation 3 from gen_0000003" in p.stderr
    else:
        notes = []
        run_experiment(load_config(RUNS / "quickstart.toml", SETTINGS), d, mode="resume", progress=False, log=notes.append)
        assert "note: resuming after generation 3 from gen_0000003" in notes, notes
    for t in TABLES:
        assert (d / f"{t}.parquet").read_bytes() == reference[t]


def test_second_sigint_exits_at_once(cfg, reference, tmp_path):
    d = tmp_path / "run"
    p = _evosim(d, "generation@2:sigint2")
    assert p.returncode == 130 and "evosim: interrupted" in p.stderr and "Traceback" not in p.stderr
    assert read_manifest(d)["status"] == "running"  # no end-of-generation checkpoint: exited at once
    assert not (d / ".lock").exists()
    run_experiment(cfg, d, mode="resume", progress=False, log=lambda m: None)
    for t in TABLES:
        assert (d / f"{t}.parquet").read_bytes() == reference[t]


def _rss_mib() -> float:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read RSS")
def test_memory_flat_over_long_run(tmp_path):
    """RSS at generation 500 within 10% of generation 50, and organism rows held in memory stay bounded.

    False if the run keeps per-generation tables (or anything else per generation) in memory.
    """
    cfg = load_config(RUNS / "quickstart.toml", {"evolution.population": 100, "evolution.generations": 500,
                                                  "evolution.episodes": 4, "evolution.checkpoint_every": 10})
    rss, held = {}, []

    def watch(model):
        held.append(len(model.organism_tables))
        if model.generation + 1 in (50, 500):
            rss[model.generation + 1] = _rss_mib()

    run_experiment(cfg, tmp_path / "run", progress=False, log=lambda m: None, on_generation=watch)
    assert max(held) <= cfg.evolution.checkpoint_every
    assert rss[500] <= 1.10 * rss[50], rss
