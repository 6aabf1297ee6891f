"""Table work off the consuming thread: batch commits on one thread, compaction on another.

A commit takes about 100 ms, a compaction several hundred, and while either ran on the loop's
thread every trade that arrived waited behind it. (The larger part of the old tail was the
loop's Kafka checks, see `ConsumerLoop._watch`.) Now the loop hands a due batch to the
committer and goes on reading; at most one batch is in flight, so commits stay in order and
each batch's base is where the one before it ends. The loop waits for the batch in flight only
when its next batch is full, on a rebalance and when it stops.

The committer is the table's only writer in this process. Expiry rides in the commit that makes
it due (one metadata file instead of two). A compaction is prepared on a thread of its own
(reading and rewriting the small files, nothing in the table changes) and swapped in by the
committer after a commit: the one part of it that changes the table, and the only part that
holds up the next commit.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from k2 import memory
from k2.consumer import compaction
from k2.consumer.offsets import Offsets
from k2.consumer.rows import to_table
from k2.consumer.writer import IcebergWriter, StaleWriter

log = logging.getLogger("k2.consumer")
T = TypeVar("T")


class Worker:
    """One daemon thread running what is submitted to it, in order. Not a ThreadPoolExecutor:
    its threads are joined when the interpreter exits, so a call stuck on an unreachable object
    store would keep a stopping consumer alive until it is killed."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((future, fn))
        return future

    def close(self, timeout: float) -> None:
        """Stop after what was submitted, waiting at most `timeout` seconds for it."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn = item
            try:
                future.set_result(fn())
            except BaseException as exc:  # the submitter's to handle, as with any future
                future.set_exception(exc)


@dataclass(frozen=True)
class Batch:
    rows: list[dict[str, Any]]
    base: dict[int, int | None]
    """Where each partition of the batch began: the table's offset, or the batch before it's end."""
    new: Offsets
    """Where each partition of the batch ends."""
    age_ms: float
    """How long the batch's oldest record had waited when the batch was handed over."""


@dataclass(frozen=True)
class Outcome:
    batch: Batch
    committed: Offsets | None
    """The table's offsets after the commit; None when nothing was committed."""
    stale: bool = False
    """Another writer moved a partition of the batch: it and every batch after it are dropped."""


class Committer:
    """Commits batches, one at a time, on a thread of its own (`submit`), and keeps the table
    lean after them: expiry in the commit, compaction prepared aside and swapped in."""

    def __init__(self, writer: IcebergWriter, stats: Any, snapshots_kept: int, stopping: threading.Event) -> None:
        self.writer = writer
        self.stats = stats
        self.snapshots_kept = snapshots_kept
        self.stopping = stopping
        self.failing = False
        """The last attempt to commit failed (object store or catalog away): not ready."""
        self._commits = Worker("k2-commit")
        self._compactor = Worker("k2-compact")
        self._prepared: Future[tuple[compaction.Prepared | None, float]] | None = None
        self._since_check = compaction.CHECK_EVERY - 1  # look after the first commit: a backlog may wait

    def submit(self, batch: Batch) -> Future[Outcome]:
        return self._commits.submit(lambda: self._commit(batch))

    def close(self, timeout: float = 20) -> None:
        """Wait for the commit in flight (it gives up retrying once the consumer stops); a
        compaction being prepared is let go: nothing of it is in the table yet."""
        self._commits.close(timeout)
        self._compactor.close(0)

    # ------------------------------------------------------------------ on the commit thread
    def _commit(self, batch: Batch) -> Outcome:
        """Commit the batch with its offsets; on failure keep it and retry, unless it is stale or
        the consumer stops (then it is read again after a restart)."""
        rows = to_table(batch.rows)
        t0 = time.monotonic()
        attempts = 0
        while True:
            try:
                committed = self.writer.commit(rows, batch.base, batch.new, keep=self.snapshots_kept)
                break
            except StaleWriter as exc:
                self.stats.stale_batches += 1
                log.warning("batch is stale, dropping it and re-seeking", extra={"error": str(exc)})
                return Outcome(batch, None, stale=True)
            except Exception as exc:  # object store or catalog away: keep the batch, try again
                attempts += 1
                self.failing = True
                self.stats.failed_commit_attempts += 1
                self.stats.last_error = f"commit: {type(exc).__name__}: {exc}"
                log.warning("commit failed, retrying", extra={"error": self.stats.last_error, "rows": rows.num_rows})
                if self.stopping.wait(min(0.5 * attempts, 5.0)):
                    return Outcome(batch, None)
        self.failing = False
        self.stats.commits += 1
        self.stats.committed_rows += rows.num_rows
        self.stats.last_commit_ms = round((time.monotonic() - t0) * 1000, 1)
        log.info(
            "committed",
            extra={
                "rows": rows.num_rows,
                "ms": self.stats.last_commit_ms,
                "age_ms": batch.age_ms,
                "retries": attempts,
            },
        )
        if self.writer.expired:
            self.stats.expired_snapshots += self.writer.expired
            log.info("expired old snapshots", extra={"expired": self.writer.expired, "kept": self.snapshots_kept})
        self._compact()
        memory.release()  # what the commit freed goes back to the system, not to an idle arena
        return Outcome(batch, committed)

    def _compact(self) -> None:
        """Swap in a compaction that is ready; otherwise, every few commits, start preparing one."""
        if self._prepared is not None:
            if self._prepared.done():
                future, self._prepared = self._prepared, None
                self._swap(future)
            return
        self._since_check += 1
        if self._since_check >= compaction.CHECK_EVERY:
            self._since_check = 0
            self._prepared = self._compactor.submit(self._prepare)

    def _swap(self, future: Future[tuple[compaction.Prepared | None, float]]) -> None:
        """Swap a prepared compaction into the table; a failure only delays it to a later one."""
        try:
            prepared, prepare_ms = future.result()
            if prepared is None:
                log.info("no compaction due", extra={"prepare_ms": prepare_ms})
                return
            t0 = time.monotonic()
            swapped = self.writer.swap(prepared)
        except Exception as exc:  # store away, or another writer won the race: nothing changed
            log.warning("compaction failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            return
        ms = round((time.monotonic() - t0) * 1000, 1)
        if not swapped:
            log.info("compaction let go: its files were rewritten meanwhile", extra={"ms": ms})
            return
        self.stats.compactions += 1
        self.stats.compacted_files += len(prepared.plan.files)
        log.info(
            "compacted small files",
            extra={"files": len(prepared.plan.files), "rows": prepared.plan.rows, "ms": ms, "prepare_ms": prepare_ms},
        )

    # ------------------------------------------------------------------ on the compaction thread
    def _prepare(self) -> tuple[compaction.Prepared | None, float]:
        t0 = time.monotonic()
        prepared = self.writer.prepare_compaction()
        return prepared, round((time.monotonic() - t0) * 1000, 1)
