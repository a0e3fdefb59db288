"""Benchmarks run by `make bench`: checkout throughput and page speed on PostgreSQL."""
