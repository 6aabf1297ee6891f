"""`python -m k2.api`: serve the query API with uvicorn, configured from the environment."""

from __future__ import annotations

import argparse
import sys

from k2.api import settings as api_settings
from k2.settings import SettingsError, environ

EPILOG = """environment:
  K2_API_HOST, K2_API_PORT          where to listen (default 127.0.0.1:18000)
  K2_API_KEY                        required; clients send it in the K2_API_KEY_HEADER header
  K2_API_KEY_HEADER                 the header the key is sent in (default X-API-Key)
  K2_API_VERSION                    version reported by the health routes
  K2_API_HEALTH_TIMEOUT_MS          budget of one dependency check (default 1500, at most 2000)
  K2_API_CACHE_ROWS                 query result rows kept per Iceberg snapshot (default 2000000, 0 = off; large
                                    results are narrow: sort keys or one column, a page's rows are at most 10000)
  K2_API_MANIFEST_CACHE_ENTRIES     decoded manifest entries (data files) kept (default 20000, 0 = off)
  K2_API_FILE_CACHE_MB              MiB of Iceberg file bytes kept, files of at most an eighth of it (default 64,
                                    0 = off); Iceberg never rewrites a file, so kept bytes are never stale
  K2_API_QUERY_TIMEOUT_MS           longest a K2_API_PREFIX request waits for storage before a 503 (default 20000)
  K2_API_PREFIX                     path prefix of the market-data routes (default /v1)
  K2_API_HEALTH_PATH, K2_API_READY_PATH, K2_API_LIVE_PATH
                                    the health routes (default /health, /health/ready, /health/live)
  K2_TABLE                          the Iceberg table served, namespace.table (default market_data.trades)
  K2_CATALOG_TYPE, K2_CATALOG_URI   the Iceberg catalog (sql on PostgreSQL, or rest)
  K2_WAREHOUSE                      default s3://warehouse/
  K2_S3_ENDPOINT, K2_S3_ACCESS_KEY, K2_S3_SECRET_KEY, K2_S3_REGION
  K2_LOG_LEVEL                      default INFO
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m k2.api",
        description="K2 query API over the Iceberg table K2_TABLE.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    try:
        settings = api_settings.ApiSettings.from_env(environ())
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

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
