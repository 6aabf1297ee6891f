"""Connecting to the Iceberg catalog from environment settings (shared by consumer and api).

K2_CATALOG_NAME       default k2
K2_CATALOG_TYPE       sql (pyiceberg SqlCatalog on PostgreSQL, the local stack) or rest
K2_CATALOG_URI        sql: postgresql+psycopg2://user:pass@host:port/db; rest: http://host:port
K2_WAREHOUSE          default s3://warehouse/
K2_CATALOG_CREDENTIAL rest only, optional: OAuth2 client credentials client_id:client_secret
K2_CATALOG_OAUTH2_URI rest only: the token endpoint, default K2_CATALOG_URI/v1/oauth/tokens
K2_S3_ENDPOINT, K2_S3_ACCESS_KEY, K2_S3_SECRET_KEY, K2_S3_REGION (default us-east-1; set it: without
                      a region pyarrow looks the bucket's up, which stalls each first write offline)
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from k2.names import DEFAULT_TABLE, TableId
from k2.settings import SettingsError, env_str, env_url

FILE_IO = "k2.fileio.FewerRoundTripsFileIO"  # not imported here: pyiceberg is heavy, and loaded lazily


@dataclass(frozen=True)
class CatalogSettings:
    name: str
    type: str
    uri: str
    warehouse: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_region: str
    credential: str = field(default="", repr=False)
    oauth2_uri: str = ""

    @staticmethod
    def from_env(env: Mapping[str, str]) -> CatalogSettings:
        kind = env_str(env, "K2_CATALOG_TYPE", "sql")
        if kind not in ("sql", "rest"):
            raise SettingsError(f"K2_CATALOG_TYPE={kind!r} is unknown; use sql or rest")
        return CatalogSettings(
            name=env_str(env, "K2_CATALOG_NAME", "k2"),
            type=kind,
            uri=env_str(env, "K2_CATALOG_URI"),
            warehouse=env_str(env, "K2_WAREHOUSE", "s3://warehouse/"),
            s3_endpoint=env_url(env, "K2_S3_ENDPOINT"),
            s3_access_key=env_str(env, "K2_S3_ACCESS_KEY"),
            s3_secret_key=env_str(env, "K2_S3_SECRET_KEY"),
            s3_region=env_str(env, "K2_S3_REGION", "us-east-1"),
            credential=env.get("K2_CATALOG_CREDENTIAL", ""),  # optional: empty means none
            oauth2_uri=env.get("K2_CATALOG_OAUTH2_URI", ""),
        )

    def properties(self) -> dict[str, str]:
        props = {
            "type": self.type,
            "uri": self.uri,
            "warehouse": self.warehouse,
            "s3.endpoint": self.s3_endpoint,
            "s3.access-key-id": self.s3_access_key,
            "s3.secret-access-key": self.s3_secret_key,
            "s3.region": self.s3_region,
            "s3.path-style-access": "true",
            "py-io-impl": FILE_IO,
        }
        if self.type == "rest" and self.credential:
            props["credential"] = self.credential
            props["oauth2-server-uri"] = self.oauth2_uri or f"{self.uri.rstrip('/')}/v1/oauth/tokens"
        return props

    def load(self) -> Any:
        from pyiceberg.catalog import load_catalog

        return load_catalog(self.name, **self.properties())


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
