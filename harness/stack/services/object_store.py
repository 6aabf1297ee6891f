"""Object store: SeaweedFS in `weed mini` mode, serving S3 with the stack's credentials."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from harness.stack.service import NotReady, ServiceSpec, StackContext

NAME = "object-store"
BUCKET = "warehouse"
REGION = "us-east-1"


def endpoint(ctx: StackContext) -> str:
    return f"http://{ctx.host}:{ctx.port('object-store-s3')}"


def s3_client(ctx: StackContext, timeout: float = 5.0) -> Any:
    # A session per client: boto3's default session is not safe to share between threads,
    # and status() probes every service in parallel.
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint(ctx), region_name=REGION,
        aws_access_key_id=ctx.credentials.s3_access_key, aws_secret_access_key=ctx.credentials.s3_secret_key,
        config=Config(s3={"addressing_style": "path"}, connect_timeout=timeout, read_timeout=timeout,
                      retries={"max_attempts": 1}))


def prepare(ctx: StackContext) -> None:
    ctx.data_dir(NAME).mkdir(parents=True, exist_ok=True)
    ctx.run_dir(NAME).mkdir(parents=True, exist_ok=True)


def command(ctx: StackContext) -> list[str]:
    p = ctx.port
    return [str(ctx.components.weed), "mini", f"-dir={ctx.data_dir(NAME)}",
            f"-ip={ctx.host}", f"-ip.bind={ctx.host}", "-master.telemetry=false",
            "-admin.ui=false", "-webdav=false",
            f"-master.port={p('object-store-master')}", f"-volume.port={p('object-store-volume')}",
            f"-filer.port={p('object-store-filer')}", f"-s3.port={p('object-store-s3')}",
            f"-admin.port={p('object-store-admin')}",
            # its built-in Iceberg REST catalog and Lance server are not used: keep their ports closed
            "-s3.port.iceberg=0", "-s3.port.lance=0"]


def env(ctx: StackContext) -> dict[str, str]:
    # weed mini takes the S3 identity from the standard AWS variables at start.
    return {"AWS_ACCESS_KEY_ID": ctx.credentials.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": ctx.credentials.s3_secret_key}


def ready(ctx: StackContext) -> str:
    try:
        buckets = s3_client(ctx).list_buckets().get("Buckets", [])
    except (BotoCoreError, ClientError) as exc:
        raise NotReady(f"S3 ListBuckets failed: {exc}") from None
    return f"S3 ListBuckets ok: {len(buckets)} bucket(s)"


def initialise(ctx: StackContext) -> None:
    s3 = s3_client(ctx, timeout=10)
    names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if BUCKET not in names:
        s3.create_bucket(Bucket=BUCKET)


SPEC = ServiceSpec(
    name=NAME,
    depends_on=(),
    ports=("object-store-s3", "object-store-master", "object-store-volume", "object-store-filer",
           "object-store-admin"),
    command=command,
    env=env,
    ready=ready,
    prepare=prepare,
    initialise=initialise,
    # weed's filer takes ~11 s to stop on SIGTERM; its data is durable across SIGKILL (see the
    # integration tests), so a short grace keeps `down` fast without risking data
    stop_grace=5.0,
    description="SeaweedFS S3 gateway (weed mini)",
)
