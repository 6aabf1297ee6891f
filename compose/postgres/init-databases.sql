-- Run once, when the postgres volume is first initialised: the schema registry's storage and the
-- Iceberg catalog's database (the local stack creates the same two in harness/stack/services/postgres.py).
CREATE DATABASE registry;
CREATE DATABASE catalog;
