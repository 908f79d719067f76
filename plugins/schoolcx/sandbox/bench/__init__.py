"""Benchmarks behind `make bench`: extraction throughput and memory (`extract`), dbt full and
nightly builds on a synthetic school year (`dbt`)."""
