"""Object store: SeaweedFS in `weed mini` mode, serving S3 with the stack's credentials."""

from __future__ import annotations

import functools
import time
from typing import Any

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from harness.stack.service import NotReady, ServiceSpec, StackContext

NAME = "object-store"
BUCKET = "warehouse"
TABLE_BUCKET = "k2-tables"
"""The S3 Tables bucket behind the REST catalog: a bucket of its own, since a table bucket refuses
plain S3 writes (the readiness round trip) and a plain bucket cannot become one."""
REGION = "us-east-1"


def endpoint(ctx: StackContext) -> str:
    return f"http://{ctx.host}:{ctx.port('object-store-s3')}"


def s3_client(ctx: StackContext, timeout: float = 5.0) -> Any:
    return _client(endpoint(ctx), ctx.credentials.s3_access_key, ctx.credentials.s3_secret_key, timeout)


@functools.lru_cache(maxsize=16)
def _client(url: str, access_key: str, secret_key: str, timeout: float) -> Any:
    # One client per endpoint and key, made once: making a boto3 client costs 50-100 ms of CPU,
    # and readiness probes made one per probe (12 s of the suite's CPU in a full run, py-spy).
    # Clients are thread-safe; sessions are not, hence a session of its own for each client.
    return boto3.session.Session().client(
        "s3",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            s3={"addressing_style": "path"}, connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}
        ),
    )


def prepare(ctx: StackContext) -> None:
    ctx.data_dir(NAME).mkdir(parents=True, exist_ok=True)
    ctx.run_dir(NAME).mkdir(parents=True, exist_ok=True)


def command(ctx: StackContext) -> list[str]:
    p = ctx.port
    return [
        str(ctx.components.weed),
        "mini",
        f"-dir={ctx.data_dir(NAME)}",
        f"-ip={ctx.host}",
        f"-ip.bind={ctx.host}",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        f"-master.port={p('object-store-master')}",
        f"-volume.port={p('object-store-volume')}",
        f"-filer.port={p('object-store-filer')}",
        f"-s3.port={p('object-store-s3')}",
        f"-admin.port={p('object-store-admin')}",
        "-s3.port.lance=0",
        # its own Iceberg REST catalog, when the stack serves that one (K2_STACK_CATALOG=rest)
        *(
            [f"-s3.port.iceberg={p('object-store-iceberg')}", f"-tableBucket={TABLE_BUCKET}"]
            if ctx.settings.catalog == "rest"
            else ["-s3.port.iceberg=0"]
        ),
    ]


def catalog_url(ctx: StackContext) -> str:
    return f"http://{ctx.host}:{ctx.port('object-store-iceberg')}"


def _rest_catalog_ready(ctx: StackContext) -> str:
    """A token, then the table bucket's namespaces: 200 only when the catalog and its bucket work
    (GET /v1/config answers 200 even for a bucket that does not exist)."""
    c, url = ctx.credentials, catalog_url(ctx)
    try:
        token = httpx.post(
            f"{url}/v1/oauth/tokens",
            timeout=3.0,
            data={"grant_type": "client_credentials", "client_id": c.s3_access_key, "client_secret": c.s3_secret_key},
        )
        if token.status_code != 200:
            raise NotReady(f"REST catalog token: {token.status_code} {token.text[:200]}")
        r = httpx.get(
            f"{url}/v1/{TABLE_BUCKET}/namespaces",
            timeout=3.0,
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
    except httpx.HTTPError as exc:
        raise NotReady(f"REST catalog: {type(exc).__name__}") from None
    if r.status_code != 200:
        raise NotReady(f"REST catalog: GET namespaces answered {r.status_code}: {r.text[:200]}")
    return f", Iceberg REST catalog ok on table bucket {TABLE_BUCKET}"


MEMORY_BUDGET_MB = 384


def env(ctx: StackContext) -> dict[str, str]:
    # weed mini takes the S3 identity from the standard AWS variables at start.
    # GOMEMLIMIT is the Go runtime's own soft limit (what -Xmx is to the JVMs): without it the heap
    # grew with the table's file count until it passed the budget (392 MiB after a full suite run).
    return {
        "AWS_ACCESS_KEY_ID": ctx.credentials.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": ctx.credentials.s3_secret_key,
        "GOMEMLIMIT": f"{MEMORY_BUDGET_MB * 3 // 4}MiB",
    }


SENTINEL = ".k2-stack/ready"


def ready(ctx: StackContext) -> str:
    """Write an object and read it back. Listing buckets is not enough: after a restart the
    gateway lists at once while reads still fail until the volume server has come back."""
    s3 = s3_client(ctx)
    stamp = str(time.time_ns()).encode()
    try:
        names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if BUCKET not in names:
            s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=SENTINEL, Body=stamp)
        back = s3.get_object(Bucket=BUCKET, Key=SENTINEL)["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        raise NotReady(f"S3 write/read round trip failed: {exc}") from None
    if back != stamp:
        raise NotReady(f"S3 read back {back[:40]!r}, wrote {stamp!r}")
    rest = _rest_catalog_ready(ctx) if ctx.settings.catalog == "rest" else ""
    return f"S3 write and read back ok in bucket {BUCKET}{rest}"


SPEC = ServiceSpec(
    name=NAME,
    memory_budget_mb=MEMORY_BUDGET_MB,
    depends_on=(),
    ports=(
        "object-store-s3",
        "object-store-master",
        "object-store-volume",
        "object-store-filer",
        "object-store-admin",
        "object-store-iceberg",
    ),
    command=command,
    env=env,
    ready=ready,
    prepare=prepare,
    # weed's filer takes ~11 s to stop on SIGTERM; its data is durable across SIGKILL (see the
    # integration tests), so a short grace keeps `down` fast without risking data
    stop_grace=5.0,
    description="SeaweedFS S3 gateway (weed mini)",
)
