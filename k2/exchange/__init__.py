"""A Binance-compatible market simulator served over the network (WebSocket trade streams,
REST backfill) with a control API, so the K2 pipeline can be driven with known trades.

Run it with `python -m k2.exchange`; `create_app` in `k2.exchange.app` builds the ASGI app.
Trade generation (`market`) is pure and deterministic for a seed, so a workload replays exactly.
"""
