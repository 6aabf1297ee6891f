@needs-simulator
Feature: The real exchange's behaviour
  As the team that owns the K2 market-data platform
  We want the ingest to cope with what the real exchange does besides sending clean trades
  So that a limit of the exchange's own never loses a trade silently

  Background:
    Given the platform is running within 120 seconds

  Scenario: The exchange can no longer serve part of a gap: what it can serve arrives exactly once, and the rest is reported
    Given the exchange's trade history keeps only the newest 100 trades of each symbol
    When the exchange trades 20 ETHUSDT at 100 trades per second
    And the exchange's feed stalls while it trades 300 ETHUSDT at 300 trades per second, then drops the connection
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And the ingest reports the 200 trades it could not fill, as one range of ids

  Scenario: The exchange closes connections at their lifetime, and no trade is lost or repeated across the reconnects
    Given the exchange closes every connection after 2 seconds
    When the exchange trades 600 BTCUSDT at 100 trades per second
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And the ingest connected to the exchange at least 2 more times meanwhile

  Scenario: The exchange rate-limits its trade history while the ingest reconnects: live trades keep flowing, and the gap is filled exactly once when the limit lifts
    Given the exchange refuses its trade history as too many requests for the next 12 seconds, asking to wait 2 seconds between tries
    When the exchange trades 20 BNBUSDT at 100 trades per second
    And the exchange's feed stalls while it trades 200 BNBUSDT at 200 trades per second, then drops the connection
    And once the ingest is connected again, the exchange goes on to trade 200 BNBUSDT live at 50 trades per second
    Then each of those live trades reaches the query API within 5 seconds, before the exchange serves its trade history again
    And within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And the exchange never had to ban the ingest for asking too often
