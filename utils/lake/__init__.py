"""The ground everything stands on: configuration, Spark session, Delta table I/O, run
ledger, paths, logging setup, the personal-data key. Imports nothing else of utils."""
