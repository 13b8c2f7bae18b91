"""The Spark session of a Dagster run, as a resource: one per run, never one per asset.

The definitions use the in-process executor, so every step of a run executes in the
run's own process and asks this resource for the session; `utils.lake.spark.get_spark`
returns the active session when there is one (a test's, or the one an earlier step of
the run started), so a run starts at most one JVM.
"""

from __future__ import annotations

import dagster as dg


class SparkResource(dg.ConfigurableResource):
    """`get_session()`: the run's Spark session (the active one, else a new one on `master`)."""

    master: str = "local[*]"
    app_name: str = "lakehouse-dagster"

    def get_session(self):
        from pyspark.sql import SparkSession

        from utils.lake.spark import SparkSettings, get_spark

        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        return get_spark(SparkSettings(master=self.master, app_name=self.app_name))
