"""The notebooks in docs/ are part of the test suite: each is executed top to bottom on every run
(so a change that breaks the public API they use fails CI), its jupytext twin (``.py``, percent
format, the readable diff) must hold the same cells, and the committed ``.ipynb`` must carry no
outputs (figures and numbers in the repository can never be stale).

Editing: change either file, then ``jupytext --sync docs/<name>.ipynb`` (or ``jupytext --to ipynb
docs/<name>.py``); strip outputs before committing (``jupyter nbconvert --clear-output`` or
``jupytext --to ipynb`` from the ``.py``, which writes none).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTEBOOKS = ["tutorial", "evolution_analogy"]
#: the fast tier executes every cell of each notebook at a smaller size (the same calls and code
#: paths, fewer organisms, generations, seeds and probe episodes); the slow tier executes them as
#: committed. evolution_analogy: a cell after its ``parameters`` cell (papermill's convention);
#: tutorial: its ``TINY`` overrides, each edit checked to apply exactly once (so a changed notebook
#: fails here rather than silently running at full size).
SMALL = {
    "evolution_analogy": "SEEDS = [1, 2]\nPOPULATION = 30\nGENERATIONS = 6\nPROBE_EPISODES = 12\n",
    "tutorial": {'"evolution.population": 80,': '"evolution.population": 40,',
                 '"evolution.generations": 25,': '"evolution.generations": 8,',
                 '"evolution.episodes": 6,': '"evolution.episodes": 4,',
                 '"probe.episodes": 40,': '"probe.episodes": 12,',
                 '"probe.decision_episodes": 20,': '"probe.decision_episodes": 6,',
                 '"probe.intervention_planners": 20,': '"probe.intervention_planners": 6,'},
}
#: per-cell limit. Measured on 2 cores shared with other jobs (load average ~5): tutorial 30 s and
#: evolution_analogy 20 s with numba's cache warm; 150 s and 40 s with an empty cache (fresh install)
CELL_TIMEOUT_S = 900


def _cells(nb) -> list[tuple[str, str, tuple]]:
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in nb.cells]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_jupytext_twin_in_sync(name):
    ipynb = jupytext.read(DOCS / f"{name}.ipynb")
    py = jupytext.read(DOCS / f"{name}.py")
    a, b = _cells(ipynb), _cells(py)
    assert len(a) == len(b), (f"docs/{name}.ipynb has {len(a)} cells, docs/{name}.py {len(b)}: "
                              f"run `jupytext --sync docs/{name}.ipynb`")
    for i, (ca, cb) in enumerate(zip(a, b)):
        assert ca == cb, f"docs/{name}: cell {i} differs between .ipynb and .py: run `jupytext --sync docs/{name}.ipynb`"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_no_outputs(name):
    nb = nbformat.read(DOCS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"docs/{name}.ipynb: cells {dirty} carry outputs or execution counts; commit it without "
                       f"outputs (`jupytext --to ipynb docs/{name}.py` or `jupyter nbconvert --clear-output`)")


def shrink(name: str, nb) -> None:
    """Make ``nb`` (the notebook ``name``) run at the fast tier's size, in place (see ``SMALL``)."""
    small = SMALL[name]
    if isinstance(small, str):
        at = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", ())]
        assert len(at) == 1, f"docs/{name}.ipynb: expected one cell tagged parameters, found {len(at)}"
        nb.cells.insert(at[0] + 1, nbformat.v4.new_code_cell(small))
        return
    for old, new in small.items():
        hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
        assert len(hits) == 1 and hits[0].source.count(old) == 1, f"docs/{name}.ipynb: {old!r} not found once"
        hits[0].source = hits[0].source.replace(old, new)


@pytest.mark.parametrize("size", ["small", pytest.param("as committed", marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(name, size, tmp_path, monkeypatch):
    """Run the notebook in a fresh kernel of this interpreter, from docs/, with its temporary files
    under tmp_path. A ``python3`` kernel spec written here (argv[0] = ``sys.executable``) comes first
    on JUPYTER_PATH, so a user-level spec pointing at another Python cannot be picked up. ``small``
    (the fast tier) shrinks the runs first (``SMALL``); ``as committed`` (slow tier) does not."""
    from ipykernel.kernelspec import write_kernel_spec

    specs = tmp_path / "jupyter"
    write_kernel_spec(path=str(specs / "kernels" / "python3"))
    monkeypatch.setenv("JUPYTER_PATH", str(specs))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel inherits the environment
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, as for a user
    nb = nbformat.read(DOCS / f"{name}.ipynb", as_version=4)
    if size == "small":
        shrink(name, nb)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(DOCS)}})
    t0 = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - t0
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    print(f"docs/{name}.ipynb ({size}) executed in {wall:.0f} s (load average {os.getloadavg()[0]:.1f})")
