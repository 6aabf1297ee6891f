@needs-faults
Feature: Recovery
  As the team that runs the K2 market-data platform
  We want the pipeline to lose and duplicate nothing when one of its parts fails and comes back
  So that an outage can delay trades but never drop or repeat them

  Background:
    Given the platform is running behind fault-injecting proxies within 120 seconds

  Scenario Outline: The message broker <how> mid-stream and no trade is lost or duplicated
    When the exchange trades 600 BTCUSDT at 100 trades per second
    And the message broker <how> once the first of them are in the table
    Then within 60 seconds every service of the stack is ready
    And within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

    Examples: a crash
      | how                      |
      | crashes and starts again |

    # The default run restarts the broker gracefully mid-stream in stack_health.feature.
    @slow
    Examples: a graceful restart
      | how                      |
      | restarts                 |

  Scenario: While the schema registry is down, trades keep flowing on the schema the services hold
    When the exchange trades 400 ETHUSDT at 100 trades per second
    And the schema registry stops once the first of them are in the table
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    When the schema registry starts again
    And the exchange trades 100 ETHUSDT at 100 trades per second
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And every message in the message log names a schema the registry knows

  Scenario: The object store is unavailable for a while: the consumer keeps the trades and catches up
    When the object store stops
    And the exchange trades 300 BNBUSDT at 100 trades per second
    Then within 30 seconds the message log holds every trade
    When the object store starts again
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And the table caught up within 30 seconds of the fault's end

  Scenario Outline: The <service> crashes mid-stream and comes back with every trade exactly once
    When the exchange trades 600 <symbol> at 100 trades per second
    And the <service> crashes once the first of them are in the table
    Then within 30 seconds the stack's supervisor has started the <service> again
    And within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

    Examples:
      | service        | symbol  |
      | consumer       | BTCUSDT |
      | ingest service | ETHUSDT |

  Scenario: The network between the platform and the message broker is cut, then heals
    When the exchange trades 600 BNBUSDT at 100 trades per second
    And the link to the message broker is cut once the first of them are in the table
    And the link stays cut until the exchange has sent them all
    And the link to the message broker recovers
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And the table caught up within 30 seconds of the fault's end

  Scenario: The object store answers slowly for a while and the consumer loses nothing
    When the link to the object store is slowed by 100 milliseconds
    And the exchange trades 200 ETHUSDT at 100 trades per second
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    When the link to the object store recovers
    And the exchange trades 100 ETHUSDT at 100 trades per second
    Then within 30 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

  # Compound and aimed faults. A component has a window between telling the part before it that
  # it is done and its work being durable; each scenario holds such a window open (a part down or
  # slow) or crashes the component the instant the first act shows, before the second can follow.
  # The @slow ones run in `make test`, not in the default run (which stays under 5 minutes).
  @window
  Scenario: The consumer crashes while the object store is down, and loses and repeats nothing
    When the object store stops
    And the exchange trades 300 BTCUSDT at 100 trades per second
    Then within 30 seconds the message log holds every trade
    When the consumer crashes
    And the object store starts again
    Then within 30 seconds the stack's supervisor has started the consumer again
    And within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

  @window
  Scenario: The consumer crashes the instant it tells the broker it is done, while the object store is slow
    When the link to the object store is slowed by 150 milliseconds
    And the exchange trades 600 ETHUSDT at 100 trades per second
    And the consumer crashes the instant the consumer group's committed offsets move
    And the link to the object store recovers
    Then within 30 seconds the stack's supervisor has started the consumer again
    And within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

  @window
  Scenario: The consumer's machine fails the instant its trades are in the table, before it can tell the broker
    When the link to the message broker is slowed by 250 milliseconds
    And the exchange trades 600 BNBUSDT at 100 trades per second
    And the consumer crashes with its link to the message broker cut, the instant a new table snapshot appears
    And the link to the message broker recovers
    Then within 30 seconds the stack's supervisor has started the consumer again
    And within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

  @window @slow
  Scenario: The ingest service crashes while the message broker is unreachable
    When the exchange trades 600 BTCUSDT at 100 trades per second
    And the link to the message broker is cut once the first of them are in the table
    And the link stays cut until the exchange has sent them all
    And the ingest service crashes
    And the link to the message broker recovers
    Then within 30 seconds the stack's supervisor has started the ingest service again
    And within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

  @window @slow
  Scenario: The message broker crashes while the consumer's commit is in flight
    When the exchange trades 600 ETHUSDT at 100 trades per second
    And the message broker crashes the instant a new table snapshot appears
    And the message broker starts again
    Then within 60 seconds every service of the stack is ready
    And within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
