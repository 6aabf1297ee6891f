-- Run once, in single-user mode, when the cluster is first made (entrypoint.sh): the schema
-- registry's storage and the Iceberg catalog's database, as the local stack makes them
-- (harness/stack/services/postgres.py). One statement per -j block, separated by blank lines.
CREATE DATABASE registry;

CREATE DATABASE catalog;
