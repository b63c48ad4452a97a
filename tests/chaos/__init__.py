"""Chaos tests: long runs under injected faults and kill -9, skipped unless ``pytest --chaos``."""
