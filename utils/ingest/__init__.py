"""Ingestion: the landing zone (landing), collectors for files and REST APIs (collect,
rest), the demo API server (demo_api), raw record readers of every format (readers,
json_values). May import utils.lake; never utils.layers or above."""
