"""The energy forecast in production: what the online store holds for each building and
which registered model the serving API answers ``POST /predict/energy`` with.

A domain whose gold is its own builder's (``gold.builder``) has no ``feature_store``;
:mod:`utils.serve.online_store` and :mod:`utils.serve.champion` look for a module
``serving`` beside the builder and use it when present. This one says:

- the online rows: per building, its latest row of gold/energy/building_days as of a day
  (the same as-of function that builds training sets,
  :func:`utils.ml.feature_store.latest_arrow`), turned into the model's inputs by
  :func:`.forecast.design`, the very function that builds the training matrix. Every input
  is known at 00:00 of the row's day (the forecast's issue time), so a served row forecasts
  the use of its ``snapshot_date``;
- the model: ``energy_next_day_kwh`` under the alias ``champion``, a regressor: its score
  is the forecast in kWh, without a label or a threshold.

    from utils.domains.energy import serving
    serving.online_rows("datamart", "2024-12-31")   # building_id, snapshot_date, the inputs
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from . import forecast
from .exploitation import DOMAIN
from .train import MODEL_NAME, TABLE

__all__ = ["ENTITY", "INPUTS", "MODEL_NAME", "TABLE", "online_rows"]

ENTITY = "building_id"
#: the columns of building_days the model's inputs are made of
INPUTS = [*forecast.NUMERIC, *forecast.FLAGS, *forecast.CATEGORIES]


def online_rows(datamart: str | Path, as_of: Any, *, version: int | None = None) -> pa.Table:
    """Per building, its latest building_days row with ``snapshot_date`` <= `as_of` at
    Delta `version` (default the latest), as the forecast's inputs: ``building_id``,
    ``snapshot_date``, then the columns of :func:`.forecast.design` in its order."""
    from utils.ml.feature_store import latest_arrow

    latest = latest_arrow(DOMAIN, as_of, datamart=datamart, features=INPUTS, version=version, entity=ENTITY,
                          table=TABLE).to_pandas()
    inputs = forecast.design(latest)
    keys = latest[[ENTITY, "snapshot_date"]]
    return pa.Table.from_pandas(keys.join(inputs), preserve_index=False)
