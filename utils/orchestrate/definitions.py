"""`build_definitions(settings)`: the Dagster `Definitions` of every domain in conf/.

Generated from the domain configurations, never written per table (utils.orchestrate.assets
and .checks say what each asset and check is). Every job uses the in-process executor:
the steps of a run share one process and one Spark session (the `spark` resource).
"""

from __future__ import annotations

import logging

import dagster as dg

from utils.lake.config import ConfigError, DomainConfig, load_config
from utils.orchestrate import assets, automation
from utils.orchestrate.resources import SparkResource
from utils.orchestrate.settings import Settings

logger = logging.getLogger(__name__)


def load_domains(settings: Settings) -> list[DomainConfig]:
    """The configurations to orchestrate; a file that does not load is logged and left
    out, so one broken domain does not hide the others from the UI."""
    configs = []
    for domain in settings.domain_names():
        try:
            configs.append(load_config(domain, path=settings.config_file(domain),
                                       overrides=settings.overrides.get(domain, ())))
        except ConfigError as exc:
            logger.error("domain %s left out of the Dagster definitions: %s", domain, exc)
    return configs


def build_definitions(settings: Settings) -> dg.Definitions:
    """Assets, checks, jobs, schedules, sensors and resources of every domain."""
    hook = automation.failure_hook(settings)
    all_assets, checks, jobs, schedules = [], [], [], []
    sensors = [automation.run_failure_notifier(settings)]
    for config in load_domains(settings):
        partitions = assets.partitions_of(config)
        landing = assets.landing_assets(config, settings)
        layers = [a for a in (assets.layer_asset(config, layer, settings, partitions, {hook})
                              for layer in assets.LAYERS) if a is not None]
        model = assets.model_asset(config, settings, {hook})
        all_assets += [*landing, *layers, *([model] if model is not None else [])]
        landing_keys = [a.key for a in landing]
        built_keys = [k for a in layers for k in a.keys]
        domain_jobs = automation.domain_jobs(config, landing_keys, built_keys)
        jobs += domain_jobs
        schedules.append(automation.collect_schedule(config, domain_jobs[0], settings))
        drops = automation.file_drop_sensor(config, domain_jobs[0], settings)
        if drops is not None:
            sensors.append(drops)
        checks += automation.landing_freshness(config, landing_keys, assets.cadence(config))
    if checks:
        sensors.append(automation.freshness_sensor(checks))
    return dg.Definitions(
        assets=all_assets, asset_checks=checks, jobs=jobs, schedules=schedules, sensors=sensors,
        resources={"spark": SparkResource(master=settings.master)}, executor=dg.in_process_executor,
    )
