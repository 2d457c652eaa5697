"""The ``evosim`` command line: run, report, sweep, bench.

User errors (bad config, bad run directory) print one line and exit with code 2, without a
traceback; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import sys
import tomllib

from evosim.errors import UserError

EXIT_USER_ERROR = 2


def _parse_value(text: str):
    """A ``--set`` value as TOML would read it (``5``, ``0.1``, ``true``, ``"x"``); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _overrides(args) -> dict:
    from evosim.config import ConfigError

    out = {}
    for item in args.set or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set evolution.population=500")
        k, v = item.split("=", 1)
        out[k.strip()] = _parse_value(v.strip())
    if args.seed is not None:
        out["seed"] = args.seed
    if args.generations is not None:
        out["evolution.generations"] = args.generations
    return out


def cmd_run(args) -> int:
    from evosim.config import load_config
    from evosim.experiment import run_experiment

    cfg = load_config(args.config, _overrides(args), overrides_source="command line")
    if args.resume and args.overwrite:
        raise _UsageError("--resume and --overwrite exclude each other")
    mode = "resume" if args.resume else ("overwrite" if args.overwrite else "new")
    res = run_experiment(cfg, args.out, mode=mode, progress=not args.quiet,
                         log=lambda m: print(m, file=sys.stderr))
    print(res.summary(cfg))
    return 130 if res.interrupted else 0


class _UsageError(UserError):
    """Flags that contradict each other."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evosim", description="Evolution produces mesa-optimisers: run, analyse and sweep experiments.")
    p.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run one experiment into a run directory")
    r.add_argument("config", help="experiment TOML file (e.g. runs/red_door.toml)")
    r.add_argument("--seed", type=int, help="the run's seed (overrides the file's)")
    r.add_argument("--generations", type=int, help="number of generations (overrides the file's)")
    r.add_argument("--out", help="run directory (default runs/out/<name>__seed<k>)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting, e.g. evolution.population=500")
    r.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    r.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)

    for mod in ("evosim.report", "evosim.sweep", "evosim.bench", "evosim.viewer.server"):
        try:
            m = __import__(mod, fromlist=["add_parser"])
        except ImportError:
            continue
        m.add_parser(sub)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    args.debug = debug
    import matplotlib

    matplotlib.use("Agg")  # the command line only writes figures to files (the library leaves the backend alone)
    from evosim.errors import UserError

    try:
        return int(args.func(args) or 0)
    except UserError as e:
        if args.debug:
            raise
        print(f"evosim: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("evosim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
