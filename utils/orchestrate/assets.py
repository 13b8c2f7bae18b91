"""The assets of one domain, generated from its configuration (conf/<domain>.yaml).

  <domain>/landing/<source>   one per source: a collection round of that source
                              (`utils.ingest.collect.collect_run`, as `python main.py
                              collect`), retried with exponential back-off
  <domain>/bronze/<source>    one per source  \\
  <domain>/silver/<table>     one per table    } partitioned on snapshot_date; each layer is
  <domain>/gold/<table>       one per table   /  one step that runs `run_pipeline` for the
                              selected tables and the run's months, as `python main.py
                              --layers L --start M --end M` does
  <domain>/model/<name>       classifier, recommenders or forecast: `python main.py train --domain D`

A backfill of several months runs as one run over the whole range (single-run backfill
policy), the same as `python main.py --start FIRST --end LAST`: fitted statistics and
uniqueness see the months together. Nothing here builds a table itself.
"""

# no `from __future__ import annotations`: Dagster reads the context and resource
# annotations of the decorated functions at definition time
import datetime as dt
import logging
from pathlib import Path

import dagster as dg

from utils.lake.config import DomainConfig
from utils.orchestrate.checks import asset_key, failed_check_results, silver_check_results, silver_check_specs
from utils.orchestrate.resources import SparkResource
from utils.orchestrate.settings import Settings

logger = logging.getLogger(__name__)

#: tables of each layer are materialised together in one step per run (a subset when
#: some are selected), the way the pipeline builds a layer
LAYERS = ("bronze", "silver", "gold")
DEFAULT_FIRST_SNAPSHOT = dt.date(2023, 1, 1)


# ----------------------------------------------------------------------------- partitions
def cadence(config: DomainConfig) -> str:
    """'monthly' or 'daily': gold snapshots are monthly (month ends, or the month's rows),
    so a domain with gold is monthly; a domain without gold whose sources all keep the
    day of their dates is daily."""
    if config.gold is None and config.sources and all(
            getattr(s, "snapshot_grain", "day") == "day" for s in config.sources.values()):
        return "daily"
    return "monthly"


def first_snapshot(config: DomainConfig) -> dt.date:
    """The first partition: the earliest date the configuration names (fit windows, the
    gold population's start), else 2023-01-01."""
    dates = [dt.date.fromisoformat(str(t.fit_window[0])[:10]) for t in config.silver.values() if t.fit_window]
    population_start = getattr(config.gold, "population_start", None) if config.gold is not None else None
    if population_start:
        dates.append(dt.date.fromisoformat(str(population_start)[:10]))
    return min(dates, default=DEFAULT_FIRST_SNAPSHOT)


def partitions_of(config: DomainConfig) -> dg.TimeWindowPartitionsDefinition:
    """snapshot_date partitions of the domain's bronze, silver and gold assets."""
    first = first_snapshot(config)
    if cadence(config) == "daily":
        return dg.DailyPartitionsDefinition(start_date=first.isoformat())
    return dg.MonthlyPartitionsDefinition(start_date=first.replace(day=1).isoformat())


def run_window(context) -> tuple[dt.date | None, dt.date | None]:
    """The snapshot dates a run covers: [first day, last day] of its partitions (one
    partition, or a range for a single-run backfill); (None, None) when unpartitioned."""
    if not context.has_partition_key_range and not context.has_partition_key:
        return None, None
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def data_root_of(settings: Settings, domain: str) -> Path:
    """LAKEHOUSE_DATA_ROOT, else the domain's default folder (as main.py), whose sample
    data is generated on first use."""
    if settings.data_root is not None:
        return Path(settings.data_root)
    from utils.cli import default_data_root, sample_maker

    root = default_data_root(domain)
    maker = sample_maker(domain)
    if maker is not None and maker(root):
        logger.info("%s: generated the sample data in %s", domain, root)
    return root.resolve()


# ----------------------------------------------------------------------------- assets
def landing_assets(config: DomainConfig, settings: Settings) -> list[dg.AssetsDefinition]:
    """One asset per source: a collection round of that source into landing."""
    retry = dg.RetryPolicy(max_retries=settings.collect_retries, delay=settings.collect_retry_delay,
                           backoff=dg.Backoff.EXPONENTIAL)
    return [_landing_asset(config, name, settings, retry) for name in config.sources]


def _landing_asset(config: DomainConfig, name: str, settings: Settings, retry: dg.RetryPolicy):
    source = config.sources[name]
    kind = "api" if getattr(source, "api", None) is not None else "file"

    @dg.asset(key=asset_key(config.domain, "landing", name), group_name=config.domain, retry_policy=retry,
              description=f"Landing zone of {name} ({kind}): {source.description or ''}".strip(),
              kinds={"python"}, tags={"layer": "landing", "source_kind": kind})
    def landing_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from utils.ingest import collect
        from utils.lake.datamart import Datamart
        from utils.layers.run import new_run_id

        record = collect.collect_run(config, data_root=data_root_of(settings, config.domain),
                                     datamart=Datamart(Path(settings.datamart), config.domain),
                                     run_id=new_run_id(), sources=[name])
        files = [i for i in record.inputs if i.source == name]
        context.log.info("%s/%s: run %s landed %d new file(s)", config.domain, name, record.run_id, len(files))
        return dg.MaterializeResult(metadata={"run_id": record.run_id, "new_files": len(files),
                                              "bytes": sum(i.bytes for i in files)})

    return landing_asset


def _layer_specs(config: DomainConfig, layer: str) -> list[dg.AssetSpec]:
    d = config.domain

    def spec(name: str, deps: list[dg.AssetKey], description: str) -> dg.AssetSpec:
        return dg.AssetSpec(asset_key(d, layer, name), deps=deps, group_name=d, description=description,
                            kinds={"spark", "delta"}, tags={"layer": layer})

    if layer == "bronze":
        return [spec(s, [asset_key(d, "landing", s)], f"Every raw row of {s}, as text, with lineage.")
                for s in config.sources]
    if layer == "silver":
        from utils.layers.build_silver import silver_order

        return [spec(t.name, [asset_key(d, "bronze", t.source)]
                     + [asset_key(d, "silver", r) for r in sorted({r.references[0] for r in t.rules if r.references} - {t.name})],
                     t.description or f"silver/{t.name}") for t in silver_order(config)]
    if config.gold_builder is not None:  # the domain's own builder: every table reads all its inputs
        built = config.gold_builder
        every = [asset_key(d, "silver", t) for t in built.silver_tables]
        return [spec(n, every, t.description or f"gold/{n}") for n, t in built.outputs.items()]
    gold = config.gold
    every = [asset_key(d, "silver", t) for t in gold.silver_tables]
    out = []
    for name in gold.table_names:
        sub = gold.tables.get(name) or gold.similarity.get(name)
        deps = every if sub is None else [asset_key(d, "silver", t) for t in sorted(sub.silver_tables)]
        out.append(spec(name, deps, f"gold/{name}"))
    return out


def layer_asset(config: DomainConfig, layer: str, settings: Settings,
                partitions: dg.PartitionsDefinition, hooks: set) -> dg.AssetsDefinition | None:
    """The tables of one layer as one multi-asset (None when the domain has none): a run
    of `run_pipeline` with only that layer, the selected tables' sources and the run's
    partitions."""
    if (layer == "silver" and not config.silver) or (
            layer == "gold" and config.gold is None and config.gold_builder is None):
        return None
    specs = _layer_specs(config, layer)
    check_specs = silver_check_specs(config) if layer == "silver" else []

    @dg.multi_asset(name=f"{config.domain}__{layer}", specs=specs, check_specs=check_specs,
                    partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(),
                    can_subset=layer != "gold", hooks=hooks)
    def build_layer(context: dg.AssetExecutionContext, spark: SparkResource):
        from utils.layers import pipeline
        from utils.quality import results as quality

        start, end = run_window(context)
        names = [k.path[-1] for k in context.selected_asset_keys]
        if layer == "bronze":
            sources = tuple(names)
        elif layer == "silver":
            sources = tuple(sorted({config.silver[n].source for n in names}))
        else:
            sources = None
        options = pipeline.RunOptions(
            data_root=data_root_of(settings, config.domain), datamart=Path(settings.datamart), layers=(layer,),
            start=start, end=end, sources=sources, pii_key=settings.pii_key,
            overrides=tuple(settings.overrides.get(config.domain, ())))
        context.log.info("run %s: %s %s of %s..%s (%s)", options.run_id, config.domain, layer, start, end,
                         ", ".join(names))
        selected_checks = set(context.selected_asset_check_keys)
        try:
            record = pipeline.run_pipeline(config, options, spark.get_session, collect_first=False)
        except (quality.QualityError, quality.AccountingError) as exc:
            yield from failed_check_results(config, exc, selected_checks)
            raise
        outputs = {o.table: o for o in record.outputs}
        for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
            out = outputs.get(f"{layer}/{key.path[-1]}")
            metadata = {"run_id": record.run_id}
            if out is not None:
                metadata |= {"status": out.status, "rows_written": out.rows_written,
                             "delta_version": out.version if out.version is not None else -1}
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)
        if layer == "silver":
            from utils.lake.datamart import Datamart

            yield from silver_check_results(config, Datamart(Path(settings.datamart), config.domain),
                                            [n for n in names], selected_checks, start, end)

    return build_layer


def model_asset(config: DomainConfig, settings: Settings, hooks: set) -> dg.AssetsDefinition | None:
    """The domain's models, trained as `python main.py train --domain D` (classifier with
    its baseline, the recommenders, or the model a builder's ``serving`` module names:
    energy's next-day forecast), tracked in the datamart's MLflow store; None for a domain
    without any."""
    gold = config.gold
    if gold is None:
        from utils.serve.online_store import serving_module

        if config.gold_builder is None or serving_module(config.domain) is None:
            return None
        name, deps = "forecast", [asset_key(config.domain, "gold", t) for t in config.gold_builder.table_names]
    elif not gold.labels:
        return None
    else:
        name = "recommenders" if gold.recommend is not None else "classifier"
        deps = [asset_key(config.domain, "gold", t) for t in gold.table_names]

    @dg.asset(key=asset_key(config.domain, "model", name), deps=deps, group_name=config.domain, hooks=hooks,
              kinds={"scikitlearn", "mlflow"}, tags={"layer": "model"},
              description=f"The {name} of {config.domain}, trained and evaluated out of time on the gold stores.")
    def train_models(context: dg.AssetExecutionContext, spark: SparkResource) -> dg.MaterializeResult:
        from utils.cli import main

        if gold is not None and gold.recommend is not None:
            spark.get_session()  # the recommenders read gold with the run's session
        argv = ["train", "--domain", config.domain, "--datamart", str(settings.datamart)]
        code = main(argv)
        if code != 0:
            raise dg.Failure(f"python main.py {' '.join(argv)} exited with {code}")
        return dg.MaterializeResult(metadata={"command": f"python main.py {' '.join(argv)}"})

    return train_models
