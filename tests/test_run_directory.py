"""RunDirectory: status, manifest updates (atomic), report completion and the lock, on a
hand-made run directory (no simulation), plus the fault hook's plumbing."""
from __future__ import annotations

import json
import os
import socket

import pytest

from evosim.store import RunDirectory, RunError
from evosim.store.directory import report_is_complete, run_is_complete
from evosim.store.files import write_json, write_parquet
from evosim.store.lock import clear_own_lock


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    write_json(d / "manifest.json", {"name": "x", "seed": 1, "status": "running", "versions": {"format": 1},
                                     "wall_times_s": {"run": 2.5}})
    return d


def test_status_and_completion(run_dir, tmp_path):
    rd = RunDirectory(run_dir)
    assert rd.kind() == "run" and rd.status() == "running"
    assert not rd.run_is_complete(need_report=False) and not rd.report_is_complete()
    rd.update_manifest(status="complete")
    assert rd.status() == "complete" and rd.run_is_complete(need_report=False) and not rd.run_is_complete()
    import pandas as pd

    write_parquet(run_dir / "probe.parquet", pd.DataFrame({"a": [1]}))
    assert not rd.report_is_complete()  # probe.parquet alone: the report did not finish
    rd.mark_report_complete(1.25)
    man = rd.manifest()
    assert man["wall_times_s"] == {"run": 2.5, "report": 1.25}
    assert rd.report_is_complete() and rd.run_is_complete() and run_is_complete(run_dir) and report_is_complete(run_dir)
    assert rd.read_table("probe")["a"].tolist() == [1]
    with pytest.raises(RunError, match="no interventions.parquet; run `evosim report"):
        rd.read_table("interventions")
    # the manifest's bytes are the store's format (sorted keys, indent 2, final newline)
    assert (run_dir / "manifest.json").read_text() == json.dumps(man, indent=2, sort_keys=True) + "\n"
    # no manifest, or a garbled one: not complete, no status, never an exception
    missing = RunDirectory(tmp_path / "nothing")
    assert missing.kind() == "missing" and missing.status() is None and not missing.run_is_complete(False)
    (run_dir / "manifest.json").write_text("{garbled")
    assert rd.status() is None and not rd.run_is_complete(False) and not rd.report_is_complete()
    with pytest.raises(RunError, match="manifest.json is unreadable"):
        rd.update_manifest(status="complete")
    (run_dir / "manifest.json").write_text("[1, 2]")
    assert rd.status() is None and not rd.run_is_complete(False)


@pytest.mark.parametrize("how", ["fault", "unserialisable"])
def test_update_manifest_is_all_or_nothing(run_dir, faults, how):
    before = (run_dir / "manifest.json").read_bytes()
    hook = faults("atomic-write@1:oserror")
    rd = RunDirectory(run_dir, faults=hook if how == "fault" else None)
    with pytest.raises((OSError, TypeError)):
        rd.update_manifest(status="complete", note=object() if how == "unserialisable" else "x")
    assert (run_dir / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in run_dir.iterdir()) == ["manifest.json"]  # no temporary file left
    if how == "fault":
        assert hook.hits == {"atomic-write": 1}
        rd.update_manifest(status="complete")  # the next write goes through
        assert rd.status() == "complete"


def test_lock_second_holder_refused_and_own_lock_cleared(run_dir):
    rd = RunDirectory(run_dir)
    assert rd.lock_holder() is None and not rd.is_locked()
    with rd.lock() as lk:
        assert lk.held and rd.lock_holder()["pid"] == os.getpid()
        # a second holder (same process, a second lock object: as another process would) is refused
        with pytest.raises(RunError, match=rf"locked by process {os.getpid()} on {socket.gethostname()}.*another "
                                           r"evosim is writing"):
            with RunDirectory(run_dir).lock():
                pass
        assert rd.is_locked()
    assert not rd.is_locked()
    # a lock left behind by this process (a run that raised): cleared; another process's: never
    (run_dir / ".lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    assert rd.clear_own_lock() and not rd.is_locked()
    (run_dir / ".lock").write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    assert not clear_own_lock(run_dir) and rd.is_locked()
    (run_dir / ".lock").write_text(json.dumps({"pid": os.getpid(), "host": "elsewhere"}))
    assert not rd.clear_own_lock() and rd.is_locked()
    (run_dir / ".lock").write_text("not json")
    assert not rd.clear_own_lock() and rd.lock_holder() is None


def test_fault_hook_is_called_at_the_store_points(tiny_config, tmp_path, faults):
    from evosim.experiment import run_experiment

    hook = faults("")
    run_experiment(tiny_config, tmp_path / "run", progress=False, log=lambda m: None, faults=hook)
    assert hook.hits["generation"] == 4 and hook.hits["part"] == 6  # generations 0, 2 and 3: organisms + genomes
    assert hook.hits["checkpoint-rename"] == 2 and hook.hits["checkpoint-file"] >= 4  # checkpoints after 0 and 2
    assert hook.hits["atomic-write"] >= 10
    # without a hook nothing in the store reads the environment or keeps a counter
    import evosim.store.files as files

    assert not [n for n in vars(files) if "FAULT" in n.upper() and n != "no_faults"]


def test_keyboard_interrupt_from_hook_leaves_no_lock(tiny_config, tmp_path, faults):
    from evosim.experiment import run_experiment

    with pytest.raises(KeyboardInterrupt):
        run_experiment(tiny_config, tmp_path / "run", progress=False, log=lambda m: None,
                       faults=faults("generation@2:keyboard"))
    assert not (tmp_path / "run" / ".lock").exists() and RunDirectory(tmp_path / "run").status() == "running"


def test_genomes_written_before_the_memoriser_block_read_with_it_switched_off(tmp_path):
    """A run directory whose genomes.parquet predates the memoriser genes loads with the block
    added (m_arch -1: no memorisers), so `evosim report` and the viewer work on older runs. False if
    load_run drops or invents memorisers, or fails on the older table."""
    import numpy as np
    import pandas as pd

    import evosim
    from evosim.config import load_config
    from evosim.experiment import run_experiment
    from evosim.genome import N_ARCH, N_GENES, architecture, gene_names

    from conftest import RUNS

    cfg = load_config(RUNS / "quickstart.toml", {"evolution.population": 12, "evolution.generations": 2,
                                                 "evolution.episodes": 2})
    d = tmp_path / "old"
    run_experiment(cfg, d, mode="new", progress=False)
    g = pd.read_parquet(d / "genomes.parquet")
    old = g.drop(columns=[c for c in g.columns if c.startswith("m_")])
    old.to_parquet(d / "genomes.parquet", index=False)
    run = evosim.load_run(d)
    names = gene_names(("red", "green", "door"))
    assert len(names) == N_GENES and set(names) <= set(run.genomes.columns)
    assert (run.genomes["m_arch"] == -1.0).all()
    arr = run.genomes[names].to_numpy(dtype=np.float32)
    last = g[g["generation"] == g["generation"].max()]
    # (a run without networks writes no network block: genomes.parquet stops at the memoriser block)
    written = [n for n in names if n in last.columns]
    assert written == names[:N_ARCH]
    np.testing.assert_array_equal(architecture(arr), architecture(last[written].to_numpy(dtype=np.float32)))


# -- tables by name --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["generations", "organisms", "genomes", "probe", "interventions",
                                  "population_agreement", "three_way"])
def test_every_table_is_written_and_read_by_name(run_dir, name):
    import pandas as pd

    from evosim.store import layout

    rd = RunDirectory(run_dir)
    assert not rd.has_table(name) and rd.read_table(name, missing_ok=True) is None
    df = pd.DataFrame({"generation": [0, 0, 3], "x": [1.5, 2.5, 3.5]})
    p = rd.write_table(name, df)
    assert p == run_dir / layout.TABLES[name] == rd.table_path(name) and rd.has_table(name)
    pd.testing.assert_frame_equal(rd.read_table(name), df)
    pd.testing.assert_frame_equal(rd.read_table(name, columns=["x"]), df[["x"]])
    got = rd.read_table(name, filters=[("generation", "==", 3)])
    assert got["x"].tolist() == [3.5]
    rd.write_table(name, df.iloc[:1])  # replaces it
    assert len(rd.read_table(name)) == 1
    assert not [f for f in os.listdir(run_dir) if f.endswith(".tmp")]


@pytest.mark.parametrize("name", ["probes", "probe.parquet", "config", "manifest", "", None])
def test_an_unknown_table_name_is_a_clear_error(run_dir, name):
    import pandas as pd

    rd = RunDirectory(run_dir)
    for call in (lambda: rd.write_table(name, pd.DataFrame({"a": [1]})), lambda: rd.read_table(name),
                 lambda: rd.has_table(name)):
        with pytest.raises(RunError) as e:
            call()
        msg = str(e.value)
        assert f"no table named {name!r}" in msg and "generations, organisms, genomes, probe" in msg
        assert "\n" not in msg
    assert sorted(os.listdir(run_dir)) == ["manifest.json"]  # nothing written


def test_a_damaged_table_is_a_clear_error(run_dir):
    rd = RunDirectory(run_dir)
    rd.table_path("probe").write_bytes(b"not parquet")
    with pytest.raises(RunError, match=r"probe.parquet is damaged or not Parquet"):
        rd.read_table("probe")


def test_write_table_goes_through_the_fault_hook(run_dir):
    import pandas as pd

    class Boom(Exception):
        pass

    def hook(point):
        if point == "atomic-write":
            raise Boom

    rd = RunDirectory(run_dir)
    rd.write_table("probe", pd.DataFrame({"a": [1]}))
    with pytest.raises(Boom):
        RunDirectory(run_dir, faults=hook).write_table("probe", pd.DataFrame({"a": [2]}))
    assert rd.read_table("probe")["a"].tolist() == [1]  # the previous table, whole


def test_layout_names_every_file_and_run_files_is_derived_from_them():
    from evosim.store import layout

    assert set(layout.TABLES) == {"generations", "organisms", "genomes", "probe", "interventions",
                                  "population_agreement", "three_way"}
    assert layout.RUN_FILES == {layout.CONFIG, layout.MANIFEST, layout.LOCK, layout.CHECKPOINTS, layout.PARTS,
                                layout.FIGURES, *layout.TABLES.values()}
    assert layout._part_range(layout.organisms_part(3, 7)) == ("organisms", 3, 7)
    assert layout._part_range(layout.genomes_part(12)) == ("genomes", 12, 12)


def test_overwrite_removes_only_what_evosim_writes(tmp_path):
    """RUN_FILES in use: replacing a run (--overwrite) removes the run's files and keeps a file evosim did not write."""
    from evosim.config import Config, EvolutionConfig
    from evosim.store import layout
    from evosim.store.writer import RunWriter

    d = tmp_path / "run"
    d.mkdir()
    write_json(d / layout.MANIFEST, {"name": "x", "seed": 0, "status": "complete", "versions": {"format": 1}})
    (d / layout.TABLES["probe"]).write_bytes(b"old")
    (d / layout.FIGURES).mkdir()
    (d / "notes.txt").write_text("mine")
    cfg = Config(name="x", seed=0, evolution=EvolutionConfig(population=6, generations=2, episodes=2, elitism=1,
                                                             tournament_size=2))
    w = RunWriter(d, cfg)
    w.create("overwrite")
    try:
        assert sorted(os.listdir(d)) == sorted([layout.CONFIG, layout.MANIFEST, layout.LOCK, "notes.txt"])
        assert (d / "notes.txt").read_text() == "mine"
    finally:
        w.close()
