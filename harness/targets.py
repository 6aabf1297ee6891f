"""A target profile: every contract name the suite checks, for one K2 deployment (YAML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness import yamlfile
from harness.stack.settings import REPO_ROOT

DEFAULT = REPO_ROOT / "targets" / "k2-local.yaml"


class TargetError(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    name: str
    exchange: str
    symbols: tuple[str, ...]
    topic: str
    dead_letter_topic: str
    consumer_group: str
    subject: str
    compatibility: str
    record: str
    table: str
    columns: dict[str, str]
    schema_path: Path
    api: dict[str, Any]
    ingest: dict[str, Any] = field(default_factory=dict)
    asset_class: str = "crypto"
    allow_added_optional_fields: bool = False
    """Whether the registered record may carry optional fields the contract's lacks."""
    """Optional: what the suite reads of the ingest's own status and dead letters (see
    harness.hostile for the defaults)."""

    @staticmethod
    def load(path: Path | str = DEFAULT) -> Target:
        """The profile at `path`, checked whole: every problem is named at once (TargetError)."""
        path = Path(path)
        data = yamlfile.read(path, "target profile", f"e.g. -D target={DEFAULT}", TargetError)
        profile = _validated(path, data)
        return Target(
            name=profile.name,
            exchange=profile.exchange,
            symbols=tuple(profile.symbols),
            topic=profile.kafka.topic,
            dead_letter_topic=profile.kafka.dead_letter_topic,
            consumer_group=profile.kafka.consumer_group,
            subject=profile.registry.subject,
            compatibility=profile.registry.compatibility,
            record=profile.registry.record,
            table=profile.iceberg.table,
            columns=dict(profile.iceberg.columns),
            schema_path=path.parent / profile.registry.schema_file,
            api=profile.api.model_dump(),
            ingest=profile.ingest.model_dump(exclude_none=True),
            asset_class=profile.asset_class,
            allow_added_optional_fields=profile.registry.allow_added_optional_fields,
        )

    def record_schema(self) -> str:
        return self.schema_path.read_text()


# ------------------------------------------------------------------ the profile's shape
class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Kafka(_Section):
    topic: str = Field(min_length=1)
    dead_letter_topic: str = Field(min_length=1)
    consumer_group: str = Field(min_length=1)


class _Registry(_Section):
    subject: str = Field(min_length=1)
    compatibility: Literal[
        "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"
    ]
    record: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$",
        description="the record's full name, namespace.Name",
    )
    schema_file: str = Field(alias="schema", min_length=1)
    allow_added_optional_fields: bool = False


class _Iceberg(_Section):
    table: str = Field(pattern=r"^[^.\s]+(\.[^.\s]+)+$", description="namespace.table")
    columns: dict[str, str] = Field(min_length=1)


class _Envelope(_Section):
    """Where a trades answer keeps its rows and paging: dotted paths into its JSON body."""

    rows: str = Field(default="data", min_length=1)
    has_more: str = Field(default="pagination.has_more", min_length=1)
    total: str = Field(default="pagination.total", min_length=1)


class _HealthState(_Section):
    code: int = Field(ge=100, le=599)
    status: str = Field(min_length=1)


class _HealthMeaning(_Section):
    """What the health answer says in each state: its HTTP code and its body's `status` word."""

    healthy: _HealthState = _HealthState(code=200, status="healthy")
    unhealthy: _HealthState = _HealthState(code=503, status="unhealthy")


class _Api(_Section):
    key_header: str = Field(min_length=1)
    trades: str = Field(pattern=r"^/")
    symbols: str = Field(pattern=r"^/")
    stats: str = Field(pattern=r"^/")
    snapshots: str = Field(pattern=r"^/")
    health: str = Field(pattern=r"^/")
    health_ready: str = Field(pattern=r"^/")
    health_live: str = Field(pattern=r"^/")
    max_limit: int = Field(gt=0)
    envelope: _Envelope = _Envelope()
    health_meaning: _HealthMeaning = _HealthMeaning()


class _Ingest(_Section):
    counters: dict[str, str] | None = None
    dead_letter_reasons: dict[str, str] | None = None
    unfilled: str = Field(
        default="unfilled",
        min_length=1,
        description="the status field listing the id ranges the history could not fill",
    )


class _Profile(_Section):
    name: str = Field(min_length=1)
    exchange: str = Field(min_length=1)
    asset_class: str = "crypto"
    symbols: list[str] = Field(min_length=1)
    kafka: _Kafka
    registry: _Registry
    iceberg: _Iceberg
    api: _Api
    ingest: _Ingest = _Ingest()


def problems(path: Path, data: object) -> list[str]:
    """Every problem of the profile at once, one line each (`kafka.topic: Field required`)."""
    try:
        profile = _Profile.model_validate(data)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()]
    schema = path.parent / profile.registry.schema_file
    if not schema.is_file():
        return [f"registry.schema: {schema} does not exist"]
    return []


def _validated(path: Path, data: object) -> _Profile:
    found = problems(path, data)
    if found:
        raise TargetError(
            f"target profile {path} has {len(found)} problem{'s' * (len(found) != 1)} "
            f"(see {DEFAULT} for every name it needs):\n  " + "\n  ".join(found)
        )
    return _Profile.model_validate(data)
