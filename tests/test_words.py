"""Words in the repository speak of the project: code, tests, docs and run definitions say what a
change does, never which ticket of a tracker outside the repository asked for it."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the word for a tracker entry followed by its number, with a space, a hyphen or "#" between
TICKET = re.compile(r"\b[Ii]ssues?[- ]#?\d+")
#: references to other projects' trackers are fine ("mesa issue #2514")
EXTERNAL = ("mesa", "numba", "pandas", "dask", "solara", "seaborn", "matplotlib", "pyarrow", "numpy", "scipy",
            "ipyvue", "ipyvuetify", "pytest", "jupytext", "nbclient")
SUFFIXES = {".py", ".md", ".toml", ".cfg", ".txt", ".ipynb", ".sh", ""}


def ticket_references(text: str) -> list[str]:
    out = []
    for m in TICKET.finditer(text):
        before = text[max(0, m.start() - 16):m.start()].lower()
        if not any(name in before for name in EXTERNAL):
            out.append(m.group(0))
    return out


def test_the_pattern_catches_ticket_numbers_and_spares_other_projects():
    word = "issue"  # spelled apart so that this file does not cite a ticket itself
    assert ticket_references(f"the signal before {word} 13") == [f"{word} 13"]
    assert ticket_references(f"({word}s 12-14) and {word.title()} #6, the {word}-14 columns") == \
        [f"{word}s 12", f"{word.title()} #6", f"{word}-14"]
    assert ticket_references(f"see mesa {word} #2514 and numba {word} 42") == []


def test_no_ticket_numbers_in_tracked_files():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    found = {}
    for name in files:
        p = ROOT / name
        if p.suffix not in SUFFIXES or not p.is_file():
            continue
        refs = ticket_references(p.read_text(errors="replace"))
        if refs:
            found[name] = refs
    assert not found, f"ticket numbers in the repository (say what, not which ticket): {found}"
