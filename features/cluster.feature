@cluster @needs-simulator @needs-faults
Feature: A clustered platform: three brokers and two consumers
  As the team that owns the K2 market-data platform
  We want trades to survive what only a cluster of brokers and consumers can do to them
  So that losing a broker or a consumer in production loses and repeats nothing

  Background:
    Given the clustered platform is running within 300 seconds

  Scenario: The broker that leads the trades' partitions crashes mid-stream: leadership moves and nothing is lost or repeated
    When the exchange trades 1500 BTCUSDT, 1500 ETHUSDT and 1500 BNBUSDT at 150 trades per second each
    And the broker that leads most of the trades' partitions crashes mid-stream
    Then within 30 seconds every partition it led has a new leader
    And within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And once the crashed broker is back, every partition of the trades is on three brokers in sync again

  Scenario: The broker that leads the trades' partitions is cut off from the other two mid-stream and rejoins: nothing is lost or repeated
    When the exchange trades 1500 BTCUSDT, 1500 ETHUSDT and 1500 BNBUSDT at 150 trades per second each
    And the broker that leads most of the trades' partitions is cut off from the other two mid-stream
    Then within 30 seconds every partition it led has a new leader
    When the network between the brokers recovers
    Then within 60 seconds every partition of the trades is on three brokers in sync again
    And within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

  Scenario: One of the two consumers crashes mid-stream: the other takes its partitions, and it takes its share back when it rejoins
    Given the two consumers share the trades' partitions within 60 seconds
    When the exchange trades 5000 BTCUSDT, 5000 ETHUSDT and 5000 BNBUSDT at 50 trades per second each
    And the first consumer crashes mid-stream and stays down
    Then within 90 seconds the second consumer owns every partition of the trades
    When the first consumer starts again
    Then within 60 seconds the two consumers share the trades' partitions again
    And within 90 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

  Scenario: Both consumers commit side by side for a minute at 1,000 trades per second: no commit is lost to a race and no batch is written twice
    Given the two consumers share the trades' partitions within 60 seconds
    When the exchange trades 20000 BTCUSDT, 20000 ETHUSDT and 20000 BNBUSDT at 333 trades per second each
    Then within 180 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And both consumers committed meanwhile, and the commit conflicts they met are reported
