Feature: Pipeline
  As the team that owns the K2 market-data platform
  We want every trade the exchange sends to reach the message log, the table and the query API
  exactly once and unchanged
  So that what traders query is exactly what the exchange traded

  Background:
    Given the platform is running within 120 seconds

  @needs-simulator
  Scenario: Trades of several symbols flow to the query API exactly once
    When the exchange trades 300 BTCUSDT, 200 ETHUSDT and 100 BNBUSDT at 200 trades per second each
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

  @needs-simulator
  Scenario: Every served trade is what the exchange sent
    When the exchange trades 200 BTCUSDT at 400 trades per second
    Then within 60 seconds every served trade equals what the exchange sent, to the last decimal and microsecond, whatever the page size it is read with

  @needs-simulator
  Scenario: The message log carries only registered trade records
    When the exchange trades 50 ETHUSDT at 200 trades per second
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And every message in the message log names a schema the registry knows
    And each schema the messages name, and the registry's latest, is the contract's trade record, field by field
    And the registry keeps trade schemas backward compatible

  @needs-simulator
  Scenario: The query API's answers match its published description
    When the exchange trades 50 BTCUSDT at 200 trades per second
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And every answer of the query API, good or bad, matches the API's own published description

  Scenario: The registry, the table and the query API hold the contract's trade schema
    Then the registry would accept a trade schema that adds an optional field
    And the registry would refuse a trade schema that adds a required field
    And the registry's latest trade schema is the contract's record, field by field
    And the trade table has exactly the contract's columns, types and required fields, in order
    And the query API publishes the contract's trade record, field by field

  @observes-exchange
  Scenario: The trades an exchange makes on its own over a window reach the query API exactly once, as it sent them
    When the suite watches the exchange's own trades of every symbol for 20 seconds
    Then within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it

  @needs-simulator
  Scenario: Hostile exchange frames are set aside or deduplicated, kind by kind, while the flow continues
    When the exchange trades 300 BNBUSDT at 200 trades per second, with 3 of each of these frames in between
      | frame                                                   | outcome     |
      | text that is not JSON                                   | dead-letter |
      | JSON cut off in the middle                              | dead-letter |
      | bytes that are not UTF-8 text                           | dead-letter |
      | a frame of 4 MB                                         | dead-letter |
      | a trade without its id, price or quantity               | dead-letter |
      | a field of the wrong type, like a word for a trade id   | dead-letter |
      | a price that is not a number or too large               | dead-letter |
      | a price or quantity of zero or less                     | dead-letter |
      | a price or quantity with more than 8 decimals           | dead-letter |
      | a price or quantity of NaN or Infinity                  | dead-letter |
      | an event that is not a trade                            | dead-letter |
      | a trade of a symbol nobody subscribed to                | dead-letter |
      | a futures-style trade, with an order type and no best-match flag | dead-letter |
      | an earlier trade again, its id going backwards          | deduplicate |
      | the latest trade again, a duplicate id                  | deduplicate |
    Then within 30 seconds each of those frames is dead-lettered with a reason naming its problem, or deduplicated, as listed
    And the ingest service kept running on the same connection throughout
    And within 60 seconds every trade is in the message log, the table and the query API exactly once, as the exchange sent it
    And nothing but those trades reached the message log

  Scenario Outline: The query API guards its data
    When a client asks for trades <how>
    Then the query API answers <status>

    Examples:
      | how                                      | status |
      | without an API key                       | 401    |
      | with a wrong API key                     | 403    |
      | with a limit of 0                        | 422    |
      | with a limit of 10001                    | 422    |
      | with a malformed start time              | 422    |
      | with an end time before its start time   | 422    |
      | with a valid key and limit               | 200    |
