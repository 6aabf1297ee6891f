"""One pipeline scenario: the trades it asked the exchange for, and what each stage holds of them.

Only the scenario's own trades are checked, so scenarios can share a stack: a stage's rows are
in scope when their symbol and exchange trade id fall in a range this scenario emitted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from harness import pipeline
from harness.checks import Verdict, exactly_once, only_expected
from harness.checks.fidelity import expected_trade, served_as_sent, served_trade
from harness.checks.paging import SIZES, newest_first, offsets_to_read, pages_consistent
from harness.checks.schema import columns_diff, published_diff, record_diff
from harness.endpoints import Endpoints, MissingEndpoint
from harness.history import History
from harness.probes import dead_letter_files, iceberg, kafka, openapi
from harness.probes.api import ApiProbe, Envelope
from harness.targets import Target
from harness.waiting import ConditionTimeout, eventually
from harness.workload.exchange import Emission, ExchangeControl
from harness.workload.history import ExchangeHistory

Key = pipeline.Key
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_S = 24 * 3600  # the real exchange's connection lifetime


@dataclass
class PipelineRun:
    endpoints: Endpoints
    target: Target
    history: History = field(default_factory=History)
    seed: int | None = None
    """The scenario's workload seed: emission n uses seed + n, so a run replays with -D seed=N."""
    exchange: ExchangeControl | ExchangeHistory = field(init=False)
    """The simulator's control API, or, for an exchange that takes no orders, its REST history."""
    api: ApiProbe = field(init=False)
    emissions: list[Emission] = field(default_factory=list)
    _expected: dict[Key, dict[str, Any]] = field(default_factory=dict)
    _served: dict[Key, dict[str, Any]] = field(default_factory=dict)
    """The served trades of the last read of the API, as served."""
    _over_rest: dict[str, set[int]] = field(default_factory=dict)
    """Per symbol, the ids the exchange handed out over REST (read with `expected`)."""
    named_schema_ids: set[int] = field(default_factory=set)
    """The schema ids the scenario's messages named (found by `wire_format`)."""
    _history_limited: bool = False
    """Whether the scenario limited the exchange's history (undone when it closes)."""
    _history_keeps: int | None = None
    _lifetime_shortened: bool = False
    _connections_at_drop: int = 0
    history_refused_until: float | None = None
    """Until when (seconds since the epoch) the exchange refuses its trade history as too many
    requests; None when the scenario does not make it (undone when it closes)."""

    def __post_init__(self) -> None:
        self.exchange = (
            ExchangeControl(self.endpoints.control_url())
            if self.endpoints.has("control")
            else ExchangeHistory(self.endpoints.exchange.rest_url)
        )
        self.api = ApiProbe(
            self.endpoints.api.url,
            self.endpoints.api.api_key,
            header=self.target.api["key_header"],
            trades_path=self.target.api["trades"],
            max_limit=int(self.target.api["max_limit"]),
            envelope=Envelope.of(self.target.api),
        )
        # Where this scenario begins, so each stage is read from there and not from the start of
        # time: a long-lived stack holds hundreds of thousands of earlier trades.
        self.kafka_from = kafka.end_offsets(self.endpoints, self.target.topic)
        self.dead_letters_from = kafka.end_offsets(self.endpoints, self.target.dead_letter_topic)
        self.dead_letter_files_from = dead_letter_files.marks(self.endpoints.dead_letters.files)
        self.started = datetime.now(UTC) - timedelta(seconds=5)  # margin for clock steps

    @property
    def control(self) -> ExchangeControl:
        """The simulator's control API, for what only it can do (emit, malformed frames)."""
        if not isinstance(self.exchange, ExchangeControl):
            raise MissingEndpoint(
                f"{self.endpoints.source} gives no control API of the exchange simulator "
                f"(exchange.control_url): the suite cannot ask this exchange for trades"
            )
        return self.exchange

    def trade(self, symbol: str, count: int, rate: float) -> Emission:
        seed = None if self.seed is None else (self.seed + len(self.emissions)) % 2**31
        emission = self.control.emit(symbol, count, rate, seed=seed)
        self.emissions.append(emission)
        self.history.record(
            "workload",
            f"emit {count} {symbol} at {rate:g}/s",
            seed=seed,
            first_id=emission.first_id,
            last_id=emission.last_id,
        )
        return emission

    def observe(self, symbols: Iterable[str], seconds: float, within: float) -> list[Emission]:
        """A window of the trades the exchange makes on its own: from each symbol's newest id now
        to its newest once `seconds` have passed (and it has traded since). They become the
        scenario's expected trades, read back from the exchange's own REST history."""
        history = ExchangeHistory(self.endpoints.exchange.rest_url)
        try:
            opened = time.monotonic()
            first = {s: (history.latest_id(s) or -1) + 1 for s in symbols}

            def closed() -> dict[str, int]:
                if time.monotonic() - opened < seconds:
                    raise AssertionError(f"the window of {seconds:g} s is still open")
                newest = {s: history.latest_id(s) for s in first}
                quiet = [s for s, n in newest.items() if n is None or n < first[s]]
                if quiet:
                    raise AssertionError(f"no trade of {', '.join(quiet)} since the window opened")
                return {s: int(n) for s, n in newest.items() if n is not None}

            last = eventually(
                closed,
                within=seconds + within,
                every=0.5,
                describe=f"a {seconds:g} s window with trades of every symbol observed",
            )
        finally:
            history.close()
        window = [Emission(s, first[s], last[s], last[s] - first[s] + 1) for s in first]
        self.emissions += window
        for e in window:
            self.history.record(
                "workload", f"observed {e.count} {e.symbol} over {seconds:g} s", first_id=e.first_id, last_id=e.last_id
            )
        return window

    def under_way(self, fraction: float, within: float) -> None:
        """Wait until the exchange has emitted `fraction` of the trades asked for so far."""
        total = sum(e.count for e in self.emissions)
        eventually(
            lambda: self.exchange.pending() <= total * (1 - fraction),
            within=within,
            describe=f"{fraction:.0%} of the {total} trades asked for emitted",
        )

    def all_emitted(self, within: float) -> None:
        eventually(
            lambda: self.exchange.pending() == 0,
            within=within,
            describe=f"the exchange emitted all {sum(e.count for e in self.emissions)} trades asked for",
        )

    def _key(self, symbol: str, trade_id: str) -> Key | None:
        """The key of a row in scope (one of this scenario's id ranges), else None."""
        prefix = f"{self.target.exchange}-"
        if not trade_id.startswith(prefix) or not trade_id[len(prefix) :].isdigit():
            return None
        number = int(trade_id[len(prefix) :])
        if any(e.symbol == symbol and number in e.ids for e in self.emissions):
            return symbol, trade_id
        return None

    def expected(self) -> dict[Key, dict[str, Any]]:
        """The scenario's trades as the exchange sent them (the exchange's own record). Kept as
        read: an exchange that restarts with the stack forgets what it emitted before."""
        for symbol in {e.symbol for e in self.emissions}:
            # from the scenario's first id: a long-lived exchange holds every trade it ever sent
            first = min(e.first_id for e in self.emissions if e.symbol == symbol)
            last = max(e.last_id for e in self.emissions if e.symbol == symbol)
            payloads, self._over_rest[symbol] = self.exchange.record(symbol, from_id=first, to_id=last)
            for p in payloads:
                key = self._key(p["s"], f"{self.target.exchange}-{p['t']}")
                if key is not None:
                    self._expected[key] = p
        return dict(self._expected)

    def _in_scope(self, rows: Iterable[tuple[Key, dict[str, Any]]]) -> list[tuple[Key, dict[str, Any]]]:
        return [(k, v) for k, v in rows if self._key(*k) is not None]

    def produced(self) -> list[tuple[Key, dict[str, Any]]]:
        return self._in_scope(
            ((r["record"]["symbol"], r["record"]["trade_id"]), r)
            for r in kafka.trades(
                self.endpoints, self.target.topic, since=self.kafka_from, fallback_schema=self.target.record_schema()
            )
            if r["record"]
        )

    def _row_filter(self) -> str:
        """The scenario's id ranges as a filter the table scan pushes down to file statistics."""
        return " or ".join(
            f"(symbol == '{e.symbol}' and source_sequence >= {e.first_id} and source_sequence <= {e.last_id})"
            for e in self.emissions
        )

    def committed(self) -> list[tuple[Key, dict[str, str]]]:
        return self._in_scope(pipeline.committed(self.endpoints, self.target.table, self._row_filter()))

    def _symbols(self) -> list[str]:
        return sorted({e.symbol for e in self.emissions})

    def served(self) -> list[tuple[Key, dict[str, Any]]]:
        """The scenario's trades the API serves (duplicates kept), read as a client reads them."""
        rows = self._in_scope(
            ((str(t.get("symbol")), str(t.get("trade_id"))), t)
            for s in self._symbols()
            for t in self.api.trades(s, start_time=_iso(self.started))
        )
        self._served = dict(rows)
        return rows

    def stage_verdicts(self) -> list[Verdict]:
        expected = self.expected()
        self.history.saw("emitted", expected, {k: p["T"] / 1000 for k, p in expected.items()})
        verdicts = []
        for stage, rows in (("produced", self.produced), ("committed", self.committed), ("served", self.served)):
            try:
                keys = [k for k, _ in rows()]
            except Exception as exc:  # a stage that cannot be read is judged, and the others still are
                verdicts.append(unreadable(f"exactly once at {stage}", len(expected), exc))
                continue
            self.history.saw(stage, keys)
            verdicts.append(exactly_once(stage, expected, keys))
        return verdicts

    def wait_first_committed(self, within: float) -> int:
        """Until the table holds some of this scenario's trades (mid-stream, for a fault)."""

        def some() -> int | None:
            rows = self.committed()
            self.history.saw("committed", [k for k, _ in rows])
            return len(rows) or None

        count: int = eventually(some, within=within, every=0.25, describe="the first trades in the table")
        return count

    def wait_produced(self, within: float) -> int:
        """Until the message log holds every trade the exchange was asked for (e.g. while the
        table cannot take them)."""
        self.all_emitted(within)
        want = len(self.expected())

        def all_there() -> int | None:
            keys = [k for k, _ in self.produced()]
            self.history.saw("produced", keys)
            return len(set(keys)) if len(set(keys)) >= want else None

        count: int = eventually(all_there, within=within, every=0.5, describe=f"all {want} trades in the message log")
        return count

    def wait_exactly_once(self, within: float) -> list[Verdict]:
        """Wait until every stage holds every trade; the verdicts of that moment (duplicates and
        unexpected rows are judged there too), or of the moment the budget ran out."""
        self.all_emitted(within)
        expected = self.expected()

        def complete() -> list[Verdict] | None:
            verdicts = self.stage_verdicts()
            return verdicts if all(v.counts["lost"] == 0 for v in verdicts) else None

        try:
            found: list[Verdict] = eventually(
                complete, within=within, every=1.0, describe=f"all {len(expected)} trades at every stage"
            )
        except ConditionTimeout:
            # the budget ran out: the verdicts of this moment say what is missing where
            found = self.stage_verdicts()
        # the served trades of that moment, as sent and as a client paging through them sees them
        try:
            found += [self.fidelity(read=False), *self.paging()]
        except Exception as exc:
            found.append(unreadable("served as sent, page by page", len(expected), exc))
        self.history.record(
            "check", "exactly once", valid=all(v.valid for v in found), **{v.check: v.counts for v in found}
        )
        return found

    def fidelity(self, read: bool = True) -> Verdict:
        """Each served trade equals what the exchange sent, every field the frame decides, as the
        contract's text; a mismatch says whether the exchange also handed it out over REST (the
        ingest's backfill path). `read=False` judges the last read of the API."""
        if read:
            self.served()
        exchange, asset_class = self.target.exchange, self.target.asset_class
        want = {k: expected_trade(p, exchange, asset_class) for k, p in self.expected().items()}
        got = {k: served_trade(t) for k, t in self._served.items()}

        def path(key: Key) -> str:
            number = int(key[1].rpartition("-")[2])
            return (
                "by backfill: the exchange handed it out over REST"
                if number in self._over_rest.get(key[0], ())
                else "by the stream"
            )

        verdict = served_as_sent(want, got, path)
        self.history.record("check", "served as sent", **verdict.counts)
        return verdict

    def paging(self) -> list[Verdict]:
        """The served trades read in pages of several sizes, following `has_more`: each page the
        slice of the one-page answer it should be, with consistent `total` and `has_more`; and
        each answer newest first. The reads end at the scenario's last trade: an exchange that
        keeps trading would otherwise shift every offset between two reads."""
        since = _iso(self.started)
        times_ms = [int(p["T"]) for p in self.expected().values() if isinstance(p.get("T"), int)]
        until = _iso(datetime.fromtimestamp(max(times_ms) / 1000, UTC)) if times_ms else None
        answers, times = {}, {}
        try:
            for symbol in self._symbols():
                trades = self.api.trades(symbol, start_time=since, end_time=until)
                keys = [(t.get("symbol"), t.get("trade_id")) for t in trades]
                times[symbol] = [str(t.get("timestamp")) for t in trades]
                answers[symbol] = (
                    keys,
                    {
                        size: self.api.pages(
                            symbol, size, offsets_to_read(size, len(keys)), start_time=since, end_time=until
                        )
                        for size in SIZES
                    },
                )
        except AssertionError as exc:  # an answer that is an error is a verdict too, not a crash of the check
            failed = Verdict("served pages consistent", False, {"errors": 1}, mismatched=[str(exc)[:400]])
            return [failed]
        verdicts = [pages_consistent("served", answers), newest_first("served", times)]
        self.history.record("check", "pages", **verdicts[0].counts)
        return verdicts

    def wire_format(self) -> Verdict:
        """Every in-scope message: magic byte 0, a schema id the registry resolves to the record."""
        from confluent_kafka.schema_registry import SchemaRegistryClient

        registry = SchemaRegistryClient({"url": self.endpoints.registry.url})
        records = [
            r
            for r in kafka.trades(self.endpoints, self.target.topic, since=self.kafka_from)
            if r["record"] and self._key(r["record"]["symbol"], r["record"]["trade_id"])
        ]
        # the ids of the subject's versions: a message must name one of them, not just any schema
        versions = {
            registry.get_version(self.target.subject, v).schema_id for v in registry.get_versions(self.target.subject)
        }
        names: dict[int, str] = {}
        bad = []
        for r in records:
            magic, schema_id = r["header"]
            if schema_id not in names:
                schema = json.loads(registry.get_schema(schema_id).schema_str or "{}")
                names[schema_id] = f"{schema.get('namespace')}.{schema.get('name')}"
            if magic != kafka.WIRE_MAGIC or names[schema_id] != self.target.record or schema_id not in versions:
                bad.append(
                    f"partition {r['partition']} offset {r['offset']}: magic {magic}, schema {schema_id} = "
                    f"{names[schema_id]}, {'a' if schema_id in versions else 'not a'} version of the subject"
                )
        self.named_schema_ids = set(names)
        return Verdict(
            "registered schema in the message log",
            bool(records) and not bad,
            {"messages": len(records), "schema ids": len(names), "subject versions": len(versions), "bad": len(bad)},
            mismatched=bad[:20],
        )

    def compatibility(self) -> str:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        registry = SchemaRegistryClient({"url": self.endpoints.registry.url})
        level: str = registry.get_compatibility(self.target.subject)
        return level

    def dead_letters_now(self) -> list[dict[str, Any]]:
        """The dead letters written since this scenario began, to the topic and to the files the
        endpoints name."""
        return kafka.dead_letters(
            self.endpoints, self.target.dead_letter_topic, since=self.dead_letters_from
        ) + dead_letter_files.read_since(self.endpoints.dead_letters.files, self.dead_letter_files_from)

    def only_expected_in_message_log(self) -> Verdict:
        """Every message written to the message log since this scenario began is one of its trades
        (none of anything else: a malformed frame let through, a trade of an unknown symbol)."""
        expected = self.expected()
        messages = kafka.trades(
            self.endpoints, self.target.topic, since=self.kafka_from, fallback_schema=self.target.record_schema()
        )
        keys = [
            (m["record"]["symbol"], m["record"]["trade_id"])
            if m["record"]
            else ("?", f"undecodable message at partition {m['partition']} offset {m['offset']}")
            for m in messages
        ]
        verdict = only_expected("the message log", expected, keys)
        self.history.record("check", "only the scenario's trades in the message log", **verdict.counts)
        return verdict

    def limit_history(self, keep: int) -> None:
        """The exchange's REST history serves only each symbol's newest `keep` trades, until the
        scenario ends (then all again)."""
        self.control.history(keep)
        self._history_limited = True
        self._history_keeps = keep

    def shorten_lifetime(self, seconds: float) -> None:
        """The exchange closes every connection after `seconds` until the scenario ends (then
        after 24 hours again, as the real one)."""
        self.control.lifetime(seconds)
        self._lifetime_shortened = True

    def refuse_history(self, seconds: int, retry_after_s: int) -> dict[str, int]:
        """The exchange answers history requests with 429 and `Retry-After: retry_after_s` for
        `seconds`, and bans a client that asks again too soon three times; until the scenario ends
        at most. How often it had refused and banned before."""
        before = self.control.refusals()
        self.control.rate_limit(seconds, retry_after_s)
        self.history_refused_until = time.time() + seconds
        self.history.record(
            "fault", f"trade history refused as too many requests for {seconds} s, Retry-After {retry_after_s} s"
        )
        return before

    def reconnected(self, within: float) -> None:
        """Wait until a client has connected to the exchange's stream since the last drop (whether
        it stayed connected is for the checks that follow to find out)."""
        eventually(
            lambda: self.control.status()["connections"] > self._connections_at_drop,
            within=within,
            describe="a client connecting to the exchange's stream again",
        )
        self.history.record("workload", "a client connected to the exchange's stream again")

    def never_banned(self, before: dict[str, int]) -> Verdict:
        """The exchange refused the history at least once since `before` and banned nobody: the
        client waited as long as each Retry-After asked."""
        now = self.control.refusals()
        delta = {k: now[k] - before.get(k, 0) for k in now}
        return Verdict(
            "the exchange refused its history and never had to ban the client",
            delta["answered_429"] > 0 and delta["bans"] == 0 and delta["answered_418"] == 0,
            {
                "refused (429)": delta["answered_429"],
                "refused while banned (418)": delta["answered_418"],
                "bans": delta["bans"],
            },
        )

    def stall_trade_and_drop(self, symbol: str, count: int, rate: float, within: float) -> Emission:
        """The feed delivers nothing while the exchange trades; then it drops every connection, so
        the ingest reconnects and can get the trades only from the history. The trades asked for
        before are in the message log first, so the ingest knows where the symbol stands."""
        before = set(self.expected())
        eventually(
            lambda: before <= {k for k, _ in self.produced()},
            within=within,
            describe=f"the {len(before)} trades before the stall in the message log",
        )
        self.control.pause()
        try:
            emission = self.trade(symbol, count, rate)
            self.all_emitted(within)
            self._connections_at_drop = int(self.control.status()["connections"])
            self.control.disconnect("abrupt")
        finally:
            self.control.resume()
        self.history.record("fault", f"feed stalled over {count} {symbol}, then every connection dropped")
        return emission

    def left_out_by_history(self, emission: Emission) -> Emission | None:
        """What of an emission the exchange's history no longer serves, if the scenario limited
        it (the emission is narrowed to what it does serve)."""
        return None if self._history_keeps is None else self.keep_newest(emission, self._history_keeps)

    def keep_newest(self, emission: Emission, count: int) -> Emission | None:
        """Narrow one emission to its newest `count` trades (what a history that keeps no more
        still serves); the range left out, if any."""
        if emission.count <= count:
            return None
        left_out = Emission(emission.symbol, emission.first_id, emission.last_id - count, emission.count - count)
        kept = Emission(emission.symbol, emission.last_id - count + 1, emission.last_id, count)
        self.emissions = [kept if e == emission else e for e in self.emissions]
        self._expected.clear()
        return left_out

    def close(self) -> None:
        if self.history_refused_until is not None:
            self.control.rate_limit(0)
        if self._history_limited:
            self.control.history(None)
        if self._lifetime_shortened:
            self.control.lifetime(DAY_S)
        self.exchange.close()
        self.api.close()


def unreadable(check: str, expected: int, exc: Exception) -> Verdict:
    """A check that could not read its stage: failed, with what the stage answered."""
    return Verdict(
        f"{check}: the stage could not be read",
        False,
        {"expected": expected, "read": 0, "lost": expected},
        mismatched=[f"{type(exc).__name__}: {exc}"[:600]],
    )


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compatibility_answers(endpoints: Endpoints, target: Target) -> dict[str, bool]:
    """Would the registry accept, under the subject's rule, a change that adds an optional field
    (backward compatible) and one that adds a required field (not)? Nothing is registered."""
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

    registry = SchemaRegistryClient({"url": endpoints.registry.url})
    base = json.loads(target.record_schema())
    optional = {**base, "fields": [*base["fields"], {"name": "venue", "type": ["null", "string"], "default": None}]}
    required = {**base, "fields": [*base["fields"], {"name": "venue", "type": "string"}]}
    return {
        name: bool(registry.test_compatibility(target.subject, Schema(json.dumps(s), "AVRO")))
        for name, s in (("optional field added", optional), ("required field added", required))
    }


def table_columns(endpoints: Endpoints, target: Target) -> dict[str, str]:
    """The table's columns as `name: type` with "!" for required, the target profile's notation."""
    table = iceberg.catalog(endpoints).load_table(target.table)
    return {f.name: str(f.field_type).replace(" ", "") + ("!" if f.required else "") for f in table.schema().fields}


def registered_schemas(endpoints: Endpoints, target: Target, schema_ids: Iterable[int] = ()) -> list[Verdict]:
    """The subject's latest version, and each schema id given (those messages named), against the
    contract's record, field by field."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    registry = SchemaRegistryClient({"url": endpoints.registry.url})
    contract = json.loads(target.record_schema())
    latest = registry.get_latest_version(target.subject)
    found = {f"the latest version ({latest.version}) of {target.subject}": latest.schema.schema_str or "{}"}
    for schema_id in sorted(set(schema_ids) - {latest.schema_id}):
        found[f"schema {schema_id}, named by messages"] = registry.get_schema(schema_id).schema_str or "{}"
    return [
        record_diff(what, contract, json.loads(text), target.allow_added_optional_fields)
        for what, text in found.items()
    ]


def table_schema(endpoints: Endpoints, target: Target) -> Verdict:
    return columns_diff(f"the table {target.table}", target.columns, table_columns(endpoints, target))


def published_schema(endpoints: Endpoints, target: Target) -> Verdict:
    """The API's published item of a trades answer against the contract's record."""
    spec = openapi.load(endpoints.api.url)
    item = openapi.item_schema(spec, target.api["trades"], target.api["envelope"]["rows"])
    if isinstance(item, str):
        return Verdict(
            "the API's published trade is the contract's record", False, {"differences": 1}, mismatched=[item]
        )
    return published_diff("the API's published trade", json.loads(target.record_schema()), item)
