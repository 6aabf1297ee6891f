"""Reading a service's settings from environment variables, with errors that name the variable.

Each k2 service has one frozen Settings dataclass built by `from_env()` with these helpers.
A bad value stops the service at start with one line naming the variable and an example.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlparse


class SettingsError(ValueError):
    pass


def env_str(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, default)
    if value is None or value == "":
        raise SettingsError(f"{name} is not set" + (f"; e.g. {name}={default}" if default else ""))
    return value


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number; e.g. {name}={default}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={value} is below {minimum}")
    return value


def env_list(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    items = tuple(x.strip() for x in env.get(name, default).split(",") if x.strip())
    if not items:
        raise SettingsError(f"{name} is empty; e.g. {name}={default}")
    return items


def env_url(
    env: Mapping[str, str], name: str, default: str | None = None, schemes: tuple[str, ...] = ("http", "https")
) -> str:
    value = env_str(env, name, default).rstrip("/")
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise SettingsError(
            f"{name}={value!r} is not a {'/'.join(schemes)} URL; e.g. {name}={schemes[0]}://127.0.0.1:8080"
        )
    return value


def environ() -> Mapping[str, str]:
    return os.environ


KAFKA_RECONNECT: dict[str, int] = {
    # librdkafka doubles its wait between reconnects up to 10 s by default: after a broker
    # restart of a few seconds a client could idle 10 s more before trying again. A broker on
    # the same network is cheap to retry every second.
    "reconnect.backoff.max.ms": 1000,
}
"""Settings every Kafka client of the platform starts with."""
