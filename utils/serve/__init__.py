"""Serving: the online feature store (filled from gold by the as-of function of
utils.ml.feature_store) and what reads it. May import utils.lake and utils.ml; nothing
below imports it."""
