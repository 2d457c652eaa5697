"""The lock of a run directory: ``.lock`` holds the PID, host and process start time of the one
process allowed to write the directory. A second holder is refused with a RunError naming the
holder; a stale lock of a dead local process (or of a reused PID) is taken over with a warning.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from evosim.store.layout import LOCK, RunError


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def _pid_start(pid: int) -> str | None:
    """Start time of a process (Linux clock ticks since boot), to tell a reused PID from the lock's owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return None


class RunLock:
    """A lock file holding PID and host; a stale lock of a dead local process is taken over with a warning."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self.warning: str | None = None
        self.held = False

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "start": _pid_start(os.getpid())}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    held = json.loads(self.path.read_text())
                    held = held if isinstance(held, dict) else {}
                except (OSError, ValueError):
                    held = {}
                pid, host = held.get("pid"), held.get("host")
                if not held:  # empty or garbled: a writer died between creating and filling it
                    age = time.time() - self.path.stat().st_mtime if self.path.exists() else 0.0
                    if age < 5.0:
                        time.sleep(0.2)
                        continue
                    self.warning = f"took over an unreadable lock file {self.path}"
                    self.path.unlink(missing_ok=True)
                    continue
                same_host = host == me["host"]
                dead = isinstance(pid, int) and (not _pid_alive(pid) or
                                                 (held.get("start") is not None and _pid_start(pid) != held.get("start")))
                if same_host and dead:
                    self.warning = f"took over a stale lock of dead process {pid} on {host}"
                    self.path.unlink(missing_ok=True)
                    continue
                raise RunError(f"{self.path.parent}: locked by process {pid} on {host}; another evosim is writing "
                               f"this directory (if that process is gone, remove {self.path})") from None
            except OSError as e:
                raise RunError(f"{self.path.parent}: cannot create the lock file: {e.strerror}") from None
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump(me, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as e:
                self.path.unlink(missing_ok=True)
                raise RunError(f"{self.path.parent}: cannot write the lock file: {e.strerror}") from None
            self.held = True
            return
        raise RunError(f"{self.path}: could not acquire the lock")

    def release(self) -> None:
        """Remove the lock if this process holds it (never another process's lock)."""
        if not self.held:
            return
        self.held = False
        try:
            held = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(held, dict) and held.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)



    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> bool:
        self.release()
        return False


def lock_holder(run_dir: Path) -> dict | None:
    """The lock file's contents (pid, host, start) or None if there is no readable lock."""
    try:
        held = json.loads((Path(run_dir) / LOCK).read_text())
    except (OSError, ValueError):
        return None
    return held if isinstance(held, dict) else None


def clear_own_lock(run_dir: Path) -> bool:
    """Drop a lock this very process left behind (a run that raised earlier in this process); True if removed.

    Never touches another process's lock."""
    held = lock_holder(run_dir)
    if held is not None and held.get("pid") == os.getpid() and held.get("host") == socket.gethostname():
        (Path(run_dir) / LOCK).unlink(missing_ok=True)
        return True
    return False
