"""Where the local stack lives, which ports it uses and which secrets it runs with.

Everything comes from environment variables with defaults, read once into a `StackSettings`:

  K2_STACK_DIR          state of a running stack (data, logs, configs)   default: <repo>/.stack
  K2_CACHE_DIR          downloaded components, shared by all clones       default: ~/.cache/k2-acceptance
  K2_STACK_PORT_OFFSET  added to every default port (run two stacks side by side)   default: 0
  K2_PORT_<NAME>        one port, e.g. K2_PORT_KAFKA=29092 (NAME upper-case, '-' as '_')
  K2_PLATFORM_PATH      the folder holding the platform package `k2/` the stack runs   default: <repo>
                        (`make prove-defects` points it at a patched copy)

Default ports are deliberately not the services' usual ones, so a developer's own Kafka on
9092 or PostgreSQL on 5432 never clashes with the stack.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

# SeaweedFS opens a gRPC port at <port> + 10000 for each of these; allocation checks both.
GRPC_OFFSET = 10000
PORTS_WITH_GRPC = (
    "object-store-master",
    "object-store-volume",
    "object-store-filer",
    "object-store-s3",
    "object-store-admin",
)

PAIRS = ((1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2))
"""The directions between the three nodes of profile cluster (from, to)."""

DEFAULT_PORTS: dict[str, int] = {
    "kafka": 19092,
    "kafka-controller": 19093,
    "kafka-proxied": 19094,  # a second listener, for clients that come through toxiproxy
    # profile cluster: three Kafka nodes and two consumers (on ports whose last two digits no
    # other port has, so stacks 100 ports apart never share one)
    "kafka-1": 19010,
    "kafka-1-controller": 19011,
    "kafka-2": 19020,
    "kafka-2-controller": 19021,
    "kafka-3": 19030,
    "kafka-3-controller": 19031,
    "consumer-1": 18703,
    "consumer-2": 18704,
    # between the nodes of profile cluster everything goes through toxiproxy, a proxy for each
    # direction of each pair, so that one node can be cut off from the others and only them
    **{f"kafka-{j}-from-{k}": 19050 + 3 * (j - 1) + (k - 1) for j in (1, 2, 3) for k in (1, 2, 3)},
    **{f"kafka-{k}-to-{j}": 19012 + n for n, (k, j) in enumerate(PAIRS)},
    **{f"kafka-{k}-to-{j}-controller": 19022 + n for n, (k, j) in enumerate(PAIRS)},
    **{f"kafka-{j}-raft": 19034 + j for j in (1, 2, 3)},
    "schema-registry": 18081,
    "postgres": 15432,
    "object-store-s3": 18333,
    "object-store-master": 19333,
    "object-store-volume": 18080,
    "object-store-filer": 18888,
    "object-store-admin": 18646,
    "object-store-iceberg": 18191,  # SeaweedFS's own Iceberg REST catalog (K2_STACK_CATALOG=rest)
    "exchange": 18765,
    "ingest": 18701,
    "consumer": 18702,
    "api": 18000,
    # toxiproxy's API, and the ports its proxies listen on (profile `faultable`)
    "toxiproxy": 18474,
    "kafka-via-proxy": 19095,
    "schema-registry-via-proxy": 18082,
    "object-store-via-proxy": 18334,
}


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the setting and the fix."""


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number; set it to e.g. {default}") from None


def resolve_ports(env: Mapping[str, str]) -> dict[str, int]:
    """Default ports shifted by K2_STACK_PORT_OFFSET, then single K2_PORT_<NAME> overrides."""
    offset = _env_int(env, "K2_STACK_PORT_OFFSET", 0)
    ports: dict[str, int] = {}
    for name, default in DEFAULT_PORTS.items():
        var = "K2_PORT_" + name.upper().replace("-", "_")
        port = _env_int(env, var, default + offset)
        top = 65535 - (GRPC_OFFSET if name in PORTS_WITH_GRPC else 0)
        if not 1024 <= port <= top:
            raise SettingsError(f"port {port} for {name} is outside 1024..{top}; change {var} or K2_STACK_PORT_OFFSET")
        ports[name] = port
    seen: dict[int, str] = {}
    for name, port in ports.items():
        used = [port] + ([port + GRPC_OFFSET] if name in PORTS_WITH_GRPC else [])
        for p in used:
            if p in seen:
                raise SettingsError(
                    f"port {p} is given to both {seen[p]} and {name}; change one of their K2_PORT_* settings"
                )
            seen[p] = name
    return ports


def _write_private(path: Path, data: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    tmp.replace(path)


@dataclass(frozen=True)
class Credentials:
    """Secrets of the local stack: generated once per stack directory, never in code."""

    s3_access_key: str
    s3_secret_key: str
    postgres_user: str
    postgres_password: str
    api_key: str

    @staticmethod
    def generate(env: Mapping[str, str]) -> dict[str, str]:
        return {
            "s3_access_key": env.get("K2_S3_ACCESS_KEY") or "k2-" + secrets.token_hex(6),
            "s3_secret_key": env.get("K2_S3_SECRET_KEY") or secrets.token_urlsafe(24),
            "postgres_user": "k2",
            "postgres_password": env.get("K2_POSTGRES_PASSWORD") or secrets.token_urlsafe(18),
            "api_key": env.get("K2_API_KEY") or "k2-" + secrets.token_urlsafe(24),
        }

    @staticmethod
    def load_or_create(path: Path, env: Mapping[str, str]) -> Credentials:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: if another process wrote them first, theirs win and are read back
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            data = json.loads(path.read_text())
            missing = {k: v for k, v in Credentials.generate(env).items() if k not in data}
            if missing:  # a stack made before this secret existed: add it, once
                data.update(missing)
                _write_private(path, data)
            return Credentials(**data)
        creds = Credentials(**Credentials.generate(env))
        with os.fdopen(fd, "w") as f:
            json.dump(creds.__dict__, f, indent=2)
        return creds

    def redacted(self) -> dict[str, str]:
        return {k: "***" for k in self.__dict__}


@dataclass(frozen=True)
class StackSettings:
    root: Path
    cache: Path
    ports: dict[str, int]
    host: str = HOST
    platform: Path = REPO_ROOT
    """The folder holding the `k2` package the platform's services run (a patched copy, to prove
    that the suite catches a defect; the platform itself holds no defect switches)."""
    catalog: str = "sql"
    """The Iceberg catalog the stack serves (K2_STACK_CATALOG): sql (pyiceberg's SqlCatalog on
    PostgreSQL) or rest (the object store's own Iceberg REST catalog)."""

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> StackSettings:
        env = os.environ if env is None else env
        root = Path(env.get("K2_STACK_DIR") or REPO_ROOT / ".stack").resolve()
        cache = Path(env.get("K2_CACHE_DIR") or Path.home() / ".cache" / "k2-acceptance").resolve()
        platform = Path(env.get("K2_PLATFORM_PATH") or REPO_ROOT).resolve()
        if not (platform / "k2" / "__init__.py").is_file():
            raise SettingsError(
                f"K2_PLATFORM_PATH={platform} holds no platform package k2/; point it at a folder "
                f"with k2/__init__.py, or unset it for this repository's"
            )
        catalog = env.get("K2_STACK_CATALOG") or "sql"
        if catalog not in ("sql", "rest"):
            raise SettingsError(f"K2_STACK_CATALOG={catalog!r} is unknown; use sql (the default) or rest")
        return StackSettings(root=root, cache=cache, ports=resolve_ports(env), platform=platform, catalog=catalog)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def run(self) -> Path:
        """Per-service working directories and generated configuration files."""
        return self.root / "run"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def credentials_file(self) -> Path:
        return self.root / "credentials.json"

    def port(self, name: str) -> int:
        return self.ports[name]

    def to_env(self) -> dict[str, str]:
        """These settings as the environment that recreates them (for the stack's own processes)."""
        return {
            "K2_STACK_DIR": str(self.root),
            "K2_CACHE_DIR": str(self.cache),
            "K2_PLATFORM_PATH": str(self.platform),
            "K2_STACK_CATALOG": self.catalog,
            **{"K2_PORT_" + n.upper().replace("-", "_"): str(p) for n, p in self.ports.items()},
        }
