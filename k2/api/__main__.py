"""`python -m k2.api`: serve the query API with uvicorn, configured from the environment."""

from __future__ import annotations

import argparse
import sys

from k2 import memory

memory.settle()  # before pyarrow is imported and any thread starts

from k2.api import settings as api_settings  # noqa: E402
from k2.settings import SettingsError, describe, prog, refuse  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog("k2.api"),
        description="K2 query API over the Iceberg table K2_TABLE.",
        epilog=describe(api_settings.ApiSettings),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    try:
        settings = api_settings.ApiSettings.from_env()
    except SettingsError as exc:
        return refuse(exc)

    # heavy imports after the settings check, so a misconfiguration is reported at once
    import uvicorn

    from k2 import logs
    from k2.api.app import create_app

    log = logs.setup("api", settings.log_level)
    log.info(
        "starting",
        extra={
            "host": settings.host,
            "port": settings.port,
            "version": settings.version,
            "catalog_type": settings.catalog.type,
            "warehouse": settings.catalog.warehouse,
            "s3_endpoint": settings.catalog.s3_endpoint,
        },
    )
    memory.release_every(2.0)
    # log_config=None: uvicorn keeps the JSON handler installed above instead of its own format
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
