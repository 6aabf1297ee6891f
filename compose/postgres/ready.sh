#!/bin/bash
# Ready: `select 1` over TCP with the password, on both databases the stack needs.
for db in registry catalog; do
  got=$(PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d "$db" -tAc 'select 1' 2>&1)
  if [ "$got" != 1 ]; then echo "select 1 on $db: ${got:0:200}"; exit 1; fi
done
echo "select 1 ok on registry and catalog"
