"""The landing zone: what each collector received, byte for byte, never changed after.

    <datamart>/landing/<domain>/<source>/<type>/<UTC ingest timestamp>/
        <file> ...          the bytes as received (a dropped file under its own name,
                            an API response as page-00001.json, page-00002.json, ...)
        manifest.json       source, type, origin, params, status, bytes, sha256 (of each
                            file and of the delivery), records, fetched_at, run_id, cursor

A delivery is written into a hidden sibling folder and renamed into place in one step
(`publish`), so a reader sees a delivery whole or not at all, and a collector that fails
half-way leaves landing as it was. A delivery whose content is already the newest one
landed for the same origin is not stored again.

Which landed files make a source's bronze table (`current_files`): for a file source the
newest delivery of each origin file (a glob of dated drops has one origin per file); for
an API source every delivery when it is incremental (each holds only new records), else
the newest delivery.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
KINDS = ("file", "api")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class LandedFile:
    """One file of a delivery: its name in the delivery folder, where it came from,
    its size and content hash."""

    name: str
    origin: str
    bytes: int
    sha256: str


@dataclass
class Delivery:
    """One collector round for one source (the content of manifest.json)."""

    domain: str
    source: str
    type: str
    origin: str  # the file, glob or URL collected from (no secret)
    run_id: str
    fetched_at: str  # ISO UTC
    files: list[LandedFile] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    records: int | None = None
    cursor: str | None = None  # an API source's incremental cursor after this delivery
    status: str = "landed"
    path: Path | None = None  # the delivery folder (not stored in the manifest)

    @property
    def sha256(self) -> str:
        """Hash of the delivery: of its files' hashes, in order."""
        return hashlib.sha256("".join(f.sha256 for f in self.files).encode()).hexdigest()

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def manifest(self) -> dict:
        body = {k: v for k, v in asdict(self).items() if k != "path"}
        body["sha256"], body["bytes"] = self.sha256, self.bytes
        return body

    @classmethod
    def load(cls, folder: Path) -> Delivery:
        body = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        body.pop("sha256", None), body.pop("bytes", None)
        body["files"] = [LandedFile(**f) for f in body.get("files", [])]
        return cls(**body, path=folder)


def timestamp(moment: dt.datetime | None = None) -> str:
    """A delivery folder name: UTC time to the microsecond, sortable as text."""
    moment = moment or dt.datetime.now(dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def source_dir(landing_root: Path, source: str, kind: str) -> Path:
    """`<landing>/<domain>/<source>/<type>` for a domain's landing root."""
    if kind not in KINDS:
        raise ValueError(f"unknown delivery type {kind!r} (one of {', '.join(KINDS)})")
    return Path(landing_root) / source / kind


def deliveries(landing_root: Path, source: str, kind: str | None = None) -> list[Delivery]:
    """The published deliveries of a source, oldest first (hidden staging folders and
    folders without a manifest are not deliveries)."""
    found = []
    for k in ([kind] if kind else KINDS):
        folder = source_dir(landing_root, source, k)
        if folder.is_dir():
            found += [Delivery.load(p) for p in folder.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file()]
    return sorted(found, key=lambda d: (d.fetched_at, d.path.name))


def latest_by_origin(landing_root: Path, source: str, kind: str = "file") -> dict[str, tuple[Delivery, LandedFile]]:
    """For each origin file of a source, its newest landed version."""
    out: dict[str, tuple[Delivery, LandedFile]] = {}
    for delivery in deliveries(landing_root, source, kind):
        for f in delivery.files:
            out[f.origin] = (delivery, f)
    return out


def current_files(landing_root: Path, source: str, *, kind: str, incremental: bool = False) -> list[tuple[Path, LandedFile]]:
    """The landed files a source's bronze table is made of, in landing order (see the
    module docstring)."""
    if kind == "file":
        latest = latest_by_origin(landing_root, source, "file")
        chosen = sorted(latest.values(), key=lambda pair: (pair[0].fetched_at, pair[1].origin))
        return [(d.path / f.name, f) for d, f in chosen]
    found = deliveries(landing_root, source, "api")
    if not incremental:
        found = found[-1:]
    return [(d.path / f.name, f) for d in found for f in d.files]


class StagedDelivery:
    """A delivery being written: files go into a hidden folder; `publish` renames it
    into place with its manifest, `discard` removes it."""

    def __init__(self, landing_root: Path, delivery: Delivery, moment: dt.datetime | None = None):
        self.delivery = delivery
        self.final = source_dir(landing_root, delivery.source, delivery.type) / timestamp(moment)
        self.tmp = self.final.parent / f".tmp-{self.final.name}-{uuid.uuid4().hex[:6]}"
        self.tmp.mkdir(parents=True)

    def add_bytes(self, name: str, origin: str, data: bytes) -> LandedFile:
        """Write one file of the delivery from bytes in memory (an API page)."""
        target = self._target(name)
        target.write_bytes(data)
        landed = LandedFile(name, origin, len(data), hashlib.sha256(data).hexdigest())
        self.delivery.files.append(landed)
        return landed

    def add_copy(self, name: str, origin: str, source: Path) -> LandedFile:
        """Copy one file in, hashing it on the way (one read of the source)."""
        digest, size = hashlib.sha256(), 0
        target = self._target(name)
        with open(source, "rb") as src, open(target, "wb") as dst:
            for chunk in iter(lambda: src.read(_CHUNK), b""):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        landed = LandedFile(name, origin, size, digest.hexdigest())
        self.delivery.files.append(landed)
        return landed

    def drop(self, landed: LandedFile) -> None:
        """Take a file back out of the delivery (its content is landed already)."""
        (self.tmp / landed.name).unlink()
        self.delivery.files.remove(landed)

    def _target(self, name: str) -> Path:
        target = (self.tmp / name).resolve()
        if self.tmp.resolve() not in target.parents:
            raise ValueError(f"{name!r}: a landed file name must stay inside its delivery folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    @property
    def empty(self) -> bool:
        return not self.delivery.files

    def publish(self) -> Delivery:
        """Write the manifest and rename the folder into place (atomic on one filesystem)."""
        (self.tmp / MANIFEST).write_text(json.dumps(self.delivery.manifest(), indent=2) + "\n", encoding="utf-8")
        os.replace(self.tmp, self.final)
        self.delivery.path = self.final
        logger.info("landing: %s/%s %s delivery %s: %d file(s), %d bytes%s", self.delivery.domain,
                    self.delivery.source, self.delivery.type, self.final.name, len(self.delivery.files),
                    self.delivery.bytes, "" if self.delivery.records is None else f", {self.delivery.records} records")
        return self.delivery

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def discard_all(staged: Iterable[StagedDelivery]) -> None:
    for s in staged:
        s.discard()


def clean_stale(landing_root: Path) -> int:
    """Remove staging folders left by a killed collector; returns how many."""
    stale = list(Path(landing_root).glob("*/*/.tmp-*")) if Path(landing_root).is_dir() else []
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return len(stale)
