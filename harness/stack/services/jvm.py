"""Class data sharing for the stack's Java services: the classes a service loads at start,
parsed and verified once, kept in an archive that later starts map instead.

Kafka took 13-17 s to start on a busy 2-core machine and 8 s with the archive, and every broker
or registry restart of the suite waits on that. A JVM (13+) started with
-XX:ArchiveClassesAtExit writes the archive when it exits normally (a graceful stop, not a kill).

Every stack on the machine shares the archive, so each JVM writes a pending one under a name of
its own, and a later start promotes it once no process is writing it any more. A half-written
or stale archive costs only a warning: the JVM then starts without it (-Xshare:auto).
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil

WRITE = "-XX:ArchiveClassesAtExit="


def archive_options(
    cache: Path, service: str, java: Path, classpath: str, writing: Callable[[Path], bool] | None = None
) -> list[str]:
    """The JVM options for `service`: use its archive if there is one, else write one at exit."""
    folder = cache / "cds"
    key = hashlib.sha1(f"{java.resolve()}\n{classpath}".encode()).hexdigest()[:12]
    final = folder / f"{service}-{key}.jsa"
    settle(folder, f"{service}-{key}.", final, writing or _being_written)
    quiet = "-Xlog:cds*=error"  # writing an archive warns of every class it cannot keep (~100 lines)
    if final.exists():
        return [quiet, f"-XX:SharedArchiveFile={final}"]
    folder.mkdir(parents=True, exist_ok=True)
    return [quiet, WRITE + str(folder / f"{service}-{key}.{uuid.uuid4().hex[:8]}.pending")]


def settle(folder: Path, prefix: str, final: Path, writing: Callable[[Path], bool]) -> None:
    """Promote the first finished pending archive to `final` (if there is none yet); remove the
    other finished ones. Pending archives a live JVM may still write are left alone."""
    if not folder.is_dir():
        return
    for pending in sorted(folder.glob(prefix + "*.pending")):
        if writing(pending):
            continue
        with contextlib.suppress(OSError):  # another start may be settling it at the same moment
            if pending.stat().st_size > 0 and not final.exists():
                pending.rename(final)
            else:
                pending.unlink()


def _being_written(pending: Path) -> bool:
    option = WRITE + str(pending)
    return any(option in (proc.info["cmdline"] or ()) for proc in psutil.process_iter(["cmdline"]))
