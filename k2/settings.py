"""Every service's settings, declared once: variable, default, bounds, secrecy and help text.

Each k2 service has one frozen pydantic-settings model whose fields name their environment
variable (`var(...)`). That one declaration is what the service reads, what `--help` prints,
and what docs/settings.md lists (`python -m k2.settings_doc`), so the three cannot drift.
A bad value stops the service at start with one line per problem, naming the variable and
an example.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Annotated, Any, Self, cast
from urllib.parse import urlparse

from pydantic import AfterValidator, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict


class SettingsError(ValueError):
    pass


def var(
    name: str,
    default: Any = PydanticUndefined,
    help: str = "",
    example: str | None = None,
    required: bool = False,
    **bounds: Any,
) -> Any:
    """A field read from the environment variable `name`; `example` is shown when a value is refused.

    `required` marks a field whose default only stands for "unset" (a model check refuses it), so
    help and docs say "required" rather than showing that default."""
    return Field(
        default,
        validation_alias=name,
        description=help,
        examples=[example] if example is not None else None,
        json_schema_extra={"required": True} if required else None,
        **bounds,
    )


# The mapping a model is being read from: os.environ for a service, a plain dict in a test.
# Unset (a model built directly, as a test may) reads nothing.
_environment: ContextVar[Mapping[str, str] | None] = ContextVar("k2_settings_environment", default=None)


class _GivenEnvironment(EnvSettingsSource):
    """pydantic-settings' environment source, over the mapping `from_env` was given."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Only the variables' own names: a field's name ("port") is not a variable, although the
        # models accept field names when built directly. "" is unset: an env file's `K2_X=`
        # means "use the default", as a shell's unset does.
        names = {name for name, _ in cast(type[K2Settings], self.settings_cls).variables()}
        return {k: v for k, v in (_environment.get() or {}).items() if k in names and v != ""}


class K2Settings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=True, frozen=True, extra="ignore", validate_by_name=True, validate_default=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _GivenEnvironment(settings_cls)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """The settings in `env` (default: the process's environment), or SettingsError."""
        token = _environment.set(os.environ if env is None else env)
        try:
            return cls()
        except ValidationError as exc:
            raise SettingsError(explain(exc, cls)) from None
        finally:
            _environment.reset(token)

    @classmethod
    def variables(cls) -> Iterator[tuple[str, FieldInfo]]:
        """Each environment variable the model reads, with its field: its own first, then those it
        extends (the catalog's), each in declaration order."""
        own = cls.__annotations__
        fields = sorted(cls.model_fields.items(), key=lambda item: item[0] not in own)
        for _, info in fields:
            if isinstance(info.validation_alias, str):
                yield info.validation_alias, info


def example_of(info: FieldInfo) -> str | None:
    if info.examples:
        return str(info.examples[0])
    if info.default is PydanticUndefined or info.default in (None, "") or isinstance(info.default, SecretStr):
        return None
    return shown(info.default)


def shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _bound(info: FieldInfo, kind: str) -> Any:
    return next((getattr(m, kind) for m in info.metadata if hasattr(m, kind)), None)


def explain(exc: ValidationError, model: type[K2Settings]) -> str:
    """One line per refused value: the variable, what was wrong, and an example that would do."""
    fields = dict(model.variables())
    lines = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SettingsError):  # a check that already names its variables
            lines.append(str(cause))
            continue
        name = str(error["loc"][0]) if error["loc"] else model.__name__
        info = fields.get(name)
        example = example_of(info) if info else None
        value = error["input"]
        kind = error["type"]
        if kind == "missing":
            line = f"{name} is not set"
        elif kind == "int_parsing":
            line = f"{name}={value!r} is not a whole number"
        elif kind in ("greater_than_equal", "greater_than"):
            line = f"{name}={value} is below {error['ctx'].get('ge', error['ctx'].get('gt'))}"
            example = None
        elif kind in ("less_than_equal", "less_than"):
            line = f"{name}={value} is above {error['ctx'].get('le', error['ctx'].get('lt'))}"
            example = None
        elif kind == "literal_error":
            line = f"{name}={value!r} is unknown; use {error['ctx']['expected'].replace(chr(39), '')}"
            example = None
        elif kind == "value_error":
            line = f"{name}={value!r} {cause}"
        else:
            line = f"{name}={value!r}: {error['msg']}"
        lines.append(line + (f"; e.g. {name}={example}" if example else ""))
    return "\n".join(lines)


def check_url(value: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """A base URL of one of `schemes`, without its trailing slash."""
    value = value.rstrip("/")
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ValueError(f"is not a {'/'.join(schemes)} URL")
    return value


def check_ws_url(value: str) -> str:
    return check_url(value, ("ws", "wss"))


def split_list(value: Any) -> Any:
    """`A,B, C` as ("A", "B", "C"); anything else is left to the field's own validation."""
    if isinstance(value, str):
        items = tuple(x.strip() for x in value.split(",") if x.strip())
        if not items:
            raise ValueError("is empty")
        return items
    return value


def default_text(info: FieldInfo) -> str:
    default = info.default
    if default is PydanticUndefined or (
        isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("required")
    ):
        return "required"
    if isinstance(default, SecretStr):
        default = default.get_secret_value()
    return "none" if default in (None, "") else shown(default)


def bounds_text(info: FieldInfo) -> str:
    low, high = _bound(info, "ge"), _bound(info, "le")
    if low is not None and high is not None:
        return f"{low}..{high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}" if high is not None else ""


def is_secret(info: FieldInfo) -> bool:
    return info.annotation is SecretStr


def describe(model: type[K2Settings], width: int = 100) -> str:
    """The `--help` epilog: each variable with its meaning, default, bounds and secrecy."""
    lines = ["environment (an empty value is unset; docs/settings.md lists every service's):"]
    for name, info in model.variables():
        default = default_text(info)
        facts = [default if default == "required" else f"default {default}"]
        if bounds := bounds_text(info):
            facts.append(bounds)
        if is_secret(info):
            facts.append("secret, never logged")
        text = f"{info.description} ({', '.join(facts)})" if info.description else f"({', '.join(facts)})"
        wrapped = textwrap.wrap(text, width - 34) or [""]
        lines.append(f"  {name:<31} {wrapped[0]}")
        lines.extend(f"  {'':<31} {more}" for more in wrapped[1:])
    return "\n".join(lines)


def prog(module: str) -> str:
    """How the service was started, for its usage line: `k2-api` as a console script,
    `python -m k2.api` as a module."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name.startswith("k2-") else f"python -m {module}"


def refuse(exc: SettingsError) -> int:
    """A service's answer to bad settings: one `error:` line per problem, and exit code 2."""
    for line in str(exc).splitlines():
        print(f"error: {line}", file=sys.stderr)
    return 2


class KafkaSettings(K2Settings):
    """Where the trades travel: the part of the ingest's and the consumer's settings they share."""

    bootstrap: str = var("K2_KAFKA_BOOTSTRAP", "127.0.0.1:19092", "Kafka's bootstrap servers, host:port[,...]")
    registry_url: Annotated[str, AfterValidator(check_url)] = var(
        "K2_SCHEMA_REGISTRY_URL", help="the schema registry (Confluent API)", example="http://127.0.0.1:18081"
    )
    topic: str = var("K2_TOPIC", "market.crypto.trades.binance", "the trades topic")
    dlq_topic: str = var(
        "K2_DLQ_TOPIC", "market.crypto.trades.binance.dlq", "where what cannot be taken goes, with the reason"
    )


KAFKA_RECONNECT: dict[str, int] = {
    # librdkafka doubles its wait between reconnects up to 10 s by default: after a broker
    # restart of a few seconds a client could idle 10 s more before trying again. A broker on
    # the same network is cheap to retry every second.
    "reconnect.backoff.max.ms": 1000,
}
"""Settings every Kafka client of the platform starts with."""
