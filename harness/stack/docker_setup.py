"""Set-up for the Docker Compose stack (`make setup-docker`): idempotent, a progress line per step.

1. a Docker engine: the one `docker info` reaches, else Debian's `docker.io`, installed when
   missing and started in the background (and remembered, so `make stack-down` stops it again);
2. a Compose CLI v2+: else Compose v5 built from the Go module proxy into the cache;
3. a base image: `debian:bookworm-slim` when present or pullable, else one made here with
   debootstrap from Debian's mirror and `docker import`;
4. the local stack's components (Kafka and Apicurio jars, `weed`, Toxiproxy) and the platform's
   wheels, prepared on the host from the same caches and placed in each image's build context
   (compose/<service>/dist/), so that a build needs no HTTPS from inside a container;
5. compose/.env: the base image and a random value for every secret that has none;
6. the images (`docker compose build`).

A missing piece stops with one line naming it and the command that fixes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from harness.stack import provision
from harness.stack.components import apicurio_dir, find_weed, kafka_dir, toxiproxy_binary
from harness.stack.envfile import parse_env
from harness.stack.settings import REPO_ROOT, StackSettings
from harness.waiting import ConditionTimeout, eventually

COMPOSE_VERSION = "5.6.0"
COMPOSE_MODULE = "github.com/docker/compose/v5"
MIN_COMPOSE_MAJOR = 2
DEFAULT_BASE_IMAGE = "debian:bookworm-slim"
LOCAL_BASE_IMAGE = "k2-acceptance/base:bookworm"
DEBIAN_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
COMPOSE_DIR = REPO_ROOT / "compose"
STATE_DIR = REPO_ROOT / ".stack-compose"
SECRET_NAMES = ("K2_S3_ACCESS_KEY", "K2_S3_SECRET_KEY", "K2_POSTGRES_PASSWORD", "K2_API_KEY")
ENGINE_READY_WITHIN = 60.0

Say = Callable[[str], None]


class DockerSetupError(RuntimeError):
    """A piece of the Docker set-up is missing or failed; the message names it and the fix."""


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


Runner = Callable[[Sequence[str], Mapping[str, str] | None, float, Path | None], Ran]


def run(
    cmd: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 60.0, cwd: Path | None = None
) -> Ran:
    """A command's exit code and output; a missing program or a timeout is an exit code too
    (127, 124, as a shell says them), so callers judge every outcome the same way."""
    try:
        proc = subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return Ran(127, "", f"{cmd[0]}: not found")
    except subprocess.TimeoutExpired:
        return Ran(124, "", f"`{' '.join(cmd[:3])}` gave no answer within {timeout:.0f} s")
    return Ran(proc.returncode, proc.stdout, proc.stderr)


def _shown(path: Path) -> str:
    """A path as a person reads it: relative to the repository when it is inside."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# ------------------------------------------------------------------------------------------------
# Pure helpers (unit-tested).


def compose_major(version_output: str) -> int | None:
    """The major version `docker compose version --short` printed ("2.29.1", "v5.6.0"), or None."""
    m = re.search(r"v?(\d+)\.\d+", version_output)
    return int(m.group(1)) if m else None


def debian_mirror(sources: Mapping[str, str]) -> str:
    """The Debian mirror apt uses (the first non-security `deb` URI of its sources, one-line or
    deb822 format), so debootstrap reaches the same one; Debian's own otherwise."""
    for _, text in sorted(sources.items()):
        for line in text.splitlines():
            line = line.strip()
            m = re.match(r"deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+\S+", line) or re.match(r"URIs:\s*(\S+)", line)
            if m and "security" not in m.group(1):
                return m.group(1).rstrip("/")
    return DEFAULT_MIRROR


def read_apt_sources(root: Path = Path("/etc/apt")) -> dict[str, str]:
    found = {}
    for path in [root / "sources.list", *sorted((root / "sources.list.d").glob("*"))]:
        with contextlib.suppress(OSError):
            found[str(path)] = path.read_text()
    return found


def base_sources(mirror: str) -> str:
    """The new base image's apt sources: the release, its updates and security, as in Debian's images."""
    security = (
        re.sub(r"/debian$", "/debian-security", mirror)
        if mirror.endswith("/debian")
        else "http://deb.debian.org/debian-security"
    )
    return (
        f"deb {mirror} {DEBIAN_SUITE} main\n"
        f"deb {mirror} {DEBIAN_SUITE}-updates main\n"
        f"deb {security} {DEBIAN_SUITE}-security main\n"
    )


def merge_env_file(
    text: str,
    wanted: Mapping[str, str],
    fill: Sequence[str],
    make_secret: Callable[[], str] = lambda: secrets.token_hex(16),
) -> tuple[str, list[str]]:
    """compose/.env with `wanted` set (replacing what is there) and a new secret for each name of
    `fill` that has no value; every other line kept as it is. Returns the text and what changed."""
    lines = text.splitlines()
    present: dict[str, int] = {}
    for i, line in enumerate(lines):
        m = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)", line)
        if m:
            present[m.group(1)] = i
    changed = []
    values = dict(wanted)
    for name in fill:
        if name in present:
            current = lines[present[name]].split("=", 1)[1].strip().strip("'\"")
            if current:
                continue
        values[name] = make_secret()
    for name, value in values.items():
        line = f"{name}={value}"
        if name in present:
            if lines[present[name]] != line:
                lines[present[name]] = line
                changed.append(name)
        else:
            lines.append(line)
            changed.append(name)
    return "\n".join(lines) + "\n", changed


def project_name(checkout: Path, secret: str) -> str:
    """The compose project of a checkout and its secrets: k2-acceptance-<folder>-<6 hex of both>,
    as compose allows names (lower-case letters, digits, '-' and '_'). The secret is hashed, never shown."""
    folder = re.sub(r"[^a-z0-9_-]+", "-", checkout.name.lower()).strip("-_") or "repo"
    digest = hashlib.sha256(f"{checkout.resolve()}\n{secret}".encode()).hexdigest()[:6]
    return f"k2-acceptance-{folder}-{digest}"


def requirements_key(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]


# ------------------------------------------------------------------------------------------------


@dataclass
class DockerSetup:
    settings: StackSettings
    say: Say = print
    runner: Runner = run
    compose_dir: Path = COMPOSE_DIR
    state_dir: Path = STATE_DIR
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    base_image: str = ""
    """Chosen by the base-image step."""

    # ---------------------------------------------------------------- the engine
    @property
    def pid_file(self) -> Path:
        return self.state_dir / "dockerd.pid"

    @property
    def engine_log(self) -> Path:
        return self.state_dir / "dockerd.log"

    def engine_answers(self) -> Ran:
        return self.runner(["docker", "info", "--format", "{{.ServerVersion}}"], None, 20.0, None)

    def engine(self) -> str:
        answer = self.engine_answers()
        if answer.returncode == 0 and answer.stdout.strip():
            started = " (started by make setup-docker)" if self.pid_file.exists() else ""
            return f"Docker Engine {answer.stdout.strip()} answers{started}"
        if self.env.get("DOCKER_HOST"):
            raise DockerSetupError(
                f"DOCKER_HOST={self.env['DOCKER_HOST']} does not answer `docker info`: "
                f"{_tail(answer.output, 2)}; start that engine, or unset DOCKER_HOST"
            )
        root = os.geteuid() == 0
        if shutil.which("dockerd") is None:
            if not root:
                raise DockerSetupError(
                    "no Docker engine: install one (sudo apt-get install -y docker.io), "
                    "start it (sudo dockerd &), then run make setup-docker again"
                )
            self.apt_install(["docker.io"], "Docker engine")
        if not root:
            raise DockerSetupError(
                "the Docker engine is installed but not running, and only root can start "
                "it: sudo dockerd > /tmp/dockerd.log 2>&1 &"
            )
        return self.start_engine()

    def apt_install(self, packages: list[str], what: str) -> None:
        env = {**self.env, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
            done = self.runner(cmd, env, 900.0, None)
            if done.returncode != 0:
                raise DockerSetupError(f"{what}: `{' '.join(cmd)}` exited {done.returncode}:\n{_tail(done.output)}")

    def start_engine(self) -> str:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.engine_log, "ab") as log:
            # a session of its own: the engine outlives this command, and Ctrl-C here must not reach it
            proc = subprocess.Popen(
                ["dockerd"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.pid_file.write_text(f"{proc.pid}\n")

        def answers() -> str:
            if proc.poll() is not None:
                raise _EngineExited(f"dockerd exited with code {proc.returncode}")
            got = self.engine_answers()
            if got.returncode != 0:
                raise DockerSetupError(_tail(got.output, 1))
            return got.stdout.strip()

        try:
            version = eventually(
                answers,
                within=ENGINE_READY_WITHIN,
                every=0.5,
                fatal=(_EngineExited,),
                describe="the Docker engine answers `docker info`",
            )
        except (ConditionTimeout, _EngineExited) as exc:
            self.pid_file.unlink(missing_ok=True)
            raise DockerSetupError(
                f"dockerd did not come up: {exc}\nlast lines of {self.engine_log}:\n"
                f"{_tail(self.engine_log.read_text(errors='replace'))}"
            ) from None
        return f"started Docker Engine {version} (pid {proc.pid}, log {self.engine_log})"

    def stop_engine(self) -> str:
        """Stop the engine only if `setup-docker` started it; an engine someone else runs stays."""
        if not self.pid_file.exists():
            return "no Docker engine was started by make setup-docker: nothing to stop"
        pid = int(self.pid_file.read_text().strip() or 0)
        try:
            proc = psutil.Process(pid)
            if "dockerd" not in " ".join(proc.cmdline()):
                raise psutil.NoSuchProcess(pid)
        except psutil.Error:
            self.pid_file.unlink(missing_ok=True)
            return f"the Docker engine started by make setup-docker (pid {pid}) is no longer running"
        proc.send_signal(signal.SIGTERM)  # dockerd stops its containers, then itself
        try:
            proc.wait(timeout=60)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        self.pid_file.unlink(missing_ok=True)
        return f"stopped the Docker engine it had started (pid {pid})"

    # ---------------------------------------------------------------- the compose CLI
    @property
    def plugin_path(self) -> Path:
        config = Path(self.env.get("DOCKER_CONFIG") or Path.home() / ".docker")
        return config / "cli-plugins" / "docker-compose"

    @property
    def cached_compose(self) -> Path:
        return self.settings.cache / f"docker-compose-{COMPOSE_VERSION}" / "docker-compose"

    def compose_cli(self) -> str:
        answer = self.runner(["docker", "compose", "version", "--short"], None, 30.0, None)
        major = compose_major(answer.stdout) if answer.returncode == 0 else None
        if major is not None and major >= MIN_COMPOSE_MAJOR:
            return f"docker compose {answer.stdout.strip()}"
        if not self.cached_compose.exists():
            self.build_compose()
        self.plugin_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.cached_compose, self.plugin_path)
        answer = self.runner(["docker", "compose", "version", "--short"], None, 30.0, None)
        if answer.returncode != 0:
            raise DockerSetupError(
                f"installed {self.plugin_path}, but `docker compose version` fails: {_tail(answer.output, 3)}"
            )
        return f"docker compose {answer.stdout.strip()} ({self.plugin_path})"

    def build_compose(self) -> None:
        go = shutil.which("go")
        module = f"{COMPOSE_MODULE}@v{COMPOSE_VERSION}"
        if go is None:
            raise DockerSetupError(
                f"no Compose CLI v2+, and Go (`go`) is needed to build {module}: install Go "
                f"(apt-get install -y golang-go), or the Compose plugin, then run make setup-docker"
            )
        self.say(f"[setup-docker]   building Compose {COMPOSE_VERSION} from the Go module proxy (about 1-2 min) ...")
        env = {**self.env, "GOFLAGS": "-mod=mod", "GO111MODULE": "on"}
        found = self.runner([go, "mod", "download", "-json", module], env, 900.0, None)
        m = re.search(r'"Dir":\s*"([^"]+)"', found.stdout)
        if found.returncode != 0 or m is None:
            raise DockerSetupError(
                f"`go mod download -json {module}` exited {found.returncode}:\n{_tail(found.output)}"
            )
        with tempfile.TemporaryDirectory(prefix="k2-compose-") as tmp:
            # `go install` refuses a module with exclude directives: build a writable copy instead
            src = Path(tmp) / "src"
            shutil.copytree(m.group(1), src)
            for path in [src, *src.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
            out = Path(tmp) / "docker-compose"
            flags = f"-s -w -X {COMPOSE_MODULE}/internal.Version=v{COMPOSE_VERSION}"
            built = self.runner(
                [go, "build", "-trimpath", f"-ldflags={flags}", "-o", str(out), "./cmd"], env, 1200.0, src
            )
            if built.returncode != 0 or not out.exists():
                raise DockerSetupError(
                    f"building {module} (`go build ./cmd`) exited {built.returncode}:\n{_tail(built.output)}"
                )
            self.cached_compose.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(out), self.cached_compose)

    # ---------------------------------------------------------------- the base image
    def image_present(self, name: str) -> bool:
        found = self.runner(["docker", "image", "inspect", "--format", "{{.Id}}", name], None, 30.0, None)
        return found.returncode == 0

    def base(self) -> str:
        wanted = self.env.get("K2_BASE_IMAGE", "")
        if wanted:
            if (
                self.image_present(wanted)
                or self.runner(["docker", "pull", "-q", wanted], None, 300.0, None).returncode == 0
            ):
                self.base_image = wanted
                return f"{wanted} (K2_BASE_IMAGE)"
            raise DockerSetupError(
                f"K2_BASE_IMAGE={wanted} is neither present nor pullable; unset it to use "
                f"{DEFAULT_BASE_IMAGE} or the image made here"
            )
        if self.image_present(DEFAULT_BASE_IMAGE):
            self.base_image = DEFAULT_BASE_IMAGE
            return f"{DEFAULT_BASE_IMAGE} (present)"
        pulled = self.runner(["docker", "pull", "-q", DEFAULT_BASE_IMAGE], None, 300.0, None)
        if pulled.returncode == 0:
            self.base_image = DEFAULT_BASE_IMAGE
            return f"{DEFAULT_BASE_IMAGE} (pulled)"
        self.base_image = LOCAL_BASE_IMAGE
        if self.image_present(LOCAL_BASE_IMAGE):
            return f"{LOCAL_BASE_IMAGE} (made here earlier; no registry gives {DEFAULT_BASE_IMAGE})"
        self.make_base_image()
        return f"{LOCAL_BASE_IMAGE} (made here with debootstrap: no registry gives {DEFAULT_BASE_IMAGE})"

    def make_base_image(self) -> None:
        if shutil.which("debootstrap") is None:
            if os.geteuid() != 0:
                raise DockerSetupError(
                    f"no registry gives {DEFAULT_BASE_IMAGE} and debootstrap is missing to make "
                    "a base image: sudo apt-get install -y debootstrap"
                )
            self.apt_install(["debootstrap"], "debootstrap")
        mirror = debian_mirror(read_apt_sources())
        self.say(f"[setup-docker]   making {LOCAL_BASE_IMAGE} with debootstrap from {mirror} (about 30-90 s) ...")
        self.settings.cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="k2-rootfs-", dir=self.settings.cache) as tmp:
            root = Path(tmp) / "rootfs"
            done = self.runner(
                ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(root), mirror], None, 1200.0, None
            )
            if done.returncode != 0:
                raise DockerSetupError(
                    f"`debootstrap --variant=minbase {DEBIAN_SUITE} DIR {mirror}` exited "
                    f"{done.returncode}:\n{_tail(done.output)}"
                )
            (root / "etc/apt/sources.list").write_text(base_sources(mirror))
            for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):  # 80 MB the image need not carry
                for path in (root / leftover).glob("*"):
                    if path.is_file():
                        path.unlink()
            imported = self.runner(
                ["sh", "-c", f'tar -C "{root}" -c . | docker import - {LOCAL_BASE_IMAGE}'], None, 600.0, None
            )
            if imported.returncode != 0:
                raise DockerSetupError(
                    f"`docker import` of the debootstrap tree exited {imported.returncode}:\n{_tail(imported.output)}"
                )

    # ---------------------------------------------------------------- components and build contexts
    def components(self) -> str:
        """The local stack's components, from the same installers and caches as `make setup`."""
        details = [
            provision.install_kafka(self.settings),
            provision.install_apicurio(self.settings),
            provision.check_weed(self.settings),
            provision.install_toxiproxy(self.settings),
        ]
        return "; ".join(details)

    @property
    def requirements(self) -> Path:
        """The lock (pins and hashes of every package); the image takes the platform's share of it."""
        return REPO_ROOT / "requirements.txt"

    def wheels_dir(self) -> Path:
        return self.settings.cache / f"wheels-{requirements_key(self.requirements)}"

    def package_dir(self) -> Path:
        return self.settings.cache / "wheels-k2-acceptance"

    def platform_lock(self, into: Path) -> Path:
        """The lock's packages that `k2-acceptance[platform]` needs, with their hashes: the lock is
        compiled again for that group alone, preferring its own versions (uv)."""
        lock = into / "platform-lock.txt"
        shutil.copy2(self.requirements, lock)  # uv keeps the versions an existing output file pins
        done = self.runner(
            [
                sys.executable,
                "-m",
                "uv",
                "pip",
                "compile",
                str(REPO_ROOT / "pyproject.toml"),
                "--extra",
                "platform",
                "--generate-hashes",
                "--python-version",
                "3.11",
                "--no-header",
                "--quiet",
                "-o",
                str(lock),
            ],
            None,
            600.0,
            None,
        )
        if done.returncode != 0:
            raise DockerSetupError(f"`uv pip compile --extra platform` exited {done.returncode}:\n{_tail(done.output)}")
        return lock

    def wheels(self) -> str:
        """Wheels of the platform's dependencies, at the lock's versions and hashes (cached per lock),
        and a wheel of this repository's package (built each time: it holds k2/ as it is now)."""
        target = self.wheels_dir()
        if not (target / ".complete").exists():
            with tempfile.TemporaryDirectory(prefix="k2-wheels-", dir=self.settings.cache) as tmp:
                lock = self.platform_lock(Path(tmp))
                done = self.runner(
                    [sys.executable, "-m", "pip", "wheel", "-q", "--require-hashes", "-r", str(lock), "-w", tmp],
                    None,
                    1200.0,
                    None,
                )
                if done.returncode != 0:
                    raise DockerSetupError(
                        f"`pip wheel -r platform-lock.txt` exited {done.returncode}:\n{_tail(done.output)}"
                    )
                if target.exists():
                    shutil.rmtree(target)
                shutil.move(tmp, target)
                target.chmod(0o755)
            (target / ".complete").write_text(requirements_key(self.requirements))
        package = self.package_dir()
        if package.exists():
            shutil.rmtree(package)
        package.mkdir(parents=True)
        done = self.runner(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                str(REPO_ROOT),
                "-w",
                str(package),
            ],
            None,
            300.0,
            None,
        )
        if done.returncode != 0:
            raise DockerSetupError(f"`pip wheel --no-deps .` exited {done.returncode}:\n{_tail(done.output)}")
        return f"{len(list(target.glob('*.whl')))} wheels in {target}, the package in {package}"

    def contexts(self) -> dict[Path, Path]:
        """Where each prepared component goes in its image's build context."""
        apicurio = apicurio_dir(self.settings)
        runner_jar = sorted(apicurio.glob("*-runner.jar"))
        weed = find_weed()
        if not runner_jar or weed is None:
            raise DockerSetupError("Apicurio Registry or SeaweedFS is missing from the cache: run make setup")
        return {
            kafka_dir(self.settings) / "lib": self.compose_dir / "kafka/dist/lib",
            apicurio / "lib": self.compose_dir / "schema-registry/dist/lib",
            runner_jar[-1]: self.compose_dir / "schema-registry/dist/apicurio-registry-app-runner.jar",
            weed: self.compose_dir / "object-store/dist/weed",
            toxiproxy_binary(self.settings): self.compose_dir / "toxiproxy/dist/toxiproxy-server",
            self.wheels_dir(): self.compose_dir / "platform/dist/wheels",
            self.package_dir(): self.compose_dir / "platform/dist/package",
        }

    def stage(self) -> str:
        files = 0
        for source, target in self.contexts().items():
            files += place(source, target)
        return f"{files} files in compose/*/dist/"

    # ---------------------------------------------------------------- settings and images
    @property
    def env_file(self) -> Path:
        return self.compose_dir / ".env"

    def env_settings(self) -> str:
        text = self.env_file.read_text() if self.env_file.exists() else ENV_HEADER
        merged, changed = merge_env_file(text, {"K2_BASE_IMAGE": self.base_image or DEFAULT_BASE_IMAGE}, SECRET_NAMES)
        settings = parse_env(merged)
        if not settings.get("COMPOSE_PROJECT_NAME"):
            # Volumes of these secrets' own: a database volume made with other secrets (another
            # clone, or this folder cloned again) would refuse this password.
            name = project_name(self.compose_dir.parent, settings.get("K2_POSTGRES_PASSWORD", ""))
            merged, more = merge_env_file(merged, {"COMPOSE_PROJECT_NAME": name}, ())
            changed += more
        if changed:
            self.env_file.write_text(merged)
        self.env_file.chmod(0o600)
        return f"{_shown(self.env_file)}: " + (f"set {', '.join(changed)}" if changed else "up to date")

    def compose_command(self, *args: str) -> list[str]:
        return [
            "docker",
            "compose",
            "--ansi",
            "never",
            "--progress",
            "plain",
            "--project-directory",
            str(self.compose_dir),
            "-f",
            str(self.compose_dir / "docker-compose.yml"),
            "-f",
            str(self.compose_dir / "docker-compose.faultable.yml"),
            "--profile",
            "faultable",
            *args,
        ]

    def images(self) -> str:
        # Kafka first: the schema registry's image then finds the JRE layer they share in the cache
        for group in (["kafka"], []):
            done = self.runner(self.compose_command("build", *group), None, 1800.0, None)
            if done.returncode != 0:
                raise DockerSetupError(
                    f"`docker compose build {' '.join(group)}` exited {done.returncode}:\n{_tail(done.output, 20)}"
                )
        return "kafka, schema-registry, object-store, postgres, toxiproxy, platform"

    def steps(self, build: bool = True) -> list[tuple[str, Callable[[], str]]]:
        found: list[tuple[str, Callable[[], str]]] = [
            ("Docker engine", self.engine),
            (f"Compose CLI v{MIN_COMPOSE_MAJOR}+", self.compose_cli),
            ("base image", self.base),
            ("the local stack's components (same caches as make setup)", self.components),
            ("the platform's wheels (pip, on the host)", self.wheels),
            ("build contexts", self.stage),
            ("compose settings and secrets", self.env_settings),
        ]
        if build:
            found.append(("images (docker compose build; a first build takes 1-2 min)", self.images))
        return found


ENV_HEADER = """# Written by `make setup-docker` (harness/stack/docker_setup.py); compose reads it by itself, and
# the harness's ComposeDriver reads the same file. Secrets are random per machine; edit any value,
# set-up keeps it. See compose/.env.example for every setting.
"""


class _EngineExited(DockerSetupError):
    pass


def place(source: Path, target: Path) -> int:
    """Mirror a file or folder into a build context: hard links where the file system allows
    (no copy of 200 MB of jars), copies otherwise; what the target held before is replaced."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    pairs = (
        [(source, target)]
        if source.is_file()
        else [(p, target / p.relative_to(source)) for p in sorted(source.rglob("*")) if p.is_file()]
    )
    for src, dst in pairs:
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    return len(pairs)


def setup(settings: StackSettings, say: Say = print, build: bool = True) -> DockerSetup:
    done = DockerSetup(settings, say=say)
    steps = done.steps(build)
    for i, (title, step) in enumerate(steps, 1):
        started = time.monotonic()
        say(f"[setup-docker {i}/{len(steps)}] {title} ...")
        detail = step()
        say(f"[setup-docker {i}/{len(steps)}] {title}: ok, {detail} ({time.monotonic() - started:.1f} s)")
    return done
