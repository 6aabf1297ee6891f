"""The Iceberg catalog of the local stack, data on S3: pyiceberg's SqlCatalog on PostgreSQL
(the default), or with K2_STACK_CATALOG=rest the object store's own Iceberg REST catalog.

The SQL catalog is not a process of its own (it is a library over PostgreSQL and the object
store), so it is initialised once both are ready: the namespace the platform writes into.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.stack.service import StackContext
from harness.stack.services import object_store, postgres

CATALOG_NAME = "k2"
NAMESPACE = "market_data"


def properties(ctx: StackContext) -> dict[str, str]:
    c = ctx.credentials
    if ctx.settings.catalog == "rest":
        url = object_store.catalog_url(ctx)
        return {
            "type": "rest",
            "uri": url,
            "warehouse": f"s3://{object_store.TABLE_BUCKET}",
            # the catalog's OAuth2 client credentials are the object store's keys
            "credential": f"{c.s3_access_key}:{c.s3_secret_key}",
            "oauth2-server-uri": f"{url}/v1/oauth/tokens",
            "s3.endpoint": object_store.endpoint(ctx),
            "s3.access-key-id": c.s3_access_key,
            "s3.secret-access-key": c.s3_secret_key,
            # without a region pyarrow looks the bucket's up over DNS: ~6 s stalled per first write offline
            "s3.region": object_store.REGION,
            "s3.path-style-access": "true",
        }
    return {
        "type": "sql",
        "uri": f"postgresql+psycopg2://{c.postgres_user}:{c.postgres_password}@{ctx.host}:"
        f"{ctx.port(postgres.NAME)}/catalog",
        "warehouse": f"s3://{object_store.BUCKET}/",
        "s3.endpoint": object_store.endpoint(ctx),
        "s3.access-key-id": c.s3_access_key,
        "s3.secret-access-key": c.s3_secret_key,
        "s3.region": object_store.REGION,
        "s3.path-style-access": "true",
    }


def initialise(ctx: StackContext) -> None:
    create_namespace(CATALOG_NAME, NAMESPACE, properties(ctx))


def create_namespace(name: str, namespace: str, props: Mapping[str, str]) -> None:
    """The namespace the platform writes into, made if missing (both drivers, after `up`)."""
    from pyiceberg.catalog import load_catalog  # heavy import, only needed here

    load_catalog(name, **props).create_namespace_if_not_exists(namespace)
