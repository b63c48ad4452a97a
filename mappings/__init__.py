"""Mapping files shipped with repzo-sync: working examples, one per connector stream."""
