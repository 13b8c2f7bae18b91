"""The facts of the energy domain's deck and companion document, gathered from a datamart
without Spark: the latest successful energy build of the ledger, the rows and partitions
of every ``<layer>/energy/<table>`` (from the Delta logs, as the datamart is now), the
rule counts and the row accounting of `_meta/quality` and `_meta/accounting` (through
:func:`gather_quality`), and the reports the exploitation and the two analysis pipelines
write to ``_models/energy/`` (``exploitation.json``, ``forecast.json``,
``profiles.json`` and their plots).

The exploitation zone may come from ``python main.py --domain energy`` or from
``python -m utils.domains.energy.exploitation`` after a bronze and silver build: the
facts read the tables and the reports, not the command that made them."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.lake import delta_io
from utils.lake.datamart import Datamart

from .facts import QUARANTINE, DeckError, QualityFacts, RunFacts
from .gather import gather_quality, gather_run
from .runs import resolve_run, run_options, table_versions

logger = logging.getLogger(__name__)

DOMAIN = "energy"
LAYERS = ("bronze", "silver", "gold")
#: the course's zone of each of our layers
ZONES = {"landing": "landing", "bronze": "formatted", "silver": "trusted", "gold": "exploitation"}
GOLD_TABLES = ("building_matches", "device_days", "building_days")
REPORTS = ("exploitation", "forecast", "profiles")


@dataclass(frozen=True)
class ZoneTable:
    """One Delta table of the energy domain: rows and partitions from its Delta log."""

    layer: str
    name: str
    rows: int
    partitions: int
    first: str | None
    last: str | None


@dataclass(frozen=True)
class EnergyFacts:
    """Everything the energy deck and the companion show; every number is a field here."""

    datamart: Path
    run: RunFacts
    landing: dict[str, int]  # source -> deliveries (files or API pages) the builds read
    tables: tuple[ZoneTable, ...]
    quality: QualityFacts
    exploitation: dict[str, Any] | None
    forecast: dict[str, Any] | None
    profiles: dict[str, Any] | None
    plots: dict[str, Path]  # "forecast" / "profiles" -> PNG, when written

    # the Deck's footer reads these two
    @property
    def title(self) -> str:
        return "Lakehouse for ML: energy"

    def table(self, layer: str, name: str) -> ZoneTable | None:
        return next((t for t in self.tables if t.layer == layer and t.name == name), None)

    def rows(self, layer: str) -> int:
        return sum(t.rows for t in self.tables if t.layer == layer and not t.name.startswith("_"))

    def rule(self, table: str, rule: str) -> int:
        """Rows failed by `rule` of silver/`table` (0 when it never ran)."""
        return sum(r.failed for r in self.quality.rules if r.table == f"silver/{table}" and r.rule == rule)

    @property
    def consumption(self) -> dict[str, Any]:
        return (self.exploitation or {}).get("consumption", {})

    @property
    def matching(self) -> dict[str, Any]:
        return (self.exploitation or {}).get("matching", {})

    @property
    def entity_resolution(self) -> dict[str, Any] | None:
        return (self.exploitation or {}).get("entity_resolution")

    def resolution(self, counted: str = "matches") -> dict[str, Any]:
        """Precision, recall, correct and predicted of the entity resolution against the
        sample's truth, counting the `matches` or the `matches_and_reviews` as links ({}
        without a truth)."""
        return (self.entity_resolution or {}).get(counted) or {}

    @property
    def buildings(self) -> int | None:
        if self.forecast:
            return int(self.forecast["buildings"])
        return self.profiles["buildings"] if self.profiles else None

    @property
    def devices(self) -> int:
        return sum(self.matching.get("best_by_decision", {}).values())


def _zone_table(dm: Datamart, layer: str, name: str) -> ZoneTable | None:
    path = dm.table(layer, name)
    if not delta_io.table_exists(path):
        return None
    parts = delta_io.view(path).partitions()
    dates = sorted(k[-1] for k in parts if k and k[-1] is not None)
    return ZoneTable(layer, name, sum(parts.values()), len(parts) if dates else 0, dates[0] if dates else None,
                     dates[-1] if dates else None)


def gather_tables(dm: Datamart) -> list[ZoneTable]:
    """Every table under bronze/energy, silver/energy and gold/energy, layer by layer."""
    out = []
    for layer in LAYERS:
        folder = dm.root / layer / DOMAIN
        names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        out += [t for t in (_zone_table(dm, layer, name) for name in names) if t is not None]
    return out


def _report(models: Path, name: str) -> dict[str, Any] | None:
    path = models / f"{name}.json"
    if not path.is_file():
        logger.warning("%s is missing: run python -m utils.domains.energy.%s", path, name)
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def gather_energy(datamart: str | Path, run_id: str | None = None) -> EnergyFacts:
    """The facts of the energy domain in `datamart` (its latest successful build, or
    `run_id`). :class:`DeckError` when there is no build or no exploitation zone."""
    root = Path(datamart).resolve()
    row, upto = resolve_run(root, run_id, None if run_id else DOMAIN)
    if row.get("domain") != DOMAIN:
        raise DeckError(f"{root}: run {row['run_id']} built domain {row.get('domain')!r}, not {DOMAIN}")
    run, _ = gather_run(root, row, upto)
    # a run of the exploitation alone records no data root: take the latest build's that read the sources
    data_root = next((str(run_options(r).get("data_root") or "") for r in reversed(upto)
                      if "bronze" in (r.get("layers") or ())), "")
    if data_root and "bronze" not in run.layers:
        run = dataclasses.replace(run, data_root=data_root)
    dm = Datamart(root, DOMAIN)
    tables = gather_tables(dm)
    missing = [t for t in GOLD_TABLES if not any(z.layer == "gold" and z.name == t for z in tables)]
    if missing:
        raise DeckError(f"{root}: no exploitation zone (gold/energy/{missing[0]} is missing); build it with "
                        "python main.py --domain energy (or python -m utils.domains.energy.exploitation)")
    landing: dict[str, int] = {}
    for r in upto:
        mine: dict[str, int] = {}
        for i in r.get("inputs") or []:
            mine[i["source"]] = mine.get(i["source"], 0) + 1
        landing.update(mine)
    quality = gather_quality(dm, [r["run_id"] for r in upto], table_versions(upto).get(QUARANTINE))
    reports = {name: _report(dm.models, name) for name in REPORTS}
    plots = {}
    for name in ("forecast", "profiles"):
        plot = (reports[name] or {}).get("plot")
        if plot and (dm.models / plot).is_file():
            plots[name] = dm.models / plot
    return EnergyFacts(datamart=root, run=run, landing=landing, tables=tuple(tables), quality=quality,
                       exploitation=reports["exploitation"], forecast=reports["forecast"],
                       profiles=reports["profiles"], plots=plots)
