#!/bin/bash
# First start on an empty volume: a cluster whose superuser is $POSTGRES_USER with password
# authentication, and the two databases (single-user mode: no server is listening meanwhile, so
# no client can see a half-made cluster). Then the server, with the local stack's settings.
set -euo pipefail
: "${POSTGRES_USER:?set POSTGRES_USER}" "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  rm -rf "${PGDATA:?}"/*  # what an interrupted first start left
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 > /dev/null
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  postgres --single -D "$PGDATA" -j postgres < /opt/k2-postgres/init-databases.sql > /dev/null
  echo "[k2-postgres] cluster made with databases registry and catalog"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp \
  -c max_connections=200 -c shared_buffers=64MB -c fsync=on
