"""Shared fixtures. Tests never touch the network; run directories go under pytest's tmp_path."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs"


@pytest.fixture
def runs_dir() -> Path:
    """The shipped experiment definitions."""
    return RUNS


@pytest.fixture
def tiny_config():
    """A very small red_door config (fast enough for unit tests)."""
    from evosim.config import load_config

    return load_config(RUNS / "quickstart.toml", {"evolution.population": 40, "evolution.generations": 4,
                                                  "evolution.episodes": 4, "evolution.checkpoint_every": 2})


def small_mixed_run(path: Path, report: bool = True) -> Path:
    """A red_door quickstart run small enough for the viewer's tests: planners and heuristics,
    genomes saved every 3rd generation and at the last, 12 probe episodes per distribution; with its report
    (no figures) unless ``report=False``."""
    from evosim.config import load_config
    from evosim.experiment import run_experiment
    from evosim.report import report_run

    cfg = load_config(RUNS / "quickstart.toml", {"evolution.population": 40, "evolution.generations": 6,
                                                 "evolution.episodes": 4, "evolution.checkpoint_every": 3,
                                                 "probe.episodes": 12, "probe.decision_episodes": 5,
                                                 "probe.random_rollouts": 4})
    run_experiment(cfg, path, mode="new", progress=False)
    if report:
        report_run(path, figures=False)
    return path


@pytest.fixture(scope="session")
def small_mixed_runs(tmp_path_factory) -> dict[str, Path]:
    """``small_mixed_run`` once per session, shared read-only by the viewer's tests (test_viewer.py and
    test_viewer_browser.py, which check that they leave it unchanged): ``bare`` without a report,
    ``reported`` a copy of it with its report (no figures)."""
    import shutil

    from evosim.report import report_run

    root = tmp_path_factory.mktemp("small_mixed")
    bare = small_mixed_run(root / "bare", report=False)
    reported = root / "reported"
    shutil.copytree(bare, reported)
    report_run(reported, figures=False)
    return {"bare": bare, "reported": reported}


# -- fault injection -------------------------------------------------------------------------
class Faults:
    """A test-only fault hook for ``run_experiment(..., faults=)`` / ``RunWriter(..., faults=)``.

    ``spec`` is ``"<point>@<n>[:<action>]"`` (comma-separated for several): the n-th time the run
    passes ``<point>`` do ``<action>``: ``kill`` (SIGKILL, the default), ``sigint``, ``sigint2``
    (two SIGINTs), ``sigterm``, ``oserror`` (raise OSError ENOSPC) or ``keyboard`` (raise
    KeyboardInterrupt). Points: ``generation``, ``part``, ``checkpoint-file``, ``checkpoint-rename``,
    ``atomic-write`` (see evosim.store.writer). ``hits`` counts the calls per point.
    """

    def __init__(self, spec: str = ""):
        self.spec = spec
        self.hits: dict[str, int] = {}

    def __call__(self, point: str) -> None:
        import errno
        import os
        import signal
        import time

        self.hits[point] = self.hits.get(point, 0) + 1
        for item in filter(None, (s.strip() for s in self.spec.split(","))):
            where, _, action = item.partition(":")
            name, _, nth = where.partition("@")
            if name != point or self.hits[point] != int(nth or 1):
                continue
            if action in ("", "kill"):
                os.kill(os.getpid(), signal.SIGKILL)
            elif action == "sigint":
                os.kill(os.getpid(), signal.SIGINT)
            elif action == "sigint2":
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
                os.kill(os.getpid(), signal.SIGINT)
            elif action == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            elif action == "oserror":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            elif action == "keyboard":
                raise KeyboardInterrupt
            else:
                raise ValueError(f"unknown fault action {action!r}")
            time.sleep(0.05)  # let the signal handler run here


@pytest.fixture
def faults():
    """``faults("generation@6:sigint")``: a fresh fault hook (see ``Faults``)."""
    return Faults


def cli_with_faults(spec: str | None, argv: list[str]) -> list[str]:
    """The command line (``python -c ...``) of ``evosim <argv>`` run with the fault hook ``spec``
    passed explicitly to ``run_experiment``."""
    import sys

    script = ("import functools, sys\n"
              f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
              "from conftest import Faults\n"
              "import evosim.experiment as ex\n"
              f"ex.run_experiment = functools.partial(ex.run_experiment, faults=Faults({spec or ''!r}))\n"
              "from evosim.cli import main\n"
              f"sys.exit(main({list(argv)!r}))\n")
    return [sys.executable, "-c", script]


#: end-to-end probes that run the whole population through probe_population (behavioural fits, the radius
#: estimate, task agreement): with NUMBA_DISABLE_JIT=1 (the CI coverage step) their pure-Python kernels take
#: many minutes; the kernels they call are covered there by the twin tests, and these run with the JIT
NO_JIT_TOO_SLOW = {
    "test_radius_estimate_recovers_short_door_radius", "test_existing_behavioural_columns_unchanged",
    "test_fit_with_true_radii_equals_the_world_radius_fit", "test_probe_table_columns_documented",
    "test_probe_invariants", "test_probe_deterministic", "test_intervention_none_reproduces_probe",
}


def pytest_collection_modifyitems(config, items):
    import os

    if os.environ.get("NUMBA_DISABLE_JIT") != "1":
        return
    skip = pytest.mark.skip(reason="end-to-end probe: minutes as plain Python; runs with the JIT (conftest.NO_JIT_TOO_SLOW)")
    for item in items:
        if item.originalname in NO_JIT_TOO_SLOW or item.name in NO_JIT_TOO_SLOW:
            item.add_marker(skip)
