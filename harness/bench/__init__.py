"""The benchmark (`python -m harness bench`): how fast the reference platform is, on this machine.

  ramp.py         pipeline throughput and exchange->API latency at rising rates
  api_latency.py  query latency of the API over a table holding 1,000,000 synthetic trades
  commit_cost.py  milliseconds per Iceberg commit against batch size, through the consumer's writer
  report.py       bench.json, the PNG plot, the printed table and the pass/fail of the targets
  run.py          the bench stack (its own directory and ports) and the order of the phases

Unlike the acceptance suite, parts of the bench import the `k2` package: they benchmark the
platform's own components (its table schema, its writer), not the contract.
"""
