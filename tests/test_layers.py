"""The layers stay apart: tables-only modules load no kernels, analysis scripts reach the kernels only
through the library, and no evosim package imports another package's private names."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: modules that work on tables and arrays only: importing them must not load numba kernels
TABLE_MODULES = ("evosim.figures", "evosim.objectives", "evosim.schema")

#: known imports of another package's private names, each (importing module, imported-from module, name);
#: empty, and it stays so
PRIVATE_IMPORT_ALLOWED: set[tuple[str, str, str]] = set()


def _package(module: str) -> str:
    """The top-level subpackage a module belongs to (``evosim.kernels.rollout`` -> ``evosim.kernels``;
    a plain module such as ``evosim.report`` is its own package)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _module_name(path: Path) -> tuple[str, str]:
    """(dotted module name, the package relative imports resolve against) of a file under ROOT."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _imports(path: Path):
    """(imported-from module, name) of every ``from X import name`` in a file, relative imports resolved,
    and (module, None) of every ``import X``."""
    _, pkg = _module_name(path)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.rsplit(".", node.level - 1)[0] if node.level > 1 else pkg
                src = f"{base}.{node.module}" if node.module else base
            else:
                src = node.module or ""
            for alias in node.names:
                yield src, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None


def test_table_modules_load_no_kernels():
    code = ("import json, sys\n" + "".join(f"import {m}\n" for m in TABLE_MODULES)
            + "print(json.dumps(sorted(m for m in sys.modules if m.startswith('evosim'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(TABLE_MODULES) <= set(loaded)
    assert not [m for m in loaded if m == "evosim.kernels" or m.startswith("evosim.kernels.")], loaded
    assert "evosim.probe" not in loaded and "evosim.model" not in loaded, loaded


def test_the_layer_check_sees_a_kernel_import():
    """The subprocess check above is live: importing the probe does load the kernels."""
    code = "import sys, evosim.probe; print('evosim.kernels.probe_kernels' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "True"


def _kernel_imports(path: Path) -> list[str]:
    bad = []
    for src, name in _imports(path):
        if src == "evosim.kernels" or src.startswith("evosim.kernels."):
            bad.append(f"{src}" + (f".{name}" if name else ""))
        elif src == "evosim" and name == "kernels":
            bad.append("evosim.kernels")
    return bad


def test_analysis_scripts_do_not_import_the_kernels():
    scripts = sorted((ROOT / "analysis").glob("*.py"))
    assert scripts
    found = {p.name: _kernel_imports(p) for p in scripts}
    assert not {k: v for k, v in found.items() if v}, found


def test_the_kernel_import_check_catches_each_form(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    for i, line in enumerate(("from evosim.kernels import rollout", "from evosim import kernels",
                              "import evosim.kernels.bfs", "from evosim.kernels.rollout import _rollout")):
        p = tmp_path / f"s{i}.py"
        p.write_text(line + "\n")
        assert _kernel_imports(p), line
    ok = tmp_path / "ok.py"
    ok.write_text("from evosim.probe import probe_sets\nimport evosim.schema\n")
    assert not _kernel_imports(ok)


def _private_imports(root: Path) -> set[tuple[str, str, str]]:
    found = set()
    for path in sorted((root / "evosim").rglob("*.py")):
        mod, _ = _module_name(path)
        for src, name in _imports(path):
            if name is None or not src.startswith("evosim"):
                continue
            private = name.startswith("_") and not name.startswith("__")
            if private and _package(src) != _package(mod):
                found.add((mod, src, name))
    return found


def test_no_package_imports_another_packages_private_names():
    found = _private_imports(ROOT)
    assert found - PRIVATE_IMPORT_ALLOWED == set(), sorted(found - PRIVATE_IMPORT_ALLOWED)
    # an allowed entry that no longer occurs must leave the list
    assert PRIVATE_IMPORT_ALLOWED - found == set(), sorted(PRIVATE_IMPORT_ALLOWED - found)


def test_the_private_import_check_resolves_packages_and_relative_imports(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    pkg = tmp_path / "evosim"
    (pkg / "kernels").mkdir(parents=True)
    (pkg / "probe").mkdir()
    (pkg / "kernels" / "a.py").write_text("from evosim.kernels.b import _helper\nfrom .b import _other\n")
    (pkg / "probe" / "x.py").write_text("from evosim.kernels.b import _helper\nfrom evosim.probe.y import _mine\n")
    (pkg / "report.py").write_text("from .probe import _z\nfrom evosim.probe import public\n")
    found = _private_imports(tmp_path)
    assert found == {("evosim.probe.x", "evosim.kernels.b", "_helper"), ("evosim.report", "evosim.probe", "_z")}
