"""Where the Dagster definitions find the datamart, the data and the domain configs.

Read once, from the environment, by `utils.orchestrate` (the module `dagster dev -m
utils.orchestrate` loads); tests build their own `Settings` and call
`utils.orchestrate.definitions.build_definitions` with it.

  LAKEHOUSE_DATAMART     the datamart folder (default: <project>/datamart, as main.py)
  LAKEHOUSE_DATA_ROOT    one folder holding the source files of every domain built
                         (default: each domain's own, as main.py: data/<domain>/ or data/)
  LAKEHOUSE_SPARK_MASTER the Spark master of the runs (default: local[*])
  LAKEHOUSE_PII_KEY      the personal-data key, as main.py
  DAGSTER_HOME           Dagster's instance folder (default: <project>/.dagster, set by
                         `python -m utils.orchestrate` and utils.orchestrate.server)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from utils.lake.paths import PROJECT_ROOT
from utils.lake.pii import ENV_VAR

DEFAULT_DAGSTER_HOME = PROJECT_ROOT / ".dagster"


@dataclass(frozen=True)
class Settings:
    """What the definitions are generated from and run against."""

    datamart: Path = PROJECT_ROOT / "datamart"
    conf_dir: Path = PROJECT_ROOT / "conf"
    data_root: Path | None = None  # None: each domain's default, as main.py
    domains: tuple[str, ...] | None = None  # None: every conf/*.yaml
    master: str = "local[*]"
    #: collectors: attempts after the first, first delay in seconds (doubled each time)
    collect_retries: int = 3
    collect_retry_delay: float = 10.0
    #: --set KEY=VALUE overrides per domain, as main.py --set
    overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)
    collect_cron: str = "0 * * * *"  # the collectors' schedule: hourly
    pii_key: bytes | None = field(default=None, repr=False)  # LAKEHOUSE_PII_KEY, as main.py

    def domain_names(self) -> list[str]:
        """The domains to orchestrate: `domains`, else every YAML file of `conf_dir`."""
        if self.domains is not None:
            return list(self.domains)
        return sorted(p.stem for p in self.conf_dir.glob("*.yaml"))

    def config_file(self, domain: str) -> Path:
        return self.conf_dir / f"{domain}.yaml"


def from_environment(env: dict[str, str] | None = None) -> Settings:
    """Settings from LAKEHOUSE_DATAMART, LAKEHOUSE_DATA_ROOT, LAKEHOUSE_SPARK_MASTER."""
    env = dict(os.environ if env is None else env)
    values: dict = {}
    if env.get("LAKEHOUSE_DATAMART"):
        values["datamart"] = Path(env["LAKEHOUSE_DATAMART"]).resolve()
    if env.get("LAKEHOUSE_DATA_ROOT"):
        values["data_root"] = Path(env["LAKEHOUSE_DATA_ROOT"]).resolve()
    if env.get(ENV_VAR):
        values["pii_key"] = env[ENV_VAR].encode("utf-8")
    if env.get("LAKEHOUSE_SPARK_MASTER"):
        values["master"] = env["LAKEHOUSE_SPARK_MASTER"]
    return Settings(**values)
