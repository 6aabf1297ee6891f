"""Operating-system facts about the stack's processes and ports (psutil and sockets)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from harness.stack.driver import Resources
from harness.waiting import ConditionTimeout, eventually


def process(pid: int | None, create_time: float | None) -> psutil.Process | None:
    """The live process with this pid *and* start time (a recycled pid is someone else)."""
    if not pid:
        return None
    try:
        p = psutil.Process(pid)
        if create_time is not None and abs(p.create_time() - create_time) > 0.05:
            return None
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        return p
    except psutil.Error:
        return None


def is_paused(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_STOPPED
    except psutil.Error:
        return False


def signal_group(p: psutil.Process, sig: signal.Signals) -> None:
    """Signal the process, its group (each service runs in a session of its own) and every
    descendant: PostgreSQL's backends call setsid() and so leave the postmaster's group, and a
    "paused" database whose open connections still answer would not be paused at all."""
    procs = tree(p)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(os.getpgid(p.pid), sig)
    for q in procs:
        with contextlib.suppress(psutil.Error):
            q.send_signal(sig)


def tree(p: psutil.Process) -> list[psutil.Process]:
    try:
        return [p, *p.children(recursive=True)]
    except psutil.Error:
        return []


def _living(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until the processes have exited; return those still living after `timeout`.

    A zombie counts as gone: a service started by an earlier CLI call is not our child, and
    this machine's init may take a second or two to reap it (psutil.wait_procs waits for that).
    """
    procs = list(procs)
    with contextlib.suppress(ConditionTimeout):
        eventually(
            lambda: not any(_living(p) for p in procs),
            within=max(timeout, 0.1),
            every=0.05,
            describe="processes exited",
        )
    return [p for p in procs if _living(p)]


def memory_of(p: psutil.Process) -> int:
    """Proportional set size where the kernel offers it (Linux), resident size otherwise."""
    try:
        return int(p.memory_full_info().pss)
    except (psutil.AccessDenied, AttributeError):
        return int(p.memory_info().rss)


def resources(p: psutil.Process, sample: float = 0.2) -> Resources:
    procs = tree(p)
    for q in procs:
        with contextlib.suppress(psutil.Error):
            q.cpu_percent(None)  # start the sampling window
    time.sleep(sample)  # a measurement window for CPU use, not a wait for state
    mem = cpu_s = pct = 0.0
    for q in procs:
        with contextlib.suppress(psutil.Error):
            mem += memory_of(q)
            t = q.cpu_times()
            cpu_s += t.user + t.system
            pct += q.cpu_percent(None)
    return Resources(
        memory_bytes=int(mem), cpu_seconds=round(cpu_s, 2), cpu_percent=round(pct, 1), processes=len(procs)
    )


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def port_owner(port: int) -> str:
    """Who listens on a port, for error messages ("pid 123 java"), or "" when unknown."""
    try:
        for c in psutil.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                try:
                    return f"pid {c.pid} {psutil.Process(c.pid).name()}"
                except psutil.Error:
                    return f"pid {c.pid}"
    except psutil.Error:
        pass
    return ""


def processes_under(root: Path) -> list[psutil.Process]:
    """Every process whose working directory or command line lies under `root`.

    This finds the stack's processes even when its state file is lost (a crashed harness),
    because every service runs in, and names files under, the stack directory.
    """
    prefix = str(root.resolve()) + os.sep
    workdirs = (prefix + "run" + os.sep, prefix + "data" + os.sep)  # not logs/: a developer's `tail -f`
    me = os.getpid()
    found: list[psutil.Process] = []
    for p in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        if p.info["pid"] == me or p.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cwd = (p.info["cwd"] or "") + os.sep
        cmd = p.info["cmdline"] or []
        if cwd.startswith(workdirs) or any(prefix in arg or arg == prefix.rstrip(os.sep) for arg in cmd):
            found.append(p)
    return found
