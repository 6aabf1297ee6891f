"""Schema registry: Apicurio Registry 3 on PostgreSQL, used through its Confluent-compatible API."""

from __future__ import annotations

import httpx

from harness.stack.service import NotReady, ServiceSpec, StackContext
from harness.stack.services import jvm

NAME = "schema-registry"
HEAP = "384m"
CCOMPAT = "/apis/ccompat/v7"


def url(ctx: StackContext) -> str:
    return f"http://{ctx.host}:{ctx.port(NAME)}{CCOMPAT}"


def command(ctx: StackContext) -> list[str]:
    jar = str(ctx.components.apicurio_jar)
    return [
        str(ctx.components.java),
        f"-Xmx{HEAP}",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        *jvm.archive_options(ctx.settings.cache, NAME, ctx.components.java, jar),
        "-jar",
        jar,
    ]


def env(ctx: StackContext) -> dict[str, str]:
    c = ctx.credentials
    return {
        "QUARKUS_HTTP_HOST": ctx.host,
        "QUARKUS_HTTP_PORT": str(ctx.port(NAME)),
        "QUARKUS_LOG_CONSOLE_COLOR": "false",
        # Durable storage: the in-memory default would lose every schema id on restart.
        "APICURIO_STORAGE_KIND": "sql",
        "APICURIO_STORAGE_SQL_KIND": "postgresql",
        "APICURIO_DATASOURCE_URL": f"jdbc:postgresql://{ctx.host}:{ctx.port('postgres')}/registry",
        "APICURIO_DATASOURCE_USERNAME": c.postgres_user,
        "APICURIO_DATASOURCE_PASSWORD": c.postgres_password,
    }


def ready(ctx: StackContext) -> str:
    try:
        r = httpx.get(url(ctx) + "/subjects", timeout=2.0)
    except httpx.HTTPError as exc:
        raise NotReady(f"GET /subjects: {type(exc).__name__}") from None
    if r.status_code != 200:
        raise NotReady(f"GET /subjects answered {r.status_code}")
    subjects = r.json()
    if not isinstance(subjects, list):
        raise NotReady(f"GET /subjects answered {subjects!r}, not a list")
    return f"GET /subjects ok: {len(subjects)} subject(s)"


SPEC = ServiceSpec(
    name=NAME,
    memory_budget_mb=512,
    depends_on=("postgres",),
    ports=(NAME,),
    command=command,
    env=env,
    ready=ready,
    description="Apicurio Registry (Confluent-compatible API, PostgreSQL storage)",
)
