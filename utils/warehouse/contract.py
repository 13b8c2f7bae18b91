"""Table contracts of a domain's warehouse: what each silver and gold table holds.

A contract joins two things: the Delta table's own schema (column names, order and
types, read from its log with delta-rs; nothing else decides a type) and the domain's
YAML (table and column descriptions, feature descriptions, keys). It is what the DDL
(:mod:`utils.warehouse.ddl`), the DuckDB engine and the PostgreSQL export share.

Keys:
  gold/feature_store   PRIMARY KEY (entity, snapshot_date): one row per entity and date
  gold/label_store     PRIMARY KEY of its label kind: dpd_at_mob (loan_id, label_def),
                       no_event (entity, feature_snapshot_date, label_def); none when
                       the store mixes kinds (their key columns differ)
  silver/<table>       UNIQUE (the columns of its first `unique` rule of severity drop
                       or fail): silver never keeps two rows with the same key, but a
                       row with a null key part is kept, so it is no primary key

Bronze is left out on purpose: it keeps personal data (e.g. Name) in clear text.
This is the only module of the package that opens Delta tables (read only).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
from deltalake import DeltaTable

from utils.lake.config import DomainConfig, GoldSpec, SilverTable
from utils.lake.datamart import Datamart

logger = logging.getLogger(__name__)

#: The layers the warehouse exposes, in the order their schemas are created.
WAREHOUSE_LAYERS = ("silver", "gold")
QUARANTINE = "_quarantine"

#: Descriptions of the columns every domain's tables share (the YAML describes the rest).
COMMON_COLUMNS = {
    "snapshot_date": "Partition date of the row: the month (its first day) or the day it belongs to",
    "_source_file": "Landed file the row was read from, relative to the datamart",
    "_source_line": "Line of the row in _source_file (CSV, JSON Lines; header = 1) or its 1-based record index",
    "_malformed_record": "Raw text of a record that did not parse (null when it did)",
    "table": "Silver table the rejected row was meant for",
    "rule": "First rule the row failed",
    "reason": "Every rule the row failed, in words",
    "failed_rules": "Names of every rule the row failed",
    "raw_values": "The bronze text of the row, personal data masked",
    "label": "The label: 1 when the outcome of label_def happened, else 0",
    "label_def": "Name of the label definition (gold.labels in the domain YAML)",
    "loan_id": "Loan identifier (customer id and start date)",
    "dpd": "Days past due at the month on book of the label",
    "mob": "Month on book at which the label is observed",
    "feature_snapshot_date": "snapshot_date of the feature_store row the label belongs to (the decision time)",
    "window_start": "First day of the label's observation window",
    "window_end": "Last day of the label's observation window",
}


@dataclass(frozen=True)
class ColumnContract:
    """One column: its name, its Delta type (the log's JSON: a name or a nested object)."""

    name: str
    delta_type: Any
    description: str = ""


@dataclass(frozen=True)
class TableContract:
    """One table of the warehouse: where it is, which version was read, its columns
    in table order, its key (`key_kind` "primary" or "unique") and its description."""

    layer: str
    name: str
    path: Path
    version: int
    columns: tuple[ColumnContract, ...]
    description: str = ""
    key: tuple[str, ...] = ()
    key_kind: str | None = None
    partition_by: tuple[str, ...] = field(default_factory=tuple)

    @property
    def qualified(self) -> str:
        """`<layer>.<name>`, the name in the warehouse (e.g. gold.label_store)."""
        return f"{self.layer}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened (no such domain or tables); one line says why."""


class ExportError(WarehouseError):
    """An export into PostgreSQL failed and was rolled back; the previous one is unchanged."""


# --------------------------------------------------------------------------- Delta (read only)


def table_paths(datamart: Path, domain: str) -> dict[tuple[str, str], Path]:
    """(layer, table) -> folder of every Delta table of `domain` in the warehouse layers,
    sorted by layer then name. Raises WarehouseError naming the domains there are."""
    root = Datamart(Path(datamart), domain)
    found: dict[tuple[str, str], Path] = {}
    for layer in WAREHOUSE_LAYERS:
        folder = root.root / layer / domain
        for path in sorted(folder.glob("*/_delta_log")):
            found[(layer, path.parent.name)] = path.parent
    if not found:
        known = Datamart(Path(datamart)).domains()
        raise WarehouseError(
            f"no silver or gold tables of domain {domain!r} in {datamart} "
            f"(domains there: {', '.join(known) or 'none; build one with `python main.py`'})")
    return found


def open_dataset(path: Path, version: int | None = None) -> pads.Dataset:
    """The rows of the table at `path` (its current version, or `version`) as an Arrow
    dataset: the files delta-rs lists for that version, nothing read yet.

    Each file is known by its partition values only. delta-rs's own dataset also turns
    the log's min/max statistics into guarantees, and a column the log has no min/max
    for (our writer records none for strings) becomes ``col >= null``, which makes
    pyarrow, and DuckDB pushing a filter down, skip every file: ``WHERE label_def = 'x'``
    would find no row. The Parquet footers' own statistics still prune row groups."""
    table = DeltaTable(str(path), version=version)
    base = table.to_pyarrow_dataset()
    partition_by = list(table.metadata().partition_columns)
    actions = pa.table(table.get_add_actions(flatten=True))
    values = {
        row["path"]: row
        for row in actions.select(["path", *[f"partition.{c}" for c in partition_by]]).to_pylist()
    }
    fragments = []
    for fragment in base.get_fragments():
        row = values.get(fragment.path)
        if row is None:
            raise WarehouseError(f"{path}: file {fragment.path} is not in the table's log")
        guarantee = pads.scalar(True)
        for column in partition_by:
            value = row[f"partition.{column}"]
            field_ = pads.field(column)
            guarantee = guarantee & (field_.is_null() if value is None else field_ == value)
        fragments.append(base.format.make_fragment(fragment.path, base.filesystem, partition_expression=guarantee))
    return pads.FileSystemDataset(fragments, base.schema, base.format, base.filesystem)


def _delta_schema(path: Path) -> tuple[int, list[dict[str, Any]], tuple[str, ...]]:
    """(current version, schema fields as the log's JSON, partition columns)."""
    table = DeltaTable(str(path))
    fields = json.loads(table.schema().to_json())["fields"]
    return table.version(), fields, tuple(table.metadata().partition_columns)


# --------------------------------------------------------------------------- the YAML's part


def _silver_descriptions(table: SilverTable | None) -> dict[str, str]:
    if table is None:
        return {}
    out: dict[str, str] = {}
    for col in table.columns:
        origin = f"from bronze {col.source_column}"
        out[col.name] = f"{col.description} ({origin})" if col.description else f"F{origin[1:]}"
        if col.validated:
            out[col.flag_column] = f"true when the raw {col.source_column} was present but unusable ({col.name} null)"
    return out


def _silver_key(table: SilverTable | None) -> tuple[str, ...]:
    for rule in table.rules if table is not None else ():
        if rule.unique and rule.severity in ("drop", "fail"):
            return tuple(rule.unique)
    return ()


def _gold_descriptions(gold: GoldSpec) -> dict[str, str]:
    out = {gold.entity: f"Entity key of the population ({gold.entity})"}
    out.update({f.name: f.description for f in gold.features})
    for source in gold.sources:
        out[f"has_{source}"] = f"1 when any {source} row was usable at snapshot_date, else 0"
        out[f"_asof_{source}"] = f"Latest {source} date this row read (point-in-time lineage; never after its cutoff)"
    return out


def _label_key(gold: GoldSpec) -> tuple[str, ...]:
    kinds = {getattr(label, "kind", "dpd_at_mob") for label in gold.labels}
    if kinds == {"dpd_at_mob"}:
        return ("loan_id", "label_def")
    if kinds == {"no_event"}:
        return (gold.entity, "feature_snapshot_date", "label_def")
    logger.info("gold/label_store mixes label kinds %s: no primary key in its contract", sorted(kinds))
    return ()


def _gold_table_text(name: str, gold: GoldSpec, key: tuple[str, ...]) -> str:
    if name == "feature_store":
        population = (gold.raw.get("population") or {}).get("description") or ""
        return (f"Point-in-time features, one row per ({gold.entity}, snapshot_date); features read only data "
                f"known at snapshot_date. {population}").strip()
    if name == "label_store":
        labels = "; ".join(f"{lb.name}: {lb.description}" if lb.description else lb.name for lb in gold.labels)
        grain = [k for k in key if k != "label_def"]
        per = grain[0] if len(grain) == 1 else f"({', '.join(grain)})" if grain else "labelled row"
        return f"Labels, one row per {per} and label definition ({labels})"
    return ""


def _yaml_part(layer: str, name: str, config: DomainConfig | None) -> tuple[str, dict[str, str], tuple[str, ...], str | None]:
    """(table description, column descriptions, key, key kind) the YAML gives a table."""
    if config is None:
        return "", {}, (), None
    if layer == "silver":
        if name == QUARANTINE:
            return "Rows rejected by the silver rules, each once, with every reason", {}, (), None
        table = config.silver.get(name)
        key = _silver_key(table)
        return (table.description if table else ""), _silver_descriptions(table), key, "unique" if key else None
    gold = config.gold
    if gold is None:
        return "", {}, (), None
    key: tuple[str, ...] = ()
    if name == "feature_store":
        key = (gold.entity, "snapshot_date")
    elif name == "label_store":
        key = _label_key(gold)
    return _gold_table_text(name, gold, key), _gold_descriptions(gold), key, "primary" if key else None


# --------------------------------------------------------------------------- contracts


def table_contract(layer: str, name: str, path: Path, config: DomainConfig | None) -> TableContract:
    """The contract of one table: Delta schema + the YAML's descriptions and key. A key
    column missing from the table drops the key (logged): the data decides."""
    version, fields, partition_by = _delta_schema(path)
    description, texts, key, key_kind = _yaml_part(layer, name, config)
    columns = tuple(
        ColumnContract(f["name"], f["type"],
                       texts.get(f["name"]) or (f.get("metadata") or {}).get("comment") or COMMON_COLUMNS.get(f["name"], ""))
        for f in fields
    )
    names = {c.name for c in columns}
    if key and not set(key) <= names:
        logger.warning("%s.%s: key %s not all in the table; no key in its contract", layer, name, list(key))
        key, key_kind = (), None
    return TableContract(layer, name, Path(path), version, columns, description, key, key_kind, partition_by)


def domain_contracts(
    datamart: Path, domain: str, config: DomainConfig | None, *, layers: tuple[str, ...] = WAREHOUSE_LAYERS
) -> list[TableContract]:
    """Every silver and gold table of `domain` (those in `layers`) that exists, as a contract."""
    return [
        table_contract(layer, name, path, config)
        for (layer, name), path in table_paths(datamart, domain).items()
        if layer in layers
    ]
