Feature: Stack health
  As the team that runs the K2 market-data platform
  We want every service of the stack to start in dependency order and report its health truthfully
  So that no test run and no deployment starts on a half-working stack

  Scenario: The infrastructure starts and every service is ready
    Given the infrastructure is started within 90 seconds
    Then these services are ready, each answering a real request:
      | service         | request it answers                 |
      | postgres        | a database query                   |
      | object-store    | an authenticated bucket listing    |
      | kafka           | a cluster metadata request         |
      | schema-registry | a listing of its subjects          |
    And the schema registry became ready only after the database that stores its schemas
    And the object store holds the warehouse bucket
    And the table catalog holds the market data namespace

  Scenario: A stopped dependency shows in the health of the services that need it, and they recover
    Given the platform is running within 120 seconds
    When the object store stops
    Then within 15 seconds the query API reports itself unhealthy and not ready, while still alive
    When the object store starts again
    Then within 30 seconds the query API reports itself healthy and ready
