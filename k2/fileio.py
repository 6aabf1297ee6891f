"""pyiceberg's PyArrow file IO, with one request per file written to S3 instead of three.

By default PyArrow starts a multipart upload when a file is opened for writing, so every file
a consumer commit writes (data file, manifest, manifest list, table metadata) cost three
requests: create, one part, complete. With `allow_delayed_open` a file smaller than one part
goes up in a single PUT when it is closed. A commit went from 25 requests to 17, and a commit
costs roughly its request count times the object store's latency (5.1 s per commit at 200 ms
per request, the recovery scenario's slow object store).
"""

from __future__ import annotations

from typing import Any

from pyiceberg.io.pyarrow import PyArrowFileIO


class FewerRoundTripsFileIO(PyArrowFileIO):
    def _initialize_s3_fs(self, netloc: str | None) -> Any:
        fs = super()._initialize_s3_fs(netloc)
        # pyiceberg builds the filesystem from the catalog's properties; rebuild it with the
        # same options plus the delayed open (PyArrow's filesystems are immutable).
        reconstruct, (options,) = fs.__reduce__()
        return reconstruct({**options, "allow_delayed_open": True})
