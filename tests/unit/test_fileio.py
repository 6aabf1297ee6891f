"""The platform's file IO keeps every S3 option pyiceberg derives from the catalog, and adds the delayed open."""

from pyiceberg.io import load_file_io

from k2.catalog import FILE_IO
from k2.fileio import FewerRoundTripsFileIO

PROPS = {"py-io-impl": FILE_IO, "s3.endpoint": "http://127.0.0.1:1", "s3.access-key-id": "ak",
         "s3.secret-access-key": "sk", "s3.region": "eu-west-1"}


def test_the_catalog_property_names_this_file_io() -> None:
    assert isinstance(load_file_io(PROPS), FewerRoundTripsFileIO)


def test_s3_filesystem_opens_files_for_writing_lazily_and_keeps_the_catalog_options() -> None:
    fs = FewerRoundTripsFileIO(PROPS).fs_by_scheme("s3", "warehouse")
    options = fs.__reduce__()[1][0]
    assert options["allow_delayed_open"] is True
    assert (options["endpoint_override"], options["region"], options["access_key"]) == (
        "http://127.0.0.1:1", "eu-west-1", "ak")
