"""Connecting to the Iceberg catalog from environment settings (shared by consumer and api)."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import AfterValidator, SecretStr

from k2.names import DEFAULT_TABLE, TableId
from k2.settings import K2Settings, check_url, var

FILE_IO = "k2.fileio.FewerRoundTripsFileIO"  # not imported here: pyiceberg is heavy, and loaded lazily


def check_warehouse(value: str) -> str:
    warehouse_bucket(value)
    return value


def warehouse_bucket(warehouse: str) -> str:
    """The bucket of an `s3://bucket/prefix` warehouse: what the object-store health check asks for."""
    parsed = urlparse(warehouse)
    if parsed.scheme not in ("s3", "s3a") or not parsed.netloc:
        raise ValueError("is not an S3 location")
    return parsed.netloc


class CatalogSettings(K2Settings):
    """The catalog and object-store part of a service's settings."""

    catalog_name: str = var("K2_CATALOG_NAME", "k2", "the catalog's name, as pyiceberg knows it")
    type: Literal["sql", "rest"] = var(
        "K2_CATALOG_TYPE", "sql", "sql (pyiceberg's SqlCatalog on PostgreSQL, the local stack) or rest"
    )
    uri: SecretStr = var(
        "K2_CATALOG_URI",
        help="sql: postgresql+psycopg2://user:pass@host:port/db; rest: http://host:port (it may hold a password)",
        example="postgresql+psycopg2://k2:secret@127.0.0.1:15432/k2",
    )
    warehouse: Annotated[str, AfterValidator(check_warehouse)] = var(
        "K2_WAREHOUSE", "s3://warehouse/", "where the tables' files go: s3://bucket/ or s3://bucket/prefix"
    )
    s3_endpoint: Annotated[str, AfterValidator(check_url)] = var(
        "K2_S3_ENDPOINT", help="the object store's S3 endpoint", example="http://127.0.0.1:18333"
    )
    s3_access_key: str = var("K2_S3_ACCESS_KEY", help="the object store's access key", example="k2")
    s3_secret_key: SecretStr = var("K2_S3_SECRET_KEY", help="the object store's secret key", example="secret")
    s3_region: str = var(
        "K2_S3_REGION",
        "us-east-1",
        "set it: without a region pyarrow looks the bucket's up, which stalls each first write offline",
    )
    credential: SecretStr = var(
        "K2_CATALOG_CREDENTIAL", SecretStr(""), "rest only, optional: OAuth2 client credentials client_id:client_secret"
    )
    oauth2_uri: str = var(
        "K2_CATALOG_OAUTH2_URI", "", "rest only: the token endpoint; none means K2_CATALOG_URI/v1/oauth/tokens"
    )

    @property
    def catalog(self) -> CatalogSettings:
        """The catalog part of a service's settings (every service's settings extend these)."""
        return self

    def properties(self) -> dict[str, str]:
        props = {
            "type": self.type,
            "uri": self.uri.get_secret_value(),
            "warehouse": self.warehouse,
            "s3.endpoint": self.s3_endpoint,
            "s3.access-key-id": self.s3_access_key,
            "s3.secret-access-key": self.s3_secret_key.get_secret_value(),
            "s3.region": self.s3_region,
            "s3.path-style-access": "true",
            "py-io-impl": FILE_IO,
        }
        if self.type == "rest" and self.credential.get_secret_value():
            props["credential"] = self.credential.get_secret_value()
            props["oauth2-server-uri"] = self.oauth2_uri or f"{props['uri'].rstrip('/')}/v1/oauth/tokens"
        return props

    def load(self) -> Any:
        from pyiceberg.catalog import load_catalog

        return load_catalog(self.catalog_name, **self.properties())


def ensure_table(catalog: Any, identifier: TableId = DEFAULT_TABLE) -> Any:
    """The trades table named `identifier`, created with the contract's schema and partitioning if missing."""
    from pyiceberg.exceptions import NamespaceAlreadyExistsError, TableAlreadyExistsError

    from k2.schemas import table

    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(identifier.namespace)
    try:
        existing = catalog.create_table(
            str(identifier),
            schema=table.SCHEMA,
            partition_spec=table.PARTITION_SPEC,
            properties={**table.TABLE_PROPERTIES, "format-version": "2"},
        )
    except TableAlreadyExistsError:
        existing = catalog.load_table(str(identifier))
    # some REST catalogs (SeaweedFS's) answer a create of an existing table with that table, not
    # an error: its properties are checked either way
    missing = {k: v for k, v in table.TABLE_PROPERTIES.items() if existing.properties.get(k) != v}
    if missing:  # a table made by an older version: bring its properties up to date
        with existing.transaction() as tx:
            tx.set_properties(missing)
        existing = catalog.load_table(str(identifier))
    return existing
