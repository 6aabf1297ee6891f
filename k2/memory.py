"""Keeping a long-running service's resident memory close to what it really holds.

Measured on the consumer at 1,000 trades/s for 60 s on a fresh stack (memray, /proc smaps):
what it held at its peak was under 90 MiB, yet its resident size went from 200 to 440 MiB.
The rest was freed memory the allocators kept:
- PyArrow's default pool (mimalloc) kept 155 MiB resident in its 1 GiB arena;
- glibc kept freed chunks spread over one arena per thread (librdkafka's, the S3 client's,
  compaction's readers), and `malloc_trim` handed 80 MiB of them back.
With PyArrow on the system allocator, two arenas and a trim after every commit, the same run
peaked at about 300 MiB. On anything but glibc the glibc parts do nothing.

The query API had the same trouble: during the freshness feature (10 to 1,000 trades/s, a
stack started by the run) its proportional set size peaked at 294 to 349 MiB on mimalloc,
over its 320 MiB budget, although at rest it holds about 160. With the system allocator and
two arenas it peaked at 223 to 276 MiB, and with freed pages handed back every 2 s at 222 to
263. It has no commit to trim after, so it trims on a timer (`release_every`), off the
request path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading

log = logging.getLogger("k2.memory")

ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    # musl has neither: the functions below then do nothing
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _libc()


def settle(arenas: int = 2) -> None:
    """Call first thing in a service's main module, before PyArrow is imported and before any
    thread starts: Arrow reads its pool choice once, glibc creates arenas as threads appear.
    An ARROW_DEFAULT_MEMORY_POOL set by the operator wins."""
    if "pyarrow" in sys.modules:
        log.warning("pyarrow was imported before k2.memory.settle(): its pool stays as it was")
    os.environ.setdefault(ARROW_POOL_VARIABLE, "system")
    if _LIBC is not None:
        _LIBC.mallopt(M_ARENA_MAX, arenas)


def release() -> None:
    """Hand freed heap pages back to the system (glibc's malloc_trim): 5-9 ms on a heap of the
    consumer's size with half of it freed, about 1 % of a core at two commits a second."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def release_every(seconds: float) -> threading.Event:
    """`release()` every `seconds` on a daemon thread, for a service with no natural moment to
    trim (the API: requests on many threads); set the returned event to stop it."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(seconds):  # the period between trims, not a wait for state
            release()

    threading.Thread(target=run, name="memory-release", daemon=True).start()
    return stop
