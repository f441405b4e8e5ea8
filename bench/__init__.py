"""Benchmarks, reported by `make bench`: throughput and memory, never timed assertions."""
