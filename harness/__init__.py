"""The K2 acceptance suite's library: stack drivers, workload, faults, probes, checks, waits."""
