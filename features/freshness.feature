@needs-simulator
Feature: Freshness
  As a trader who reads the market through the K2 platform
  We want every trade served within seconds of the exchange trading it, at the loads the platform is sized for
  So that what we query is the market as it is, not as it was

  Each trade is timed at every stage it passes: traded on the exchange, written to the message
  log, committed to the table, first served by the query API. The report shows the latency of
  each stage and end to end as percentiles, with plots, for every load.

  Background:
    Given the platform is running within 120 seconds

  Scenario Outline: At <rate> trades per second every trade is served within the SLA and the data stays fresh
    When the exchange trades BTCUSDT, ETHUSDT and BNBUSDT for 10 seconds at <rate> trades per second in total
    Then within 30 seconds of the last trade, every trade is served exactly once
    And the end-to-end latency of every trade is at most 30 seconds
    And the p99 end-to-end latency is at most <p99> seconds
    And while the trades flowed, the newest trade served was never older than <fresh> seconds
    And the served trade ids have no gaps

    # The plan asks for 30 s. The p99 column is the tail every run holds, on the local stack and
    # under Docker Compose, on every machine we measured; our own target of 1 second is judged
    # from each run's figures in the success criteria report (docs/benchmarks.md).
    Examples: the loads of the plan
      | rate | fresh | p99 |
      | 10   | 5     | 2.0 |
      | 50   | 5     | 2.0 |
      | 100  | 5     | 2.0 |

    @slow
    Examples: ten times the plan's highest load
      | rate | fresh | p99 |
      | 1000 | 10    | 5.0 |
