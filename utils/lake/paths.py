"""The project root, resolved once from this file (never from the current directory)."""

from __future__ import annotations

from pathlib import Path

#: The checkout: main.py, conf/, data/, utils/ live here.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = PROJECT_ROOT / "conf"
DATA_DIR = PROJECT_ROOT / "data"


def portable_path(path: str | Path | None, root: Path = PROJECT_ROOT) -> str:
    """`path` as a committed artefact (deck, report, docs) may show it: relative to the
    project `root` when inside it ("data", "." for the root), else "…/<folder name>"; a
    relative path as given; "" for none. Never absolute, so no artefact names the
    machine it ran on."""
    if path is None or str(path) == "":
        return ""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(Path(root).resolve()).as_posix() or "."
    except ValueError:
        return f"…/{p.name}" if p.name else "…"
