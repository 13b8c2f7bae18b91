"""Ingestion: the landing zone, collectors for files and REST APIs, raw record readers,
the demo API server. May import utils.lake; never utils.layers or above."""
