"""Iceberg commit cost against batch size, through the consumer's own commit path.

On a scratch table of the trades table's schema, partitioning and properties (created in the
bench stack's catalog, dropped at the end), batches of 100, 1,000, 10,000 and 50,000 rows are
appended with `k2.consumer.writer.append`, the call the consumer commits with, through the
consumer's file IO (`k2.catalog.FILE_IO`), carrying a snapshot summary like the consumer's.
The sizes take turns (100, 1,000, ..., then again), so the table's growing snapshot count (a
commit rewrites the table metadata, so it costs more with more snapshots) weighs on every size
alike. The Arrow rows are built before the clock starts: only the commit (data file written to
S3, manifests, catalog update) is timed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.bench.api_latency import synthetic_trades
from harness.endpoints import Endpoints

Say = Callable[[str], None]

SIZES: tuple[int, ...] = (100, 1_000, 10_000, 50_000)
REPEATS = 10
QUICK_REPEATS = 3
SCRATCH_TABLE = "market_data.bench_commit_cost"
SCRATCH_TOPIC = "bench-scratch"
"""Each timed commit carries Kafka offsets in its snapshot summary, as the consumer's do, for this
made-up topic (on the scratch table only, which no consumer reads)."""


def summarize_commits(timings: Mapping[int, Sequence[float]]) -> list[dict[str, Any]]:
    """Per batch size, ascending: the median, min and max milliseconds per commit, and rows/s at the median."""
    out = []
    for rows in sorted(timings):
        ms = list(timings[rows])
        if not ms:
            continue
        median = statistics.median(ms)
        out.append(
            {
                "rows": rows,
                "ms": round(median, 1),
                "min_ms": round(min(ms), 1),
                "max_ms": round(max(ms), 1),
                "repeats": len(ms),
                "rows_per_s": round(rows / (median / 1000)) if median > 0 else None,
            }
        )
    return out


def schedule(sizes: Sequence[int], repeats: int) -> list[int]:
    """The order of the commits: every size once per round, `repeats` rounds."""
    if repeats < 1 or not sizes:
        raise ValueError(f"need at least one size and one repeat, got {list(sizes)} x {repeats}")
    return [size for _ in range(repeats) for size in sizes]


def time_commits(
    append: Callable[[Any, int], None],
    batches: Mapping[int, Any],
    order: Sequence[int],
    say: Say,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[int, list[float]]:
    """Time `append(rows, n)` for each size in `order` (rows prepared in `batches`); milliseconds per size."""
    timings: dict[int, list[float]] = {size: [] for size in batches}
    for k, size in enumerate(order, 1):
        t0 = clock()
        append(batches[size], k)
        timings[size].append((clock() - t0) * 1000)
        say(f"[bench]   commit {k}/{len(order)}: {size:,} rows in {timings[size][-1]:.0f} ms")
    return timings


def measure_commits(
    endpoints: Endpoints, say: Say, sizes: Sequence[int] = SIZES, repeats: int = REPEATS
) -> list[dict[str, Any]]:
    """bench.json's "commit" section; the scratch table is dropped whatever happens."""
    from pyiceberg.catalog import load_catalog
    from pyiceberg.exceptions import NoSuchTableError

    # the platform's own table definition, file IO and commit path: what is being benchmarked
    from k2.catalog import FILE_IO
    from k2.consumer.offsets import encode
    from k2.consumer.writer import append
    from k2.schemas.table import OFFSETS_PROPERTY, PARTITION_SPEC, SCHEMA, TABLE_PROPERTIES

    c = endpoints.catalog
    cat = load_catalog(c.name, **{**c.properties, "py-io-impl": FILE_IO})  # as the consumer opens it
    order = schedule(sizes, repeats)
    end_us = int(time.time() * 1_000_000)
    batches = {size: synthetic_trades(0, size, total=size, end_us=end_us, span_us=60 * 1_000_000) for size in sizes}
    if cat.table_exists(SCRATCH_TABLE):  # left by an interrupted run
        cat.drop_table(SCRATCH_TABLE)
    say(
        f"[bench] commit cost: {len(order)} commits of {', '.join(f'{s:,}' for s in sizes)} rows "
        f"({repeats} each) into the scratch table {SCRATCH_TABLE} ..."
    )
    table = cat.create_table(
        SCRATCH_TABLE,
        schema=SCHEMA,
        partition_spec=PARTITION_SPEC,
        properties={**TABLE_PROPERTIES, "format-version": "2"},
    )
    say(f"[bench]   file IO {type(table.io).__name__}")
    try:

        def commit(rows: Any, k: int) -> None:
            append(table, rows, {OFFSETS_PROPERTY: encode(SCRATCH_TOPIC, {0: k})})

        timings = time_commits(commit, batches, order, say)
    finally:
        try:
            purge = getattr(cat, "purge_table", None)
            (purge or cat.drop_table)(SCRATCH_TABLE)
            say(f"[bench]   dropped {SCRATCH_TABLE}")
        except NoSuchTableError:
            pass
        except Exception as exc:  # the bench's result stands; say what is left behind
            say(f"[bench]   could not drop {SCRATCH_TABLE}: {type(exc).__name__}: {exc}")
    return summarize_commits(timings)
