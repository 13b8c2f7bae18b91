"""Orchestration with Dagster: every domain's tables as partitioned assets (DESIGN §14).

`defs` (a `dagster.Definitions`) is generated from conf/*.yaml when this package is
imported, with the settings of the environment (utils.orchestrate.settings). Start the
UI with

    python -m utils.orchestrate dev        # DAGSTER_HOME=.dagster, 127.0.0.1:3000
    dagster dev -m utils.orchestrate       # the same, with your own DAGSTER_HOME

The assets call the same functions as main.py (utils.layers.pipeline.run_pipeline,
utils.ingest.collect, `python main.py train`); nothing here builds a table itself.
May import lake, ingest, layers, quality, ml and cli; nothing imports it.
"""

from __future__ import annotations

from utils.orchestrate.definitions import build_definitions
from utils.orchestrate.settings import Settings, from_environment

__all__ = ["Settings", "build_definitions", "defs"]

defs = build_definitions(from_environment())
