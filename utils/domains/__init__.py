"""Domains: one sub-package each, with its sample-data generator and the pure functions
its YAML cannot say."""
