# syntax=docker/dockerfile:1
# The Iceberg REST catalog of the compose stack: Apache Iceberg's REST fixture, plus the
# PostgreSQL JDBC driver it does not ship, so that its JdbcCatalog keeps the catalog in postgres
# (as K2's compose does) instead of an in-memory SQLite that forgets every table on restart.

# The driver from Maven Central through Maven itself, checked against the digest it had when pinned.
FROM maven:3.9.11-eclipse-temurin-17 AS jdbc-driver
RUN mvn -B -q --strict-checksums dependency:copy -Dartifact=org.postgresql:postgresql:42.7.8 -DoutputDirectory=/drivers \
    && echo "2a32a9dcbc42d67a50ad3a0de5efd102c8d2be46720045f2cbd6689f160ab7c7  /drivers/postgresql-42.7.8.jar" \
       | sha256sum -c -

FROM apache/iceberg-rest-fixture:1.10.0
COPY --from=jdbc-driver --chown=iceberg:iceberg /drivers/postgresql-42.7.8.jar /usr/lib/iceberg-rest/postgresql.jar

# -jar would ignore the driver: name the classpath and the fixture's main class instead. The heap
# is half the container's memory limit: the rest is for the JVM itself, the AWS SDK and Jetty.
CMD ["java", "-XX:MaxRAMPercentage=50", "-XX:+ExitOnOutOfMemoryError", \
     "-cp", "/usr/lib/iceberg-rest/iceberg-rest-adapter.jar:/usr/lib/iceberg-rest/postgresql.jar", \
     "org.apache.iceberg.rest.RESTCatalogServer"]
