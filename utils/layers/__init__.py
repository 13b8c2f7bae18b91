"""The medallion layers: bronze (every raw record as text), silver (typed, cleaned,
checked, quarantine), gold (point-in-time features and labels, leakage guards), and the
build that runs them in order. May import utils.lake, utils.ingest, utils.quality."""
