"""The folder layout of a datamart holding several domains (DESIGN §10).

    <root>/bronze/<domain>/<table>/        Delta tables, partitioned by snapshot_date
    <root>/silver/<domain>/<table>/        (silver/<domain>/_quarantine too)
    <root>/gold/<domain>/<table>/
    <root>/landing/<domain>/<source>/<type>/<UTC ingest timestamp>/   what collectors received
    <root>/_meta/<table>/                  run ledger, ingestion audit, quality, ... (a domain column)
    <root>/_meta/run_records/ _meta/logs/  one JSON and one log per run
    <root>/_models/<domain>/ _reports/<run_id>/

Everything that knows where a table lives asks this class. Table names inside a domain
stay ``<layer>/<name>`` (``silver/attributes``), as the ledger records them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LAYERS = ("bronze", "silver", "gold")


class LayoutError(RuntimeError):
    """The datamart folder was written by an older, single-domain version."""


@dataclass(frozen=True)
class Datamart:
    """One datamart root and, for table paths, the domain being built or read."""

    root: Path
    domain: str | None = None

    def for_domain(self, domain: str) -> Datamart:
        return Datamart(self.root, domain)

    def table(self, layer: str, name: str) -> Path:
        """`<root>/<layer>/<domain>/<name>`."""
        if self.domain is None:
            raise ValueError(f"{layer}/{name}: a domain is needed to locate a table")
        return self.root / layer / self.domain / name

    def path_of(self, qualified: str) -> Path:
        """The folder of a table named ``<layer>/<name>`` (as the ledger names it);
        ``_meta/<name>`` is the datamart's shared metadata table."""
        layer, _, name = qualified.partition("/")
        return self.table(layer, name) if layer in LAYERS else self.root / layer / name

    def landing(self, source: str | None = None) -> Path:
        """`<root>/landing/<domain>[/<source>]`."""
        base = self.root / "landing" / (self.domain or "")
        return base / source if source else base

    def meta(self, name: str) -> Path:
        return self.root / "_meta" / name

    @property
    def runs(self) -> Path:
        return self.meta("runs")

    @property
    def logs(self) -> Path:
        return self.meta("logs")

    @property
    def models(self) -> Path:
        return self.root / "_models" / (self.domain or "")

    @property
    def scratch(self) -> Path:
        """Temporary files of a run (deleted when it ends)."""
        return self.root / "_tmp"

    def domains(self) -> list[str]:
        """The domains that have tables in this datamart."""
        found = {p.name for layer in LAYERS for p in (self.root / layer).glob("*") if p.is_dir()}
        return sorted(found)

    def check_layout(self) -> None:
        """Refuse a datamart of the single-domain layout (`<root>/bronze/<table>/_delta_log`)."""
        for layer in LAYERS:
            old = sorted(p.parent.name for p in (self.root / layer).glob("*/_delta_log"))
            if old:
                raise LayoutError(
                    f"{self.root}: {layer}/{old[0]} is a table of the older single-domain layout "
                    f"(now {layer}/<domain>/<table>); rebuild into a new folder with "
                    f"`python main.py --datamart NEW_DIR`, or delete {self.root} and run `python main.py`"
                )
