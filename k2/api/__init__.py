"""The query API: FastAPI over the Iceberg trades table (K2_TABLE) (CONTRACT.md §6).

Run it with `python -m k2.api`; settings come from the environment (see k2/api/settings.py).
"""
