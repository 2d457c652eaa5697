"""``evosim view RUN_DIR``: serve the viewer page on loopback and print its URL.

The page only reads the run directory; Solara's own files (its asset cache) live in the
Python environment, never in the run. Telemetry is off and every browser asset is served
from the installed ``solara-assets`` package, so the viewer works without internet.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
import warnings

from evosim.errors import UserError

DEFAULT_PORT = 8765


class ViewServerError(UserError, OSError):
    """The viewer cannot listen where it was asked to."""


def _environment(run_dir: str, initial: dict) -> None:
    os.environ["EVOSIM_VIEW_RUN"] = run_dir
    os.environ["EVOSIM_VIEW_INITIAL"] = json.dumps(initial)
    os.environ["SOLARA_APP"] = "evosim.viewer.page:page"
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"  # no calls home (mixpanel, ipify)
    os.environ.setdefault("SOLARA_THEME_SHOW_BANNER", "False")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port`` 0: a free one), or a clear error."""
    if not 0 <= port <= 65535:
        raise ViewServerError(f"--port {port}: expected 0..65535 (0 picks a free port)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ViewServerError(f"--host {host!r}: cannot resolve it ({e.strerror})") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ViewServerError(f"--port {port}: {host}:{port} is already in use; pick another port "
                                  f"or --port 0 for a free one") from None
        raise ViewServerError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(run_dir, host: str = "127.0.0.1", port: int = DEFAULT_PORT, initial: dict | None = None,
          out=sys.stdout) -> int:
    """Check the run, listen, print the URL, serve until interrupted."""
    from evosim.viewer.data import open_run

    data = open_run(str(run_dir))  # a RunError (exit 2) if it is not a complete run
    initial = dict(initial or {})
    if "generation" in initial and initial["generation"] not in data.generations_saved:
        from evosim.viewer.data import ViewerError

        raise ViewerError(f"--generation {initial['generation']}: no genomes saved for it; "
                          f"saved: {data.generations_saved}")
    if "episode" in initial and not 0 <= initial["episode"] < data.episodes:
        from evosim.viewer.data import ViewerError

        raise ViewerError(f"--episode {initial['episode']}: expected 0 <= episode < {data.episodes}")
    sock = bind(host, port)
    _environment(str(data.path), initial)
    import uvicorn

    config = uvicorn.Config("solara.server.starlette:app", log_level="warning", access_log=False, ws_max_size=None,
                            lifespan="on")
    server = uvicorn.Server(config)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = host, str(bound)
    report = " (no report yet: run `evosim report` for outcome classes)" if not data.has_report else ""

    def _stop(signum, frame):  # Ctrl-C before or while the server starts: stop it cleanly (exit 0)
        server.should_exit = True

    # installed before the URL is printed, so an interrupt at any moment after it is a clean stop
    # (uvicorn puts this handler back after its own and hands it any signal it captured)
    previous = signal.signal(signal.SIGINT, _stop)
    print(f"evosim view: {data.path}{report}\n  http://{shown}:{bound}/   (Ctrl-C stops the server)", file=out,
          flush=True)
    # Solara's advice for https deployments and its hook linter on Mesa's own code: noise here
    warnings.filterwarnings("ignore", message=r"Cookies with samesite=none", category=UserWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"solara\.validate_hooks")
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a viewer is stopped
    finally:
        sock.close()
        signal.signal(signal.SIGINT, previous)
    print("evosim view: stopped", file=out, flush=True)
    return 0


def cmd_view(args) -> int:
    initial = {}
    for k in ("generation", "architecture", "outcome", "rank", "organism_id", "distribution", "episode"):
        v = getattr(args, k, None)
        if v is not None:
            initial[k] = v
    return serve(args.run_dir, host=args.host, port=args.port, initial=initial)


def add_parser(subparsers) -> None:
    from evosim.schema import DISTRIBUTIONS
    from evosim.viewer.data import ARCH_FILTERS

    v = subparsers.add_parser("view", help="watch organisms replay episodes in a browser (SolaraViz page)",
                              description="Serve a SolaraViz page for a run directory on loopback and print its "
                                          "URL. The page only reads the run.")
    v.add_argument("run_dir", help="run directory written by `evosim run` (e.g. runs/out/red_door__seed3)")
    v.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0: a free one)")
    v.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    v.add_argument("--generation", type=int, help="generation shown first (default: the final one)")
    v.add_argument("--architecture", choices=ARCH_FILTERS, help="architecture filter shown first")
    v.add_argument("--organism", dest="organism_id", type=int, help="organism id shown first (overrides the filters)")
    v.add_argument("--distribution", choices=DISTRIBUTIONS, help="layout distribution shown first (default train)")
    v.add_argument("--episode", type=int, help="held-out layout shown first (default 0)")
    v.set_defaults(func=cmd_view)
