"""A target profile: every contract name the suite checks, for one K2 deployment (YAML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise TargetError(f"target profile {path} does not exist; e.g. -D target={DEFAULT}") from None
        try:
            return Target(name=data["name"], exchange=data["exchange"], symbols=tuple(data["symbols"]),
                          topic=data["kafka"]["topic"], dead_letter_topic=data["kafka"]["dead_letter_topic"],
                          consumer_group=data["kafka"]["consumer_group"], subject=data["registry"]["subject"],
                          compatibility=data["registry"]["compatibility"], record=data["registry"]["record"],
                          table=data["iceberg"]["table"], columns=dict(data["iceberg"]["columns"]),
                          schema_path=path.parent / data["registry"]["schema"], api=dict(data["api"]),
                          ingest=dict(data.get("ingest") or {}), asset_class=data.get("asset_class", "crypto"),
                          allow_added_optional_fields=bool(data["registry"].get("allow_added_optional_fields",
                                                                                 False)))
        except (KeyError, TypeError) as exc:
            raise TargetError(f"target profile {path} lacks {exc}; see {DEFAULT} for every name it needs") from None


    def record_schema(self) -> str:
        return self.schema_path.read_text()
