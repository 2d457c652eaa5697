"""Run directories never lose data: refusals, locks, disk faults, corrupt checkpoints, load_run errors.

All in-process on a tiny config (population 40, 7 generations, checkpoint every 2).
"""
from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from evosim.config import load_config
from evosim.experiment import run_experiment
from evosim.store import RunError, load_run
from evosim.store.files import atomic_write, sha256
from evosim.store.lock import RunLock
from evosim.store.reader import latest_valid_checkpoint, read_manifest

from conftest import RUNS, Faults

TABLES = ("generations", "organisms", "genomes")


@pytest.fixture(scope="module")
def cfg():
    return load_config(RUNS / "quickstart.toml", {"evolution.population": 40, "evolution.generations": 7,
                                                  "evolution.episodes": 4, "evolution.checkpoint_every": 2})


@pytest.fixture(scope="module")
def reference(cfg, tmp_path_factory):
    """Table bytes of an uninterrupted run."""
    d = tmp_path_factory.mktemp("ref") / "run"
    run_experiment(cfg, d, progress=False, log=lambda m: None)
    return {t: (d / f"{t}.parquet").read_bytes() for t in TABLES}


def _same(d: Path, reference) -> None:
    for t in TABLES:
        assert (d / f"{t}.parquet").read_bytes() == reference[t], f"{t}.parquet differs from the uninterrupted run"


def _interrupted(cfg, d: Path, monkeypatch, at: int = 6):
    """A run stopped by SIGINT after generation ``at - 1`` (the handler checkpoints and stops)."""
    res = run_experiment(cfg, d, progress=False, log=lambda m: None, faults=Faults(f"generation@{at}:sigint"))
    assert res.interrupted and len(res.generations) == at
    return res


# -- resume --------------------------------------------------------------------------------
def test_interrupt_then_resume_is_identical(cfg, reference, tmp_path, monkeypatch):
    d = tmp_path / "run"
    _interrupted(cfg, d, monkeypatch)
    man = read_manifest(d)
    assert man["status"] == "interrupted" and "gen_0000005" in man["checkpoints"]
    assert not (d / ".lock").exists()
    with pytest.raises(RunError, match="incomplete.*--resume"):
        load_run(d)
    notes = []
    res = run_experiment(cfg, d, mode="resume", progress=False, log=notes.append)
    assert not res.interrupted and any("resuming after generation 5" in n for n in notes)
    _same(d, reference)
    assert not (d / "parts").exists()
    run = load_run(d)
    assert len(run.generations) == 7 and len(run.organisms) == 7 * 40
    again = run_experiment(cfg, d, mode="resume", progress=False, log=lambda m: None)
    assert again.notes == ["run already complete; nothing to do"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_corrupt_checkpoint_falls_back_to_previous(cfg, reference, tmp_path, monkeypatch, damage):
    d = tmp_path / "run"
    _interrupted(cfg, d, monkeypatch)
    f = d / "checkpoints" / "gen_0000005" / "state.npz"
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[:100])
    elif damage == "flip":
        b = bytearray(f.read_bytes())
        b[len(b) // 2] ^= 0xFF
        f.write_bytes(bytes(b))
    else:
        f.unlink()
    notes = []
    run_experiment(cfg, d, mode="resume", progress=False, log=notes.append)
    assert any("gen_0000005 is corrupt" in n and "falling back" in n for n in notes), notes
    assert any("resuming after generation 4 from gen_0000004" in n for n in notes), notes
    _same(d, reference)


def test_corrupt_part_and_all_checkpoints_restart_from_zero(cfg, reference, tmp_path, monkeypatch):
    d = tmp_path / "run"
    _interrupted(cfg, d, monkeypatch)
    part = d / "parts" / "organisms_0000000_0000000.parquet"  # needed by every checkpoint
    part.write_bytes(part.read_bytes()[:-7])
    man = read_manifest(d)
    ckpt, notes = latest_valid_checkpoint(d, man)
    assert ckpt is None and len(notes) == 2
    log = []
    run_experiment(cfg, d, mode="resume", progress=False, log=log.append)
    assert any("starting from generation 0" in n for n in log), log
    _same(d, reference)


# -- disk faults ---------------------------------------------------------------------------
def test_disk_full_gives_clear_error_and_keeps_last_checkpoint(cfg, reference, tmp_path, monkeypatch):
    d = tmp_path / "run"
    real = pd.DataFrame.to_parquet
    calls = {"n": 0}

    def full(self, *a, **k):
        calls["n"] += 1
        if calls["n"] >= 9:  # after the checkpoint of generation 2 (parts + checkpoint tables so far)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *a, **k)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    with pytest.raises(RunError) as ei:
        run_experiment(cfg, d, progress=False, log=lambda m: None)
    msg = str(ei.value)
    assert "No space left on device" in msg and "last checkpoint (gen_0000002" in msg and "--resume" in msg
    assert not (d / ".lock").exists()
    assert not [p for p in d.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".gen_")]
    ckpt, notes = latest_valid_checkpoint(d, read_manifest(d))
    assert ckpt is not None and ckpt.name == "gen_0000002" and not notes
    monkeypatch.setattr(pd.DataFrame, "to_parquet", real)
    run_experiment(cfg, d, mode="resume", progress=False, log=lambda m: None)
    _same(d, reference)


def test_unwritable_output_directory(cfg, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunError, match="cannot create the run directory"):
        run_experiment(cfg, blocker / "run", progress=False, log=lambda m: None)

    import tempfile

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(RunError, match="Permission denied"):
        run_experiment(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    assert not (tmp_path / "run" / ".lock").exists()


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    p = tmp_path / "t.bin"
    p.write_bytes(b"old")

    def boom(tmp):
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(p, boom)
    assert p.read_bytes() == b"old" and [x.name for x in tmp_path.iterdir()] == ["t.bin"]


# -- no silent loss ------------------------------------------------------------------------
def test_existing_run_needs_resume_or_overwrite(cfg, tmp_path, monkeypatch):
    d = tmp_path / "run"
    _interrupted(cfg, d, monkeypatch, at=2)
    with pytest.raises(RunError, match="use --resume to continue it or --overwrite to replace it"):
        run_experiment(cfg, d, progress=False, log=lambda m: None)
    other = load_config(RUNS / "quickstart.toml", {"evolution.population": 42, "evolution.generations": 3})
    with pytest.raises(RunError, match="config differs"):
        run_experiment(other, d, mode="resume", progress=False, log=lambda m: None)
    assert not (d / ".lock").exists()
    run_experiment(other, d, mode="overwrite", progress=False, log=lambda m: None)
    assert len(load_run(d).generations) == 3


def test_foreign_directory_is_never_touched(cfg, tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "thesis.tex").write_text("precious")
    for mode in ("new", "overwrite", "resume"):
        with pytest.raises(RunError, match="holds no evosim run"):
            run_experiment(cfg, d, mode=mode, progress=False, log=lambda m: None)
    assert [p.name for p in d.iterdir()] == ["thesis.tex"]


def test_resume_of_missing_directory_starts_fresh(cfg, reference, tmp_path):
    notes = []
    run_experiment(cfg, tmp_path / "run", mode="resume", progress=False, log=notes.append)
    assert any("starting from generation 0" in n for n in notes)
    _same(tmp_path / "run", reference)


def test_lock_live_stale_and_foreign_host(tmp_path):
    lock = tmp_path / ".lock"
    # a live process on this host (our parent): refused, naming PID and host
    lock.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    with pytest.raises(RunError, match=rf"locked by process {os.getppid()} on {socket.gethostname()}"):
        RunLock(tmp_path).acquire()
    # a dead process: taken over with a warning
    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(p.stdout)
    lock.write_text(json.dumps({"pid": dead, "host": socket.gethostname()}))
    lk = RunLock(tmp_path)
    lk.acquire()
    assert lk.warning == f"took over a stale lock of dead process {dead} on {socket.gethostname()}"
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    lk.release()
    assert not lock.exists()
    # a live PID that was reused by another process (start time differs): stale
    lock.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(), "start": "1"}))
    lk = RunLock(tmp_path)
    lk.acquire()
    assert "stale lock" in lk.warning
    # release never removes another process's lock
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    lk.release()
    assert lock.exists()
    with pytest.raises(RunError, match="locked by process 1 on elsewhere"):
        RunLock(tmp_path).acquire()


def test_load_run_errors(cfg, tmp_path, monkeypatch):
    with pytest.raises(RunError, match="no such run directory"):
        load_run(tmp_path / "missing")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(RunError, match="it is a file"):
        load_run(tmp_path / "f.txt")
    with pytest.raises(RunError, match="no manifest.json"):
        load_run(tmp_path)
    d = tmp_path / "run"
    run_experiment(cfg, d, progress=False, log=lambda m: None)
    assert len(load_run(d).organisms) == 7 * 40
    man = json.loads((d / "manifest.json").read_text())

    def with_manifest(m):
        (d / "manifest.json").write_text(json.dumps(m) if not isinstance(m, str) else m)

    with_manifest({**man, "versions": {**man["versions"], "format": 999}})
    with pytest.raises(RunError, match="incompatible evosim.*format 999"):
        load_run(d)
    with_manifest("{not json")
    with pytest.raises(RunError, match="manifest.json is unreadable"):
        load_run(d)
    with_manifest([1, 2])
    with pytest.raises(RunError, match="not an evosim manifest"):
        load_run(d)
    with_manifest({**man, "status": "running"})
    with pytest.raises(RunError, match="incomplete.*--resume"):
        load_run(d)
    with_manifest(man)
    org = d / "organisms.parquet"
    org.write_bytes(org.read_bytes()[:200])
    with pytest.raises(RunError, match="organisms.parquet is damaged"):
        load_run(d)
    org.unlink()
    with pytest.raises(RunError, match="organisms.parquet is missing"):
        load_run(d)


def test_checkpoint_checksums_are_in_manifest(cfg, tmp_path, monkeypatch):
    d = tmp_path / "run"
    _interrupted(cfg, d, monkeypatch, at=4)
    man = read_manifest(d)
    assert sorted(man["checkpoints"]) == ["gen_0000002", "gen_0000003"]  # last two kept
    for name, entry in man["checkpoints"].items():
        for f, s in entry["files"].items():
            assert sha256(d / "checkpoints" / name / f) == s
    for f, s in man["parts"].items():
        assert sha256(d / "parts" / f) == s
    assert sorted(p.name for p in (d / "checkpoints").iterdir()) == sorted(man["checkpoints"])


# -- every run-directory file name lives in evosim.store ------------------------------------------------
def test_no_run_directory_file_name_outside_the_store():
    """Code outside evosim/store names a run directory's files through evosim.store (layout, RunDirectory),
    never as a string literal (the tests are not searched)."""
    import re

    from evosim.store import layout

    root = Path(__file__).resolve().parents[1]
    names = {layout.CONFIG, layout.MANIFEST, layout.LOCK, layout.CHECKPOINT_STATE, layout.CHECKPOINT_PENDING,
             *layout.TABLES.values()}
    literal = re.compile(r"""["']([^"'\s]*/)?(%s)["']""" % "|".join(re.escape(n) for n in sorted(names)))
    built = re.compile(r"""\}\.parquet["']|\b(organisms|genomes)_\{""")  # f"{name}.parquet", f"organisms_{g0}..."
    skip = {"tests", "evosim/store", ".venv", ".git", "build", "node_modules"}
    hits = []
    files = [p for p in root.rglob("*.py") if not any(str(p.relative_to(root)).startswith(s) for s in skip)]
    assert any(p.name == "results.py" for p in files) and any(p.name == "report.py" for p in files)
    for p in files:
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if literal.search(line) or built.search(line):
                hits.append(f"{p.relative_to(root)}:{i}: {line.strip()}")
    assert not hits, "run-directory file names outside evosim/store:\n" + "\n".join(hits)
    # the check finds what it looks for
    assert literal.search('x = run.path / "probe.parquet"') and built.search('f"{kind}.parquet"')
