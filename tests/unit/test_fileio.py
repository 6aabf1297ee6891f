"""The platform's file IO keeps every S3 option pyiceberg derives from the catalog, and adds the delayed open."""

from pyiceberg.io import load_file_io

from k2.catalog import FILE_IO
from k2.fileio import FewerRoundTripsFileIO

PROPS = {
    "py-io-impl": FILE_IO,
    "s3.endpoint": "http://127.0.0.1:1",
    "s3.access-key-id": "ak",
    "s3.secret-access-key": "sk",
    "s3.region": "eu-west-1",
}


def test_the_catalog_property_names_this_file_io() -> None:
    assert isinstance(load_file_io(PROPS), FewerRoundTripsFileIO)


def test_s3_filesystem_opens_files_for_writing_lazily_and_keeps_the_catalog_options() -> None:
    fs = FewerRoundTripsFileIO(PROPS).fs_by_scheme("s3", "warehouse")
    options = fs.__reduce__()[1][0]
    assert options["allow_delayed_open"] is True
    assert (options["endpoint_override"], options["region"], options["access_key"]) == (
        "http://127.0.0.1:1",
        "eu-west-1",
        "ak",
    )


def test_a_rest_catalog_gets_its_oauth2_credential_and_token_endpoint_only_when_given() -> None:
    from k2.catalog import CatalogSettings

    env = {
        "K2_CATALOG_TYPE": "rest",
        "K2_CATALOG_URI": "http://cat:8181/",
        "K2_S3_ENDPOINT": "http://s3:9000",
        "K2_S3_ACCESS_KEY": "ak",
        "K2_S3_SECRET_KEY": "sk",
    }
    props = CatalogSettings.from_env({**env, "K2_CATALOG_CREDENTIAL": "id:secret"}).properties()
    assert props["credential"] == "id:secret" and props["oauth2-server-uri"] == "http://cat:8181/v1/oauth/tokens"
    assert "credential" not in CatalogSettings.from_env(env).properties()
    assert "id:secret" not in repr(CatalogSettings.from_env({**env, "K2_CATALOG_CREDENTIAL": "id:secret"}))


def test_a_table_a_catalog_hands_back_from_create_still_gets_its_properties_checked() -> None:
    # SeaweedFS's REST catalog answers a create of an existing table with that table, not an error
    from typing import Any

    from k2.catalog import ensure_table
    from k2.schemas.table import TABLE_PROPERTIES

    class Tx:
        def __init__(self, table: "Old") -> None:
            self.table = table

        def __enter__(self) -> "Tx":
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def set_properties(self, props: dict[str, str]) -> None:
            self.table.properties.update(props)

    class Old:
        def __init__(self) -> None:
            self.properties: dict[str, str] = {}

        def transaction(self) -> Tx:
            return Tx(self)

    old = Old()

    class Catalog:
        def create_namespace(self, namespace: str) -> None:
            pass

        def create_table(self, *args: Any, **kwargs: Any) -> Old:
            return old

        def load_table(self, identifier: str) -> Old:
            return old

    assert ensure_table(Catalog()) is old
    assert all(old.properties.get(k) == v for k, v in TABLE_PROPERTIES.items())
