#!/bin/bash
# Format the data volume once (a new cluster id each new volume), then run the broker in the
# foreground as PID 1's only child, so `docker stop` reaches it.
set -euo pipefail
config=/tmp/server.properties
sed "s/@HOST_PORT@/${K2_KAFKA_HOST_PORT:-19092}/" /opt/kafka/server.properties > "$config"
classpath='/opt/kafka/lib/*'
logging=-Dlog4j2.configurationFile=/opt/kafka/log4j2.properties
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  cluster_id=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="))')
  java -Xmx128m "$logging" -cp "$classpath" kafka.tools.StorageTool format \
    "--cluster-id=$cluster_id" --config "$config"
fi
# shellcheck disable=SC2086  # KAFKA_HEAP_OPTS holds several options
exec java ${KAFKA_HEAP_OPTS:--Xmx512m -Xms512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
  -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true "$logging" -cp "$classpath" kafka.Kafka "$config"
