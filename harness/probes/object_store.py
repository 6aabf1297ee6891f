"""What the object store holds, seen through its S3 API."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from harness.endpoints import Endpoints


def s3(endpoints: Endpoints) -> Any:
    c = endpoints.object_store
    return boto3.session.Session().client(
        "s3",
        endpoint_url=c.endpoint,
        region_name=c.region,
        aws_access_key_id=c.access_key,
        aws_secret_access_key=c.secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def buckets(endpoints: Endpoints) -> list[str]:
    return sorted(b["Name"] for b in s3(endpoints).list_buckets().get("Buckets", []))
