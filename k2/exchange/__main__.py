"""`python -m k2.exchange`: serve the exchange simulator (settings from the environment)."""

from __future__ import annotations

import argparse
import sys

from k2 import logs
from k2.exchange.settings import ExchangeSettings
from k2.settings import SettingsError, describe, prog, refuse

# Long enough for in-flight responses, short enough that a stop never hangs on open streams.
_GRACEFUL_SHUTDOWN_S = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog("k2.exchange"),
        description="Binance-compatible market simulator: WebSocket trade streams (/stream, /ws), "
        "REST backfill (/api/v3/historicalTrades) and a control API (/control/*).",
        epilog=describe(ExchangeSettings),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    try:
        settings = ExchangeSettings.from_env()
    except SettingsError as exc:
        return refuse(exc)
    log = logs.setup("exchange")
    # imported late: `--help` and a settings error answer without loading the web stack
    import uvicorn

    from k2.exchange.app import create_app
    from k2.exchange.protocol import AbortableWebSocketProtocol

    log.info(
        "starting",
        extra={"host": settings.host, "port": settings.port, "seed": settings.seed, "symbols": list(settings.symbols)},
    )
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws=AbortableWebSocketProtocol,
        ws_ping_interval=settings.ping_interval_s,
        # Frames are small and many: deflating each one for every client would cost more CPU
        # than it saves, and would cap the rate one process can feed.
        ws_per_message_deflate=False,
        log_config=None,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
    )
    server = uvicorn.Server(config)
    server.run()
    # uvicorn itself exits 3 when it cannot bind (port taken); any other failed start is exit 1
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
