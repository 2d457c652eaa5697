"""``evosim bench``: the command line (flags, output files, exit codes).

Owns ``BenchError`` (a bad argument: exit 2 through ``evosim.cli``), ``cmd_bench`` and
``add_parser``. The work is ``evosim.bench.suite.run_suite``; the output is ``evosim.bench.report``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from evosim.bench.report import markdown, scaling_figure, table, write_doc
from evosim.bench.suite import record, run_suite
from evosim.bench.timing import machine
from evosim.errors import UserError


class BenchError(UserError):
    """A bad ``evosim bench`` argument (output path, ...)."""


def cmd_bench(args) -> int:
    profile = "quick" if args.quick else "full"
    for opt in ("json", "doc"):
        target = getattr(args, opt)
        if target is not None and not Path(target).resolve().parent.is_dir():
            raise BenchError(f"--{opt} {target}: directory {Path(target).resolve().parent} does not exist")
    rows: list[dict] = []
    t0 = time.perf_counter()
    recs = run_suite(profile, scaling_out=rows)
    wall = time.perf_counter() - t0
    recs.append(record("bench_wall_s", wall, "s", profile=profile, machine=machine()))
    print(table(recs))
    if args.json:
        from evosim.store.files import atomic_write

        payload = json.dumps(recs, indent=1, default=str) + "\n"
        atomic_write(Path(args.json), lambda tmp: Path(tmp).write_text(payload))
    if args.doc:
        doc = Path(args.doc)
        figure = None
        if rows:
            fig_path = doc.with_name(doc.stem + "_scaling.png")
            scaling_figure(rows, fig_path)
            figure = fig_path.name
        command = "evosim bench" + (" --quick" if args.quick else "") + f" --doc {args.doc}" + \
            (f" --json {args.json}" if args.json else "")
        write_doc(doc, markdown(recs, rows, command, figure))
    return 0


def add_parser(subparsers) -> None:
    b = subparsers.add_parser("bench", help="benchmark the kernels, a generation and the shipped experiments")
    b.add_argument("--quick", action="store_true", help="a subset in under a minute (no cold compile, experiments or scaling)")
    b.add_argument("--json", metavar="OUT", help="write the records as a JSON list of {name, value, unit, params}")
    b.add_argument("--doc", metavar="MD", help="rewrite the generated section of this Markdown file (e.g. docs/performance.md) and its scaling figure")
    b.set_defaults(func=cmd_bench)


__all__ = ["BenchError", "cmd_bench", "add_parser"]
