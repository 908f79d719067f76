"""Benchmarks behind `make bench` (`python -m schoolcx.sandbox.bench`, module `suite`): extraction
throughput, where its time goes and memory (`extract`), the raw writer against a plain COPY
(`load`), dbt full and nightly builds on a synthetic school year (`dbt`); each measure beside
its ceiling or floor, with its aim (`measures`), rendered into docs/benchmarks.md (`docs`)."""
