@needs-stack
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

  Scenario: Under load every service stays within its memory budget
    Given the platform is running within 120 seconds
    When the exchange trades 5000 BTCUSDT at 1000 trades per second while the memory of every service is sampled
    Then within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And no service used more memory than its budget

  Scenario: The container engine holds every service to its memory and CPU limits under load
    Given the platform is running within 120 seconds
    And every service runs under memory and CPU limits that its container engine enforces
    When the exchange trades 5000 BTCUSDT at 1000 trades per second while the memory of every service is sampled
    Then within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And the engine held every service to a memory limit equal to its budget and to a CPU limit, killing none

  Scenario Outline: A restarted <service> comes back healthy and no trade is lost
    Given the platform is running within 120 seconds
    And the exchange has traded 200 ETHUSDT, all served within 60 seconds
    When the <service> restarts while the exchange trades 300 ETHUSDT at 100 trades per second
    Then within <budget> seconds every service of the stack is ready
    And within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

    Examples:
      | service        | budget |
      | message broker | 60     |
      | consumer       | 30     |
      | query API      | 30     |

  # The consumer's and the ingest service's crashes, with the data they carry, are in recovery.feature.
  Scenario: A crashed query API is started again by the stack's supervisor and no trade is lost
    Given the platform is running within 120 seconds
    When the query API crashes while the exchange trades 300 BNBUSDT at 100 trades per second
    Then within 30 seconds the stack's supervisor has started the query API again
    And within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

  Scenario: The whole stack stops leaving nothing behind, and starts again with its data
    Given the platform is running within 120 seconds
    And the exchange has traded 300 BNBUSDT, all served within 60 seconds
    When the whole stack stops
    Then within 20 seconds no process of the stack is left and none of its ports is taken
    When the whole stack starts again within 120 seconds
    And the exchange trades 100 BNBUSDT at 100 trades per second
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
