"""Benchmarks for the portal: `make bench` runs every `bench/bench_*.py` from the repo root."""

from __future__ import annotations
